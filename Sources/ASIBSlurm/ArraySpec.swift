/// A parsed `--array` value: task ID ranges and an optional throttle, as in `0-20:5`,
/// `1,5,7` or `0-9%3`.
public struct ArraySpec: Equatable, Sendable {
    /// One comma-separated element: `first-last:step`, `first-last` or a single ID.
    public struct Range: Equatable, Sendable {
        public let first: Int
        public let last: Int
        public let step: Int

        public var taskIDs: StrideThrough<Int> {
            stride(from: first, through: last, by: step)
        }
    }

    public let ranges: [Range]
    /// Maximum number of tasks running at once; nil when the spec has no `%K`.
    public let throttle: Int?

    /// The task IDs in increasing order, each once.
    public var taskIDs: [Int] {
        Array(Set(ranges.flatMap(\.taskIDs))).sorted()
    }

    /// Parses `text`. With `maxArraySize`, task IDs above `maxArraySize - 1` are rejected,
    /// as slurmctld rejects them.
    public static func parse(_ text: String, maxArraySize: Int? = nil) throws -> ArraySpec {
        let parts = text.split(separator: "%", omittingEmptySubsequences: false)
        guard parts.count <= 2 else {
            throw SlurmError.invalidArraySpec(spec: text, reason: "more than one '%'")
        }
        let throttle = try parts.count == 2 ? parseThrottle(String(parts[1])) : nil
        let elements = parts[0].split(separator: ",", omittingEmptySubsequences: false)
        let ranges = try elements.map { try parseRange(String($0), spec: text) }
        if let maxArraySize, let highest = ranges.map(\.last).max(), highest > maxArraySize - 1 {
            throw SlurmError.invalidArraySpec(
                spec: text,
                reason: "task ID \(highest) is above \(maxArraySize - 1), the highest ID that "
                    + "MaxArraySize=\(maxArraySize) allows")
        }
        return ArraySpec(ranges: ranges, throttle: throttle)
    }

    private static func parseThrottle(_ text: String) throws -> Int {
        guard let value = Int(text), value >= 1, text.allSatisfy(\.isASCII) else {
            throw SlurmError.invalidThrottle(value: text)
        }
        return value
    }

    private static func parseRange(_ element: String, spec: String) throws -> Range {
        let stepParts = element.split(separator: ":", omittingEmptySubsequences: false)
        let bounds = stepParts[0].split(separator: "-", omittingEmptySubsequences: false)
        guard stepParts.count <= 2, bounds.count <= 2 else {
            throw SlurmError.invalidArraySpec(spec: spec, reason: "'\(element)' is not a range")
        }
        let first = try number(bounds[0], in: element, spec: spec)
        let last = try bounds.count == 2 ? number(bounds[1], in: element, spec: spec) : first
        let step = try stepParts.count == 2 ? number(stepParts[1], in: element, spec: spec) : 1
        guard stepParts.count == 1 || bounds.count == 2 else {
            throw SlurmError.invalidArraySpec(
                spec: spec, reason: "'\(element)' has a step but no range")
        }
        guard first <= last else {
            throw SlurmError.invalidArraySpec(
                spec: spec, reason: "'\(element)' ends before it starts")
        }
        guard step >= 1 else {
            throw SlurmError.invalidArraySpec(spec: spec, reason: "'\(element)' has step 0")
        }
        return Range(first: first, last: last, step: step)
    }

    private static func number(_ text: Substring, in element: String, spec: String) throws -> Int {
        let isDigits = !text.isEmpty && text.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
        guard isDigits, let value = Int(text) else {
            throw SlurmError.invalidArraySpec(
                spec: spec, reason: "'\(text)' in '\(element)' is not a non-negative integer")
        }
        return value
    }
}
