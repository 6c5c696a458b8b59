import Foundation

/// A release executable started in the background, with its output in files, for tests that
/// kill processes while a sweep runs. Only processes started here are ever signalled.
final class BackgroundProcess {
    let process = Process()
    let outputURL: URL
    let errorURL: URL

    init(_ name: String, _ arguments: [String], logPrefix: URL) throws {
        process.executableURL = ExecutableRunner.executable(name)
        process.arguments = arguments
        process.currentDirectoryURL = ExecutableRunner.repositoryRoot
        outputURL = logPrefix.appendingPathExtension("out")
        errorURL = logPrefix.appendingPathExtension("err")
        FileManager.default.createFile(atPath: outputURL.path, contents: nil)
        FileManager.default.createFile(atPath: errorURL.path, contents: nil)
        let output = try FileHandle(forWritingTo: outputURL)
        output.seekToEndOfFile()
        let error = try FileHandle(forWritingTo: errorURL)
        error.seekToEndOfFile()
        process.standardOutput = output
        process.standardError = error
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }
    var output: String { (try? String(contentsOf: outputURL, encoding: .utf8)) ?? "" }
    var error: String { (try? String(contentsOf: errorURL, encoding: .utf8)) ?? "" }

    /// Sends SIGKILL to this process only.
    func kill() {
        if process.isRunning {
            Foundation.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// Waits up to `timeout` seconds; kills the process and returns false when it is still
    /// running then.
    @discardableResult
    func wait(timeout: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
        }
        if process.isRunning {
            kill()
            return false
        }
        return true
    }
}

enum FaultInjection {
    /// Process ids of the direct children of `pid`, from /proc.
    static func children(of pid: Int32) -> [Int32] {
        let path = "/proc/\(pid)/task/\(pid)/children"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return text.split(separator: " ").compactMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    /// Returns a TCP port on 127.0.0.1 that was free a moment ago.
    static func freePort() throws -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw POSIXError(.EIO) }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        guard bound == 0 else { throw POSIXError(.EADDRINUSE) }
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard named == 0 else { throw POSIXError(.EIO) }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Writes a sweep of `count` ce_only runs of resnet8 for `epochs` epochs on `trainImages`
    /// training and 32 test images, and returns its path.
    static func tinySweep(
        in directory: URL, name: String, count: Int, trainImages: Int = 64, epochs: Int = 1
    ) throws -> URL {
        let seeds = (1...count).map(String.init).joined(separator: ", ")
        let text = """
            sweep: \(name)
            config: base
            overrides:
              - dataset.train_limit=\(trainImages)
              - dataset.test_limit=32
              - dataset.batch_size=32
              - student_epochs=\(epochs)
            students:
              model: resnet8
              axes:
                method: [ce_only]
                rung: [none]
                seed: [\(seeds)]

            """
        let url = directory.appendingPathComponent("\(name).yaml")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    /// Checks the result tables of a finished sweep and returns the problems found. Every run
    /// must be done once and no metric row stored twice for one attempt. Every epoch of every
    /// run must have metrics from the done attempt, or from an earlier one when the done
    /// attempt resumed after that epoch.
    static func exactlyOnceProblems(results: URL, runs: Int, epochs: Int) throws -> [String] {
        var problems: [String] = []
        let summary = try CSVTable(url: results.appendingPathComponent("summary.csv"))
        if summary.rows.count != runs {
            problems.append("summary.csv has \(summary.rows.count) runs, expected \(runs)")
        }
        var doneAttempt: [String: String] = [:]
        for row in summary.rows {
            let runID = summary.value(row, "run_id") ?? "?"
            if summary.value(row, "status") != "done" {
                problems.append("run \(runID) is \(summary.value(row, "status") ?? "?")")
            }
            doneAttempt[runID] = summary.value(row, "attempts")
        }
        let table = try CSVTable(url: results.appendingPathComponent("epochs.csv"))
        var seen: Set<String> = []
        var covered: Set<String> = []
        for row in table.rows {
            let runID = table.value(row, "run_id") ?? "?"
            let attempt = table.value(row, "attempt") ?? "?"
            let epoch = "\(table.value(row, "phase") ?? "")/\(table.value(row, "local_epoch") ?? "")"
            if !seen.insert("\(runID)/\(attempt)/\(epoch)").inserted {
                problems.append("duplicate metric row \(runID) attempt \(attempt) \(epoch)")
            }
            if let done = doneAttempt[runID].flatMap(Int.init), let number = Int(attempt), number <= done {
                covered.insert("\(runID)/\(epoch)")
            }
        }
        if covered.count != runs * epochs {
            problems.append("\(covered.count) (run, epoch) pairs have metrics, expected \(runs * epochs)")
        }
        for row in summary.rows {
            for epoch in 1...epochs where (summary.value(row, "student_ep\(epoch)_acc") ?? "").isEmpty {
                problems.append("summary.csv lacks epoch \(epoch) of \(summary.value(row, "run_id") ?? "?")")
            }
        }
        return problems
    }
}
