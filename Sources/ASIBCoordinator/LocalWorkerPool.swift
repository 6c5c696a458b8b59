import ASIBSupport
import Foundation

/// `asib-worker` processes started by `launch --local N`, with their logs in `DIR/logs/`.
public final class LocalWorkerPool {
    public struct Member {
        public let number: Int
        public let process: Process
        public let logURL: URL
    }

    public private(set) var members: [Member] = []

    public init() {}

    /// Starts `count` workers that connect to `endpoint`, each with `threads` BLAS threads.
    public func start(
        count: Int,
        workerExecutable: URL,
        endpoint: String,
        threads: Int,
        logDirectory: URL,
        extraArguments: [String] = []
    ) throws {
        try FileManager.default.createDirectory(at: logDirectory, withIntermediateDirectories: true)
        for number in 1...count {
            let logURL = logDirectory.appendingPathComponent("worker-\(number).log")
            FileManager.default.createFile(atPath: logURL.path, contents: nil)
            let log = try FileHandle(forWritingTo: logURL)
            log.seekToEndOfFile()

            let process = Process()
            process.executableURL = workerExecutable
            process.arguments = [
                "--connect", endpoint, "--threads", String(threads), "--worker-id", "local-\(number)",
            ] + extraArguments
            var environment = ProcessInfo.processInfo.environment
            environment["OPENBLAS_NUM_THREADS"] = String(threads)
            process.environment = environment
            process.standardOutput = log
            process.standardError = log
            process.standardInput = FileHandle.nullDevice
            do {
                try process.run()
            } catch {
                throw RuntimeFailure(
                    "cannot start worker '\(workerExecutable.path)': \(error.localizedDescription); "
                        + "build it with 'swift build -c release' next to asib-sweep"
                )
            }
            members.append(Member(number: number, process: process, logURL: logURL))
            Log.info("started local worker", ["worker": number, "pid": process.processIdentifier])
        }
    }

    /// Process ids of members that are still running.
    public var runningPIDs: Set<Int32> {
        Set(members.filter { $0.process.isRunning }.map { $0.process.processIdentifier })
    }

    /// Waits up to `timeout` for every member to exit, then sends SIGTERM to those left.
    public func waitForExit(timeout: Duration) {
        let deadline = ContinuousClock.now + timeout
        while members.contains(where: { $0.process.isRunning }) && ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.05)
        }
        for member in members where member.process.isRunning {
            Log.warning("worker did not exit in time, terminating", ["pid": member.process.processIdentifier])
            member.process.terminate()
        }
    }

    /// Sends SIGTERM to every running member (used on interrupt).
    public func terminateAll() {
        for member in members where member.process.isRunning {
            member.process.terminate()
        }
    }
}
