/// Reads the array task ID that Slurm sets in each task of a job array.
public enum ArrayTaskEnvironment {
    public static let taskIDVariable = "SLURM_ARRAY_TASK_ID"

    /// Returns `SLURM_ARRAY_TASK_ID` from `environment`. A missing, empty, negative or
    /// non-integer value throws: falling back to task 0 would run task 0's work twice.
    public static func taskID(in environment: [String: String]) throws -> Int {
        guard let text = environment[taskIDVariable] else {
            throw SlurmError.missingTaskID(variable: taskIDVariable)
        }
        return try parseTaskID(text)
    }

    /// Parses a task ID: ASCII digits only, so `+3`, ` 3`, `3.0` and `-1` are rejected.
    public static func parseTaskID(_ text: String) throws -> Int {
        let isDigits = !text.isEmpty && text.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
        guard isDigits, let value = Int(text) else {
            throw SlurmError.invalidTaskID(variable: taskIDVariable, value: text)
        }
        return value
    }
}
