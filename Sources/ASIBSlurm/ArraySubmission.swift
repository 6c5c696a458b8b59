import ASIBSupport
import Foundation

/// One submitted job array.
public struct SubmittedArray: Equatable, Sendable {
    public let jobID: Int
    public let chunk: ArrayChunk

    public init(jobID: Int, chunk: ArrayChunk) {
        self.jobID = jobID
        self.chunk = chunk
    }
}

/// The job arrays of workers for a plan of `runCount` runs: split to fit MaxArraySize, one
/// rendered script per array, written to the output folder and submitted with sbatch.
public struct ArraySubmission {
    public let options: SlurmOptions
    public let worker: WorkerInvocation
    public let runCount: Int
    public let maxArraySize: Int
    public let template: SbatchTemplate
    /// Jobs whose successful end every array waits for (`--dependency=afterok:ID:ID`).
    public var dependencies: [Int]

    public init(
        options: SlurmOptions,
        worker: WorkerInvocation,
        runCount: Int,
        maxArraySize: Int,
        template: SbatchTemplate,
        dependencies: [Int] = []
    ) {
        self.options = options
        self.worker = worker
        self.runCount = runCount
        self.maxArraySize = maxArraySize
        self.template = template
        self.dependencies = dependencies
    }

    /// Number of shards, which is also the number of tasks over all arrays.
    public var shardCount: Int {
        options.taskCount(runCount: runCount)
    }

    public func chunks() throws -> [ArrayChunk] {
        guard runCount >= 1 else { throw SlurmError.emptyPlan }
        return try ArrayChunk.split(
            taskCount: shardCount, maxArraySize: maxArraySize, throttle: options.throttle)
    }

    public func script(for chunk: ArrayChunk) throws -> String {
        try SbatchScript.render(
            template: template, options: options, worker: worker, chunk: chunk,
            shardCount: shardCount)
    }

    /// Path of the script file of `chunk` inside the output folder, such as
    /// `array-student-offset4.sbatch`.
    public func scriptURL(for chunk: ArrayChunk) -> URL {
        URL(fileURLWithPath: options.outputFolder)
            .appendingPathComponent("array-\(worker.runKind.rawValue)-offset\(chunk.offset).sbatch")
    }

    /// Returns the sbatch arguments of `chunk`, without `--parsable` and the script path.
    /// `dependencyPlaceholder` stands for job IDs that are not known yet, in `--dry-run` text.
    public func sbatchArguments(for chunk: ArrayChunk, dependencyPlaceholder: String? = nil)
        -> [String]
    {
        var arguments = ["--array=\(chunk.arraySpec)"] + options.outputArguments
        if !dependencies.isEmpty {
            let ids = dependencies.map(String.init).joined(separator: ":")
            arguments.append("--dependency=afterok:\(ids)")
        } else if let dependencyPlaceholder {
            arguments.append("--dependency=afterok:\(dependencyPlaceholder)")
        }
        return arguments
    }

    /// Returns the `--dry-run` text: each script followed by the sbatch command that submits it.
    public func dryRunText(dependencyPlaceholder: String? = nil) throws -> String {
        try chunks().map { chunk in
            let command =
                ["sbatch", "--parsable"]
                + sbatchArguments(for: chunk, dependencyPlaceholder: dependencyPlaceholder)
                + [scriptURL(for: chunk).path]
            return "# \(scriptURL(for: chunk).path)\n" + (try script(for: chunk))
                + "\n# submit with:\n" + ShellQuoting.commandLine(command) + "\n"
        }.joined(separator: "\n")
    }

    /// Writes the scripts, creates the output folder and submits every array in order.
    /// When sbatch rejects an array, throws `SlurmError.submissionRejected` naming the shards
    /// of that array and the job IDs already submitted, which the caller should cancel.
    /// `onSubmitted` runs after each accepted array, so the caller can record its job ID before
    /// the next submission.
    public func submit(
        with client: SlurmClient,
        onSubmitted: (SubmittedArray) throws -> Void = { _ in }
    ) throws -> [SubmittedArray] {
        let chunks = try chunks()
        try FileManager.default.createDirectory(
            atPath: options.outputFolder, withIntermediateDirectories: true)
        var submitted: [SubmittedArray] = []
        for chunk in chunks {
            let url = scriptURL(for: chunk)
            try AtomicFile.write(try script(for: chunk), to: url)
            do {
                let jobID = try client.submit(script: url, arguments: sbatchArguments(for: chunk))
                Log.debug("submitted job array", ["slurm_job": jobID, "array": chunk.arraySpec])
                let array = SubmittedArray(jobID: jobID, chunk: chunk)
                submitted.append(array)
                try onSubmitted(array)
            } catch let error as SlurmError {
                throw SlurmError.submissionRejected(
                    range: rangeText(chunk), output: Self.reason(error),
                    submittedJobIDs: submitted.map(\.jobID))
            }
        }
        return submitted
    }

    private func rangeText(_ chunk: ArrayChunk) -> String {
        let shards = chunk.shardRange
        let noun = options.shards == nil ? "runs" : "shards"
        return "\(noun) \(shards.lowerBound)-\(shards.upperBound) (--array=\(chunk.arraySpec), "
            + "offset \(chunk.offset))"
    }

    private static func reason(_ error: SlurmError) -> String {
        if case .commandFailed(_, _, let output) = error {
            return output
        }
        return error.description
    }
}
