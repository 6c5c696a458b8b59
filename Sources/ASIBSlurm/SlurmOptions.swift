import Foundation

/// Slurm settings of a job array of workers: the single source for the `launch --array`
/// command-line options, the `#SBATCH` lines of the rendered script and the sbatch arguments.
///
/// Resource requests (partition, CPUs, memory, time, extra lines) become `#SBATCH` lines in
/// the script. The job name, the log paths and the array range are passed to sbatch as
/// arguments, because `#SBATCH` lines cannot carry every character that a path may contain.
public struct SlurmOptions: Equatable, Sendable {
    /// Partition (`--partition`); nil uses the cluster's default partition.
    public var partition: String?
    /// CPUs of each array task (`--cpus-per-task`); the worker uses this many BLAS threads.
    public var cpusPerTask: Int
    /// Memory of each task in Slurm's `--mem` form (`4G`, `1500M`, `2000`); nil uses the
    /// cluster's DefMemPerCPU.
    public var memory: String?
    /// Wall-time limit in Slurm's `--time` form (`30`, `2:00:00`, `1-12`); nil uses the
    /// partition's limit.
    public var time: String?
    /// Maximum number of tasks of each array that run at once (`%K`); nil for no limit.
    public var throttle: Int?
    /// Extra sbatch options, one per `#SBATCH` line, without the `#SBATCH` prefix.
    public var extraDirectives: [String]
    /// Shell lines run before the worker starts, such as `module load openblas`.
    public var setupLines: [String]
    /// Job name shown by squeue.
    public var jobName: String
    /// Folder of the tasks' stdout and stderr files, `%A_%a.out` and `%A_%a.err`.
    public var outputFolder: String
    /// Number of array tasks that share the runs (run i goes to task i mod K); nil gives one
    /// task per run.
    public var shards: Int?

    public init(
        partition: String? = nil,
        cpusPerTask: Int = 1,
        memory: String? = nil,
        time: String? = nil,
        throttle: Int? = nil,
        extraDirectives: [String] = [],
        setupLines: [String] = [],
        jobName: String,
        outputFolder: String,
        shards: Int? = nil
    ) {
        self.partition = partition
        self.cpusPerTask = cpusPerTask
        self.memory = memory
        self.time = time
        self.throttle = throttle
        self.extraDirectives = extraDirectives
        self.setupLines = setupLines
        self.jobName = jobName
        self.outputFolder = outputFolder
        self.shards = shards
    }

    /// The `#SBATCH` lines of the rendered script, in a fixed order.
    public var directiveLines: [String] {
        var options = ["--cpus-per-task=\(cpusPerTask)"]
        if let partition { options.insert("--partition=\(partition)", at: 0) }
        if let memory { options.append("--mem=\(memory)") }
        if let time { options.append("--time=\(time)") }
        options += extraDirectives
        return options.map { "#SBATCH \($0)" }
    }

    /// Number of array tasks for a plan of `runCount` runs.
    public func taskCount(runCount: Int) -> Int {
        shards ?? runCount
    }

    /// The sbatch arguments for the job name and the log files. `%` in the folder is doubled
    /// because sbatch reads `%A` and `%a` in these paths as the array job ID and task ID.
    public var outputArguments: [String] {
        let folder = outputFolder.replacingOccurrences(of: "%", with: "%%")
        let prefix = folder.hasSuffix("/") ? folder : folder + "/"
        return [
            "--job-name=\(jobName)",
            "--output=\(prefix)%A_%a.out",
            "--error=\(prefix)%A_%a.err",
        ]
    }
}
