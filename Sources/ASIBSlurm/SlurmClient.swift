import Foundation

/// The Slurm client commands asib-sweep uses: sbatch, squeue, scancel and scontrol, each run
/// with a time limit and without inherited `SLURM_*` variables.
public struct SlurmClient: Sendable {
    public var runner: CommandRunner

    public init(runner: CommandRunner = CommandRunner()) {
        self.runner = runner
    }

    /// Submits `script` with `sbatch --parsable ARGUMENTS SCRIPT` and returns the job ID.
    /// Throws `SlurmError.commandFailed` with sbatch's message when sbatch rejects the job.
    public func submit(script: URL, arguments: [String]) throws -> Int {
        let words = ["--parsable"] + arguments + [script.path]
        let result = try runner.run("sbatch", words)
        guard result.status == 0 else {
            throw SlurmError.commandFailed(
                command: ShellQuoting.commandLine(["sbatch"] + words), status: result.status,
                output: Self.message(of: result))
        }
        return try Self.parseJobID(result.standardOutput)
    }

    /// Parses `sbatch --parsable` output: `JOBID` or `JOBID;CLUSTER`.
    public static func parseJobID(_ output: String) throws -> Int {
        let line = output.trimmingCharacters(in: .whitespacesAndNewlines)
        let id = line.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false)[0]
        let isDigits = !id.isEmpty && id.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
        guard isDigits, let jobID = Int(id), !line.contains("\n") else {
            throw SlurmError.unexpectedOutput(
                command: "sbatch --parsable", output: output,
                expected: "'JOBID' or 'JOBID;CLUSTER'")
        }
        return jobID
    }

    /// Returns MaxArraySize from `scontrol show config`.
    public func maxArraySize() throws -> Int {
        let result = try runner.run("scontrol", ["show", "config"])
        guard result.status == 0 else {
            throw SlurmError.commandFailed(
                command: "scontrol show config", status: result.status,
                output: Self.message(of: result))
        }
        return try SlurmConfiguration.maxArraySize(fromShowConfig: result.standardOutput)
    }

    /// Returns one entry per pending or running task of `jobIDs`, and only of jobs named
    /// `jobName` when it is given. Finished tasks are not listed, and jobs that slurmctld has
    /// already forgotten give an empty list.
    public func status(jobIDs: [Int], jobName: String? = nil) throws -> [SqueueTask] {
        guard !jobIDs.isEmpty else { return [] }
        let ids = jobIDs.map(String.init).joined(separator: ",")
        var arguments = ["-h", "-r", "-j", ids, "-o", SqueueTask.format]
        if let jobName {
            arguments.append("--name=\(jobName)")
        }
        let result = try runner.run("squeue", arguments)
        if result.status != 0, result.standardError.contains("Invalid job id specified") {
            return []
        }
        guard result.status == 0 else {
            throw SlurmError.commandFailed(
                command: ShellQuoting.commandLine(["squeue"] + arguments), status: result.status,
                output: Self.message(of: result))
        }
        return try SqueueTask.parse(result.standardOutput)
    }

    /// Cancels every task of `jobIDs`; with `jobName`, only jobs of that name, so an ID that
    /// the cluster has reused for another job is left alone. scancel exits 0 for IDs that no
    /// longer exist.
    public func cancel(jobIDs: [Int], jobName: String? = nil) throws {
        guard !jobIDs.isEmpty else { return }
        let arguments = (jobName.map { ["--name=\($0)"] } ?? []) + jobIDs.map(String.init)
        let result = try runner.run("scancel", arguments)
        // With a name filter, scancel exits 1 for an ID that slurmctld has already forgotten
        // (Slurm 22.05); that job is gone, which is the result cancelling requests.
        let lines = result.standardError.split(whereSeparator: \.isNewline)
        let onlyForgottenIDs = !lines.isEmpty
            && lines.allSatisfy { $0.contains("Invalid job id specified") }
        guard result.status == 0 || onlyForgottenIDs else {
            throw SlurmError.commandFailed(
                command: ShellQuoting.commandLine(["scancel"] + arguments), status: result.status,
                output: Self.message(of: result))
        }
    }

    /// sbatch and squeue print their errors on stderr; stdout is the fallback.
    private static func message(of result: CommandResult) -> String {
        let text = result.standardError.isEmpty ? result.standardOutput : result.standardError
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
