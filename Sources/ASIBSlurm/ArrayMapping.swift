/// The work of one array task: the shard of runs it serves, or nothing.
public enum ArrayTaskAssignment: Equatable, Sendable {
    /// Serve the runs whose index mod `count` is `index`.
    case shard(index: Int, count: Int)
    /// The task lies beyond the last shard, for example in an array that was submitted
    /// larger than the plan; it must exit without training anything.
    case nothingToDo(taskID: Int, offset: Int, count: Int)
}

/// Mapping between array task IDs, shards and run indices.
///
/// Task `t` of an array submitted with offset `o` serves shard `s = t + o`, and shard `s` of
/// `K` contains the runs `i` with `i mod K == s`. With one task per run (`K` = number of runs),
/// shard `s` is exactly run `s`. Splitting a plan into several arrays gives each array an
/// offset, so task IDs always start at 0.
public enum ArrayMapping {
    /// Returns the shard that task `taskID` of an array with `offset` serves among
    /// `shardCount` shards.
    public static func assignment(
        taskID: Int,
        offset: Int,
        shardCount: Int
    ) throws -> ArrayTaskAssignment {
        guard taskID >= 0 else {
            throw SlurmError.invalidTaskID(
                variable: ArrayTaskEnvironment.taskIDVariable, value: String(taskID))
        }
        guard offset >= 0 else {
            throw SlurmError.invalidOption(
                name: "--array-offset", value: String(offset), allowed: "an integer of at least 0")
        }
        guard shardCount >= 1 else {
            throw SlurmError.invalidOption(
                name: "--shards", value: String(shardCount), allowed: "an integer of at least 1")
        }
        let (shard, overflow) = taskID.addingReportingOverflow(offset)
        if overflow || shard >= shardCount {
            return .nothingToDo(taskID: taskID, offset: offset, count: shardCount)
        }
        return .shard(index: shard, count: shardCount)
    }

    /// Returns the run of task `taskID` when each task runs one run, or nil when the task
    /// lies beyond the plan's `runCount` runs.
    public static func runIndex(taskID: Int, offset: Int, runCount: Int) throws -> Int? {
        switch try assignment(taskID: taskID, offset: offset, shardCount: runCount) {
        case .shard(let index, _): return index
        case .nothingToDo: return nil
        }
    }

    /// Returns the shard, and so the task index across all arrays, that runs run `runIndex`.
    public static func shard(ofRun runIndex: Int, shardCount: Int) -> Int {
        precondition(runIndex >= 0 && shardCount >= 1, "run index and shard count out of range")
        return runIndex % shardCount
    }

    /// Returns the run indices of shard `shard`, in increasing order.
    public static func runs(inShard shard: Int, shardCount: Int, runCount: Int) -> [Int] {
        precondition(shard >= 0 && shardCount >= 1 && runCount >= 0, "shard arguments out of range")
        guard shard < shardCount else { return [] }
        return Array(stride(from: shard, to: runCount, by: shardCount))
    }
}
