import ASIBSupport
import Foundation

/// Exit status and output of a finished command.
public struct CommandResult: Equatable, Sendable {
    public let status: Int32
    public let standardOutput: String
    public let standardError: String
}

/// Runs Slurm client commands with a time limit, looking them up in the PATH of `environment`.
///
/// Output goes to temporary files rather than pipes, so neither a command that prints a lot
/// nor a child that keeps an output pipe open can stall the wait for the command's exit.
public struct CommandRunner: Sendable {
    /// Environment of every command; `SLURM_*` variables of a surrounding job are removed by
    /// the default initializer.
    public var environment: [String: String]
    /// Seconds before a command gets SIGTERM, and SIGKILL 2 s after that. Slurm clients retry
    /// for about 10 s when slurmctld is down, so the default leaves room for that.
    public var timeout: Double

    public init(
        environment: [String: String] = CommandRunner.environmentWithoutSlurmVariables(),
        timeout: Double = 30
    ) {
        self.environment = environment
        self.timeout = timeout
    }

    /// Returns `base` without `SLURM_*` variables, so that a submission from inside a Slurm job
    /// does not pass that job's values to sbatch or to the new tasks.
    public static func environmentWithoutSlurmVariables(
        _ base: [String: String] = ProcessInfo.processInfo.environment
    ) -> [String: String] {
        base.filter { !$0.key.hasPrefix("SLURM_") }
    }

    /// Runs `command` with `arguments` and returns its status and output. Throws
    /// `SlurmError.commandNotFound` or `.commandTimedOut`; a non-zero status is returned, not
    /// thrown.
    public func run(_ command: String, _ arguments: [String]) throws -> CommandResult {
        let process = Process()
        process.executableURL = try resolve(command)
        process.arguments = arguments
        process.environment = environment
        process.standardInput = FileHandle.nullDevice

        let outputFile = try TemporaryFile()
        let errorFile = try TemporaryFile()
        process.standardOutput = outputFile.handle
        process.standardError = errorFile.handle

        let finished = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in finished.signal() }
        try process.run()
        if finished.wait(timeout: .now() + timeout) == .timedOut {
            stop(process, finished: finished)
            throw SlurmError.commandTimedOut(
                command: ShellQuoting.commandLine([command] + arguments), seconds: timeout)
        }
        return CommandResult(
            status: process.terminationStatus,
            standardOutput: try outputFile.contents(),
            standardError: try errorFile.contents())
    }

    private func stop(_ process: Process, finished: DispatchSemaphore) {
        process.terminate()
        if finished.wait(timeout: .now() + 2) == .timedOut {
            kill(process.processIdentifier, SIGKILL)
            _ = finished.wait(timeout: .now() + 2)
        }
    }

    private func resolve(_ command: String) throws -> URL {
        if command.contains("/") {
            return URL(fileURLWithPath: command)
        }
        let path = environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for folder in path.split(separator: ":") where !folder.isEmpty {
            let candidate = "\(folder)/\(command)"
            if FileManager.default.isExecutableFile(atPath: candidate) {
                return URL(fileURLWithPath: candidate)
            }
        }
        throw SlurmError.commandNotFound(command: command, path: path)
    }
}

/// An unlinked-on-deinit temporary file that collects a command's output.
private final class TemporaryFile {
    let url: URL
    let handle: FileHandle

    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("asib-slurm-\(UUID().uuidString)")
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
            throw RuntimeFailure("cannot create the temporary output file '\(url.path)'")
        }
        handle = try FileHandle(forWritingTo: url)
    }

    func contents() throws -> String {
        let data = try Data(contentsOf: url)
        return String(decoding: data, as: UTF8.self)
    }

    deinit {
        try? handle.close()
        try? FileManager.default.removeItem(at: url)
    }
}
