import Foundation
import Testing

/// A release executable started in the background, with its output in files.
private final class SweepProcess {
    let process = Process()
    let outputFile: URL
    let errorFile: URL

    init(_ name: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        let folder = try ExecutableRunner.temporaryDirectory("process")
        outputFile = folder.appendingPathComponent("stdout")
        errorFile = folder.appendingPathComponent("stderr")
        FileManager.default.createFile(atPath: outputFile.path, contents: nil)
        FileManager.default.createFile(atPath: errorFile.path, contents: nil)
        process.executableURL = ExecutableRunner.executable(name)
        process.arguments = arguments
        process.currentDirectoryURL = ExecutableRunner.repositoryRoot
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = try FileHandle(forWritingTo: outputFile)
        process.standardError = try FileHandle(forWritingTo: errorFile)
        try process.run()
    }

    var output: String { (try? String(contentsOf: outputFile, encoding: .utf8)) ?? "" }
    var error: String { (try? String(contentsOf: errorFile, encoding: .utf8)) ?? "" }

    /// Waits up to `timeout` seconds for a line of standard output that starts with `prefix`.
    func awaitLine(startingWith prefix: String, timeout: TimeInterval) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let line = output.split(separator: "\n").first { $0.hasPrefix(prefix) }
            if let line { return String(line) }
            if !process.isRunning { return nil }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return nil
    }

    /// Waits up to `timeout` seconds for the exit status; terminates the process on timeout.
    func wait(timeout: TimeInterval) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
        }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
            return nil
        }
        return process.terminationStatus
    }
}

/// Writes a one-run sweep file: ce_only on 200 Fashion-MNIST images for one epoch, which
/// trains in about a second in a release build.
private func writeTinySweep(in folder: URL, extraOverrides: [String] = []) throws -> URL {
    let overrides = [
        "dataset.train_limit=200", "dataset.test_limit=100", "dataset.batch_size=50",
        "student_epochs=1",
    ] + extraOverrides
    let text = """
        sweep: tiny
        config: base
        overrides: [\(overrides.joined(separator: ", "))]
        students:
          axes:
            method: [ce_only]
            seed: [1]
        """
    let spec = folder.appendingPathComponent("tiny.yaml")
    try text.write(to: spec, atomically: true, encoding: .utf8)
    return spec
}

@Suite("config lock and safe retry")
struct LockAndRetryTests {
    static let configs = ExecutableRunner.repositoryRoot.appendingPathComponent("configs")

    @Test("non-finite loss under use_amp is retried without it")
    func safeRetryCompletesAttemptTwo() throws {
        let folder = try ExecutableRunner.temporaryDirectory("safe-retry")
        let spec = try writeTinySweep(in: folder, extraOverrides: ["use_amp=true"])
        let out = folder.appendingPathComponent("results")
        // --max-attempts 1: the safe retry is granted even when no ordinary retry is left.
        let launch = try SweepProcess(
            "asib-sweep",
            [
                "launch", "--local", "1", "--max-attempts", "1", "--out", out.path,
                "--configs", Self.configs.path, spec.path,
            ],
            environment: ["ASIB_FAULT_NONFINITE_WITH_AMP": "1"]
        )
        let status = launch.wait(timeout: 300)
        #expect(status == 0, "stdout: \(launch.output)\nstderr: \(launch.error)")
        #expect(launch.output.contains("retrying ce_only-s1 with use_amp off after attempt 1"))

        let summary = try CSVTable(url: out.appendingPathComponent("summary.csv"))
        #expect(summary.rows.count == 1)
        let row = try #require(summary.rows.first)
        #expect(summary.value(row, "status") == "done")
        #expect(summary.value(row, "attempts") == "2")

        let epochs = try CSVTable(url: out.appendingPathComponent("epochs.csv"))
        let attempts = epochs.rows.compactMap { epochs.value($0, "attempt") }
        #expect(attempts.contains("2"), "epochs.csv: \(epochs.rows)")
        // Attempt 1 failed in its first step, before any epoch ended.
        #expect(!attempts.contains("1"))

        let configURL = out.appendingPathComponent("runs/ce_only-s1/config.json")
        let config = try String(contentsOf: configURL, encoding: .utf8)
        #expect(config.contains(#""use_amp": false"#))

        // The trained config, with use_amp switched off, still hashes to the planned lock.
        let hash = try ExecutableRunner.run("asib-sweep", ["hash", configURL.path])
        #expect(hash.status == 0, "stderr: \(hash.error)")
        let planned = try #require(summary.value(row, "config_sha256"))
        #expect(hash.output == planned + "\n")
        let raw = try ExecutableRunner.run("asib-sweep", ["hash", "--no-sanitize", configURL.path])
        #expect(raw.status == 0)
        #expect(raw.output != hash.output)
    }

    @Test("worker rejects a run whose config file changed after planning")
    func workerRejectsEditedConfig() throws {
        let folder = try ExecutableRunner.temporaryDirectory("lock-edit")
        let configs = folder.appendingPathComponent("configs")
        try FileManager.default.copyItem(at: Self.configs, to: configs)
        let spec = try writeTinySweep(in: folder)
        let out = folder.appendingPathComponent("results")

        // The coordinator plans and locks the run, then waits for a worker started by hand.
        let launch = try SweepProcess(
            "asib-sweep",
            ["launch", "--local", "0", "--out", out.path, "--configs", configs.path, spec.path]
        )
        defer { _ = launch.wait(timeout: 1) }
        let line = try #require(
            launch.awaitLine(startingWith: "coordinator: ", timeout: 120),
            "stdout: \(launch.output)\nstderr: \(launch.error)"
        )
        let endpoint = try #require(
            line.split(separator: " ").first { $0.hasPrefix("tcp://127.0.0.1:") }
        ).trimmingCharacters(in: CharacterSet(charactersIn: ","))

        // Edit a config file of the run between planning and the worker's start.
        let method = configs.appendingPathComponent("method/ce_only.yaml")
        let text = try String(contentsOf: method, encoding: .utf8)
        let edited = text.replacingOccurrences(
            of: "ce_label_smoothing: 0.0", with: "ce_label_smoothing: 0.1"
        )
        #expect(edited != text)
        try edited.write(to: method, atomically: true, encoding: .utf8)

        let worker = try ExecutableRunner.run(
            "asib-worker", ["--connect", endpoint, "--threads", "1"], timeout: 120
        )
        #expect(worker.status == 0, "stderr: \(worker.error)")
        #expect(worker.error.contains("config lock mismatch before the run"), "\(worker.error)")
        #expect(worker.error.contains("ce_label_smoothing '0.0' -> '0.1'"), "\(worker.error)")

        let status = launch.wait(timeout: 60)
        #expect(status == 1, "stdout: \(launch.output)\nstderr: \(launch.error)")
        #expect(launch.output.contains("failed ce_only-s1 (attempt 1): config lock mismatch"))
        #expect(launch.output.contains("ce_label_smoothing"))
        let summary = try CSVTable(url: out.appendingPathComponent("summary.csv"))
        let row = try #require(summary.rows.first)
        #expect(summary.value(row, "status") == "failed")
    }
}
