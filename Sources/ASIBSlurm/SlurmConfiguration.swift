import Foundation

/// Values read from `scontrol show config`.
public enum SlurmConfiguration {
    /// Returns MaxArraySize from `scontrol show config` output, whose lines read
    /// `MaxArraySize            = 1001`. Task IDs of an array must be below this number.
    public static func maxArraySize(fromShowConfig output: String) throws -> Int {
        for line in output.split(whereSeparator: \.isNewline) {
            let parts = line.split(separator: "=", maxSplits: 1)
            guard parts.count == 2,
                parts[0].trimmingCharacters(in: .whitespaces) == "MaxArraySize"
            else { continue }
            let value = parts[1].trimmingCharacters(in: .whitespaces)
            guard let size = Int(value), size >= 1 else {
                throw SlurmError.unexpectedOutput(
                    command: "scontrol show config", output: String(line),
                    expected: "'MaxArraySize = N' with N of at least 1")
            }
            return size
        }
        throw SlurmError.maxArraySizeNotFound(output: output)
    }
}
