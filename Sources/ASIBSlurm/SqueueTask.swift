import Foundation

/// One line of `squeue -h -r -o '%i|%A|%F|%K|%T|%r'`: one array task, or one plain job.
public struct SqueueTask: Equatable, Sendable {
    /// The ID as squeue prints it, such as `12_3` for task 3 of array 12.
    public let displayID: String
    /// The task's own job ID (`SLURM_JOB_ID`), which differs from the array job ID.
    public let jobID: Int
    /// The array job ID that sbatch returned; equal to `jobID` for a plain job.
    public let arrayJobID: Int
    /// The array task ID; nil for a plain job (squeue prints `N/A`).
    public let taskID: Int?
    /// Long state name: PENDING, RUNNING, COMPLETING, COMPLETED, FAILED, CANCELLED, TIMEOUT...
    public let state: String
    /// Reason for the pending or final state, such as `JobArrayTaskLimit`, or `None`.
    public let reason: String

    public init(
        displayID: String,
        jobID: Int,
        arrayJobID: Int,
        taskID: Int?,
        state: String,
        reason: String
    ) {
        self.displayID = displayID
        self.jobID = jobID
        self.arrayJobID = arrayJobID
        self.taskID = taskID
        self.state = state
        self.reason = reason
    }

    /// The squeue format that `parse(_:)` reads.
    public static let format = "%i|%A|%F|%K|%T|%r"

    /// Parses squeue output, one task per non-empty line.
    public static func parse(_ output: String) throws -> [SqueueTask] {
        try output.split(whereSeparator: \.isNewline).map { try parseLine(String($0)) }
    }

    static func parseLine(_ line: String) throws -> SqueueTask {
        let fields = line.split(separator: "|", maxSplits: 5, omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces) }
        guard fields.count == 6,
            let jobID = Int(fields[1]),
            let arrayJobID = Int(fields[2]),
            fields[3] == "N/A" || Int(fields[3]) != nil
        else {
            throw SlurmError.unexpectedOutput(
                command: "squeue -o '\(format)'", output: line,
                expected: "'ID|JOBID|ARRAYJOBID|TASKID|STATE|REASON', as with 'squeue -r'")
        }
        return SqueueTask(
            displayID: fields[0], jobID: jobID, arrayJobID: arrayJobID, taskID: Int(fields[3]),
            state: fields[4], reason: fields[5])
    }
}
