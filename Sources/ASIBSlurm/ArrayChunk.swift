/// One job array of a submission: tasks `0..<count` serving shards `offset..<offset+count`.
public struct ArrayChunk: Equatable, Sendable {
    public let offset: Int
    public let count: Int
    public let throttle: Int?

    public init(offset: Int, count: Int, throttle: Int?) {
        self.offset = offset
        self.count = count
        self.throttle = throttle
    }

    /// The `--array` value, such as `0-999%4`.
    public var arraySpec: String {
        let range = count == 1 ? "0" : "0-\(count - 1)"
        return throttle.map { "\(range)%\($0)" } ?? range
    }

    /// The shards this array serves, for messages: `shards 1000-1999`.
    public var shardRange: ClosedRange<Int> {
        offset...(offset + count - 1)
    }

    /// Splits `taskCount` tasks into arrays that each fit `maxArraySize`, so task IDs stay
    /// within `0...maxArraySize - 1`. Every shard is covered by exactly one task, in order,
    /// and every array carries the same throttle.
    public static func split(
        taskCount: Int,
        maxArraySize: Int,
        throttle: Int?
    ) throws -> [ArrayChunk] {
        guard taskCount >= 1 else { throw SlurmError.emptyPlan }
        guard maxArraySize >= 1 else {
            throw SlurmError.invalidOption(
                name: "MaxArraySize", value: String(maxArraySize),
                allowed: "an integer of at least 1")
        }
        if let throttle, throttle < 1 {
            throw SlurmError.invalidThrottle(value: String(throttle))
        }
        return stride(from: 0, to: taskCount, by: maxArraySize).map { offset in
            ArrayChunk(
                offset: offset, count: min(maxArraySize, taskCount - offset), throttle: throttle)
        }
    }
}
