import ASIBPlan
import Foundation

/// The runs of a plan that one job array serves. A sweep with teachers gets a teacher array and
/// student arrays that wait for it, so each array indexes its own kind of runs from 0.
public enum ArrayRunKind: String, CaseIterable, Sendable {
    case all, teacher, student

    /// The runs of this kind, in plan order.
    public func runs(of plan: Plan) -> [PlannedRun] {
        switch self {
        case .all: return plan.runs
        case .teacher, .student: return plan.runs.filter { $0.kind == rawValue }
        }
    }

    /// Parses `--run-kind`.
    public static func parse(_ text: String) throws -> ArrayRunKind {
        guard let kind = ArrayRunKind(rawValue: text) else {
            throw SlurmError.invalidOption(
                name: "--run-kind", value: text, allowed: "all, teacher or student")
        }
        return kind
    }
}

/// The runs that one array task serves, derived from the plan file and the task ID.
///
/// Among the runs of `kind` in plan order (positions `0..<n`), shard `s` of `K` contains the
/// positions `p` with `p mod K == s`, and task `t` of an array with offset `o` serves shard
/// `t + o`. Without `shards`, `K` is `n`: one run per task.
public struct ArrayTaskRuns: Equatable, Sendable {
    public let taskID: Int
    public let assignment: ArrayTaskAssignment
    /// Plan indices of the runs to serve, in increasing order; empty when there is nothing to do.
    public let runIndices: [Int]

    public init(taskID: Int, plan: Plan, kind: ArrayRunKind, offset: Int, shards: Int?) throws {
        let group = kind.runs(of: plan)
        let shardCount = shards ?? group.count
        self.taskID = taskID
        if shardCount == 0 {
            // No run of this kind: an array submitted for them has nothing to do.
            guard taskID >= 0 else {
                throw SlurmError.invalidTaskID(
                    variable: ArrayTaskEnvironment.taskIDVariable, value: String(taskID))
            }
            assignment = .nothingToDo(taskID: taskID, offset: offset, count: 0)
            runIndices = []
            return
        }
        assignment = try ArrayMapping.assignment(
            taskID: taskID, offset: offset, shardCount: shardCount)
        switch assignment {
        case .shard(let shard, let count):
            runIndices = ArrayMapping.runs(inShard: shard, shardCount: count, runCount: group.count)
                .map { group[$0].index }
        case .nothingToDo:
            runIndices = []
        }
    }

    /// Reads the task ID from `environment` (`SLURM_ARRAY_TASK_ID`); a missing or non-integer
    /// value throws rather than falling back to task 0.
    public init(
        environment: [String: String], plan: Plan, kind: ArrayRunKind, offset: Int, shards: Int?
    ) throws {
        let taskID = try ArrayTaskEnvironment.taskID(in: environment)
        try self.init(taskID: taskID, plan: plan, kind: kind, offset: offset, shards: shards)
    }

    /// Loads the plan file at `path` and checks that its `plan_sha256` is `expectedSHA256`, the
    /// hash the array was submitted with. A plan edited or re-planned after submission could
    /// map a task ID to a different run, so it is rejected.
    public static func loadPinnedPlan(path: String, expectedSHA256: String) throws -> Plan {
        let isHex = expectedSHA256.utf8.allSatisfy {
            (0x30...0x39).contains($0) || (0x61...0x66).contains($0)
        }
        guard expectedSHA256.utf8.count == 64, isHex else {
            throw SlurmError.invalidOption(
                name: "--plan-sha256", value: expectedSHA256,
                allowed: "64 lowercase hexadecimal digits, as in plan.json's 'plan_sha256'")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SlurmError.planUnreadable(path: path, reason: "the file cannot be read")
        }
        let plan: Plan
        do {
            plan = try Plan(jsonData: data)
        } catch let error as PlanError {
            throw SlurmError.planUnreadable(path: path, reason: error.description)
        }
        guard plan.planSHA256 == expectedSHA256 else {
            throw SlurmError.planChanged(
                path: path, expected: expectedSHA256, found: plan.planSHA256)
        }
        return plan
    }
}
