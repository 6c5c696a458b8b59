import Foundation

extension SlurmOptions {
    /// Throws `SlurmError.invalidOption` or `.invalidThrottle` for the first value that sbatch
    /// would reject or that cannot be written into the script safely.
    public func validate() throws {
        if let partition {
            try check(
                "--partition", partition, matches: "^[A-Za-z0-9_.,-]+$",
                allowed: "partition names of letters, digits, '_', '.', '-' or ','")
        }
        guard cpusPerTask >= 1 else {
            throw SlurmError.invalidOption(
                name: "--cpus-per-task", value: String(cpusPerTask),
                allowed: "an integer of at least 1")
        }
        if let memory {
            try check(
                "--mem", memory, matches: "^[0-9]+[KMGT]?$",
                allowed: "megabytes, or a number with a K, M, G or T suffix, such as '4G'")
        }
        if let time {
            try check(
                "--time", time, matches: Self.timePattern,
                allowed: "minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS")
        }
        if let throttle, throttle < 1 {
            throw SlurmError.invalidThrottle(value: String(throttle))
        }
        try validateLines()
        try validateNames()
    }

    /// Slurm's time forms: minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS, or no limit.
    private static let timePattern =
        "^([0-9]+|[0-9]+:[0-9]+|[0-9]+:[0-9]+:[0-9]+|[0-9]+-[0-9]+(:[0-9]+){0,2}"
        + "|UNLIMITED|INFINITE)$"

    private func validateLines() throws {
        for directive in extraDirectives {
            try check(
                "--sbatch-line", directive, matches: "^-[^\\n\\r]*$",
                allowed: "one sbatch option on one line, such as '--qos=normal'")
        }
        for line in setupLines where line.contains("\n") || line.contains("\r") {
            throw SlurmError.invalidOption(
                name: "--setup-line", value: line,
                allowed: "one shell line; repeat --setup-line for more")
        }
    }

    private func validateNames() throws {
        if jobName.isEmpty || jobName.contains(where: \.isNewline) {
            throw SlurmError.invalidOption(
                name: "job name", value: jobName, allowed: "a non-empty name on one line")
        }
        if outputFolder.isEmpty || outputFolder.contains("\\") || outputFolder.contains("\n") {
            throw SlurmError.invalidOption(
                name: "output folder", value: outputFolder,
                allowed: "a non-empty path without backslashes or newlines, because sbatch "
                    + "stops expanding %A and %a after a backslash")
        }
        if let shards, shards < 1 {
            throw SlurmError.invalidOption(
                name: "--shards", value: String(shards), allowed: "an integer of at least 1")
        }
    }

    private func check(
        _ name: String, _ value: String, matches pattern: String, allowed: String
    ) throws {
        guard value.range(of: pattern, options: .regularExpression) != nil else {
            throw SlurmError.invalidOption(name: name, value: value, allowed: allowed)
        }
    }
}
