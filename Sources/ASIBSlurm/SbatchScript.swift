/// Rendering of the sbatch script of one job array.
public enum SbatchScript {
    /// Renders `template` for `chunk`, whose tasks serve shards `chunk.offset...` of
    /// `shardCount`. Paths, the endpoint and the hash are written as single-quoted shell words,
    /// so spaces, quotes, `$` and newlines in them reach the worker unchanged.
    public static func render(
        template: SbatchTemplate,
        options: SlurmOptions,
        worker: WorkerInvocation,
        chunk: ArrayChunk,
        shardCount: Int
    ) throws -> String {
        try options.validate()
        try worker.validate()
        let values: [String: String] = [
            "SBATCH_LINES": options.directiveLines.joined(separator: "\n"),
            "SETUP_LINES": options.setupLines.joined(separator: "\n"),
            "WORKER": ShellQuoting.quote(worker.workerPath),
            "ENDPOINT": ShellQuoting.quote(worker.endpoint),
            "PLAN": ShellQuoting.quote(worker.planPath),
            "PLAN_SHA256": ShellQuoting.quote(worker.planSHA256),
            "RUN_KIND": worker.runKind.rawValue,
            "ARRAY_OFFSET": String(chunk.offset),
            "SHARDS": String(shardCount),
        ]
        return template.substitute(values)
    }
}
