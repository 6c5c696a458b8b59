import ASIBSupport

extension SlurmOptions {
    /// Help lines for the options that `parse(_:jobName:outputFolder:)` reads.
    public static let helpText = """
          --partition NAME      Slurm partition (default: the cluster's default partition)
          --cpus-per-task N     CPUs and BLAS threads of each array task (default: 1)
          --mem SIZE            memory of each task, such as 4G or 1500M (default: DefMemPerCPU)
          --time LIMIT          wall-time limit of each task, such as 2:00:00 (default: the
                                partition's limit)
          --throttle K          at most K tasks of each array run at once (default: no limit)
          --sbatch-line OPTION  extra '#SBATCH OPTION' line in the script (repeatable)
          --setup-line LINE     shell line run before the worker, such as 'module load
                                openblas' (repeatable)
          --shards K            K array tasks share the teacher runs and K the student runs,
                                the i-th run of each kind going to task i mod K (default:
                                one task per run)
        """

    /// Takes the Slurm options out of `arguments` and validates them.
    ///
    /// `jobName` and `outputFolder` come from the caller, such as the sweep name and a folder
    /// inside the results folder.
    public static func parse(
        _ arguments: inout CommandLineArguments,
        jobName: String,
        outputFolder: String
    ) throws -> SlurmOptions {
        var options = SlurmOptions(jobName: jobName, outputFolder: outputFolder)
        options.partition = try arguments.value("--partition")
        options.cpusPerTask = try arguments.integer("--cpus-per-task", in: 1...Int(Int32.max)) ?? 1
        options.memory = try arguments.value("--mem")
        options.time = try arguments.value("--time")
        options.throttle = try parseThrottle(arguments.value("--throttle"))
        options.extraDirectives = try arguments.values("--sbatch-line").map(stripDirectivePrefix)
        options.setupLines = try arguments.values("--setup-line")
        options.shards = try arguments.integer("--shards", in: 1...Int(Int32.max))
        try options.validate()
        return options
    }

    private static func parseThrottle(_ text: String?) throws -> Int? {
        guard let text else { return nil }
        guard let value = Int(text), value >= 1 else {
            throw SlurmError.invalidThrottle(value: text)
        }
        return value
    }

    /// Accepts `--qos=normal` as well as `#SBATCH --qos=normal`.
    private static func stripDirectivePrefix(_ line: String) -> String {
        var text = Substring(line)
        if text.hasPrefix("#SBATCH") {
            text = text.dropFirst("#SBATCH".count)
        }
        return text.trimmingCharacters(in: .whitespaces)
    }
}
