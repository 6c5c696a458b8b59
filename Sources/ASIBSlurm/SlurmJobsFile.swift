import ASIBSupport
import Foundation

/// `slurm-jobs.json` in the results folder: the job arrays that `launch --array` submitted for
/// the sweep, so that `status` and `cancel` act on exactly these jobs.
///
/// A new launch on the same folder replaces the file. Job IDs of a cluster whose state was
/// reset can be reused by other jobs, so `cancel` also matches the job name.
public struct SlurmJobsFile: Codable, Equatable, Sendable {
    public static let fileName = "slurm-jobs.json"

    public struct Array: Codable, Equatable, Sendable {
        public var jobID: Int
        public var runKind: String
        /// The `--array` value, such as `0-3%2`.
        public var array: String
        public var offset: Int
        public var shards: Int
        public var script: String

        public init(
            jobID: Int, runKind: String, array: String, offset: Int, shards: Int, script: String
        ) {
            self.jobID = jobID
            self.runKind = runKind
            self.array = array
            self.offset = offset
            self.shards = shards
            self.script = script
        }
    }

    public var sweep: String
    public var planSHA256: String
    public var jobName: String
    public var coordinatorEndpoint: String
    public var coordinatorPID: Int32
    public var coordinatorHost: String
    public var arrays: [Array]
    /// True once every array of the launch was submitted.
    public var submissionComplete: Bool
    /// Value of `ASIB_LAUNCH_TOKEN` in the coordinator's environment, by which `launch
    /// --detach` recognizes the file its background coordinator wrote.
    public var launchToken: String?

    public init(
        sweep: String, planSHA256: String, jobName: String, coordinatorEndpoint: String,
        coordinatorPID: Int32, coordinatorHost: String, arrays: [Array] = [],
        submissionComplete: Bool = false, launchToken: String? = nil
    ) {
        self.sweep = sweep
        self.planSHA256 = planSHA256
        self.jobName = jobName
        self.coordinatorEndpoint = coordinatorEndpoint
        self.coordinatorPID = coordinatorPID
        self.coordinatorHost = coordinatorHost
        self.arrays = arrays
        self.submissionComplete = submissionComplete
        self.launchToken = launchToken
    }

    enum CodingKeys: String, CodingKey {
        case sweep
        case planSHA256 = "plan_sha256"
        case jobName = "job_name"
        case coordinatorEndpoint = "coordinator_endpoint"
        case coordinatorPID = "coordinator_pid"
        case coordinatorHost = "coordinator_host"
        case arrays
        case submissionComplete = "submission_complete"
        case launchToken = "launch_token"
    }

    public var jobIDs: [Int] {
        arrays.map(\.jobID)
    }

    public static func url(in results: URL) -> URL {
        results.appendingPathComponent(fileName)
    }

    public func write(to results: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        let text = String(decoding: try encoder.encode(self), as: UTF8.self) + "\n"
        try AtomicFile.write(text, to: Self.url(in: results))
    }

    /// Reads the file from `results`; returns nil when the sweep was never launched with
    /// `--array` there.
    public static func load(from results: URL) throws -> SlurmJobsFile? {
        let url = url(in: results)
        guard let data = FileManager.default.contents(atPath: url.path) else { return nil }
        do {
            return try JSONDecoder().decode(SlurmJobsFile.self, from: data)
        } catch {
            throw UsageError(
                "invalid '\(url.path)': \(error); it is written by 'asib-sweep launch --array', "
                    + "so launch again or remove it")
        }
    }
}

extension SlurmJobsFile.Array {
    enum CodingKeys: String, CodingKey {
        case jobID = "job_id"
        case runKind = "run_kind"
        case array, offset, shards, script
    }
}
