import ASIBSupport
import Foundation

/// `asib-worker` processes started by `launch --local N`, with their logs in `DIR/logs/`.
public final class LocalWorkerPool {
    public struct Member {
        public let number: Int
        public let process: Process
        public let logURL: URL
    }

    /// Guards `storedMembers` and `stopping`: the interrupt handler stops the pool on another
    /// thread while the coordinator loop may be replacing a member.
    private let lock = NSLock()
    private var storedMembers: [Member] = []
    /// Set by `terminateAll`; no member starts after it, so a worker that the interrupt ended
    /// is not replaced by one that outlives `launch`.
    private var stopping = false

    public var members: [Member] { lock.withLock { storedMembers } }
    /// Members that may still be started in place of members that died of a signal or exited
    /// with an error before the sweep finished.
    public private(set) var restartsLeft: Int
    private var replacedPIDs: Set<Int32> = []
    private var launch: (executable: URL, endpoint: String, threads: Int, logs: URL, extra: [String])?

    public init(restarts: Int = 0) {
        restartsLeft = restarts
    }

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
        launch = (workerExecutable, endpoint, threads, logDirectory, extraArguments)
        for number in 1...count {
            try startMember(number: number)
        }
    }

    /// Starts a new member in place of each member that ended abnormally, while restarts are
    /// left. A replacement uses the same number, log and spool folder, so it sends again what
    /// its predecessor spooled. Returns the numbers of the replaced members.
    @discardableResult
    public func replaceExited() throws -> [Int] {
        var replaced: [Int] = []
        for member in members
        where !member.process.isRunning && restartsLeft > 0 && !lock.withLock({ stopping })
            && !replacedPIDs.contains(member.process.processIdentifier)
        {
            let abnormal = member.process.terminationReason == .uncaughtSignal
                || member.process.terminationStatus != 0
            guard abnormal else { continue }
            restartsLeft -= 1
            Log.warning(
                "local worker ended, starting a replacement",
                ["worker": member.number, "pid": member.process.processIdentifier,
                 "status": member.process.terminationStatus, "restarts_left": restartsLeft]
            )
            replacedPIDs.insert(member.process.processIdentifier)
            try startMember(number: member.number)
            replaced.append(member.number)
        }
        return replaced
    }

    private func startMember(number: Int) throws {
        lock.lock()
        defer { lock.unlock() }
        guard !stopping else { return }
        guard let (workerExecutable, endpoint, threads, logDirectory, extraArguments) = launch else { return }
        let logURL = logDirectory.appendingPathComponent("worker-\(number).log")
        if !FileManager.default.fileExists(atPath: logURL.path) {
            FileManager.default.createFile(atPath: logURL.path, contents: nil)
        }
        let log = try FileHandle(forWritingTo: logURL)
        log.seekToEndOfFile()
        let spool = logDirectory.deletingLastPathComponent()
            .appendingPathComponent("spool").appendingPathComponent("worker-\(number)")

        let process = Process()
        process.executableURL = workerExecutable
        process.arguments = [
            "--connect", endpoint, "--threads", String(threads), "--worker-id", "local-\(number)",
            "--spool", spool.path,
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
        storedMembers.append(Member(number: number, process: process, logURL: logURL))
        Log.info("started local worker", ["worker": number, "pid": process.processIdentifier])
    }

    /// Process ids of members that are still running.
    public var runningPIDs: Set<Int32> {
        Set(members.filter { $0.process.isRunning }.map { $0.process.processIdentifier })
    }

    /// Waits up to `timeout` for every member to exit, then sends SIGKILL to those left.
    public func waitForExit(timeout: Duration) {
        let deadline = ContinuousClock.now + timeout
        while members.contains(where: { $0.process.isRunning }) && ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.05)
        }
        for member in members where member.process.isRunning {
            Log.warning("worker did not exit in time, killing it", ["pid": member.process.processIdentifier])
            kill(member.process.processIdentifier, SIGKILL)
        }
    }

    /// Stops the pool: no member starts after this call, and every running member gets
    /// SIGTERM (used on interrupt).
    public func terminateAll() {
        let running = lock.withLock {
            stopping = true
            return storedMembers.filter { $0.process.isRunning }
        }
        for member in running { member.process.terminate() }
    }
}
