import ASIBSlurm
import Foundation
import Testing

/// Whether the Slurm client commands are installed. The tests then expect the one-node
/// cluster of slurm/local/start.sh to be running.
private let sbatchOnPath: Bool = {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
    return path.split(separator: ":").contains {
        FileManager.default.isExecutableFile(atPath: "\($0)/sbatch")
    }
}()

/// Tests against a real Slurm: start it first with `sudo slurm/local/start.sh`.
@Suite(
    "Local Slurm",
    .serialized,
    .enabled(
        if: sbatchOnPath, "sbatch is not on PATH; install and start Slurm with slurm/local/start.sh"
    )
)
struct LocalSlurmTests {
    private let client = SlurmClient()

    /// Writes a fake worker that appends its arguments to `markers/<name>`, where the name is
    /// computed by the shell expression `nameExpression` from the worker's arguments.
    private func writeWorker(in folder: URL, markers: URL, nameExpression: String) throws -> URL {
        try TestFiles.writeExecutable(
            "asib-worker", in: folder,
            body: """
                markers=\(ShellQuoting.quote(markers.path))
                offset=${10}
                echo "$*" >> "$markers/\(nameExpression)"
                """)
    }

    private func submission(
        worker: URL,
        logs: URL,
        runCount: Int,
        maxArraySize: Int,
        partition: String? = nil
    ) throws -> ArraySubmission {
        var options = SlurmOptions(throttle: 4, jobName: "asib-test", outputFolder: logs.path)
        options.partition = partition
        return ArraySubmission(
            options: options,
            worker: WorkerInvocation(
                workerPath: worker.path, endpoint: "tcp://127.0.0.1:9",
                planPath: worker.deletingLastPathComponent().appendingPathComponent("plan 'x'.json")
                    .path,
                planSHA256: TestFiles.planSHA256),
            runCount: runCount, maxArraySize: maxArraySize,
            template: try SbatchTemplate.load(from: TestFiles.templateURL))
    }

    /// Polls squeue every 0.3 s, for at most `seconds`, until no task of `jobIDs` is listed.
    private func waitUntilGone(_ jobIDs: [Int], seconds: Double = 90) throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try client.status(jobIDs: jobIDs).isEmpty { return true }
            Thread.sleep(forTimeInterval: 0.3)
        }
        return false
    }

    /// Polls squeue every 0.2 s, for at most 30 s, until a task of `jobIDs` is RUNNING.
    private func waitUntilRunning(_ jobIDs: [Int]) throws -> Bool {
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if try client.status(jobIDs: jobIDs).contains(where: { $0.state == "RUNNING" }) {
                return true
            }
            Thread.sleep(forTimeInterval: 0.2)
        }
        return false
    }

    private func markerLines(_ markers: URL) throws -> [String: [String]] {
        var lines: [String: [String]] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: markers.path) {
            let text = try String(contentsOf: markers.appendingPathComponent(name), encoding: .utf8)
            lines[name] = text.split(separator: "\n").map(String.init)
        }
        return lines
    }

    @Test("MaxArraySize comes from the running cluster")
    func maxArraySize() throws {
        let configured = ProcessInfo.processInfo.environment["LOCAL_SLURM_MAX_ARRAY_SIZE"] ?? "1001"
        #expect(try client.maxArraySize() == Int(configured))
    }

    @Test("array of 4 tasks runs each task once")
    func fourTasksRunOnce() throws {
        let scratch = try TestFiles.makeScratchFolder("array")
        let markers = scratch.appendingPathComponent("markers dir")
        try FileManager.default.createDirectory(at: markers, withIntermediateDirectories: true)
        let worker = try writeWorker(
            in: scratch, markers: markers, nameExpression: "task_$SLURM_ARRAY_TASK_ID")
        let logs = scratch.appendingPathComponent("logs 100% 'quoted'")
        let arrays = try submission(worker: worker, logs: logs, runCount: 4, maxArraySize: 1001)

        let submitted = try arrays.submit(with: client)
        #expect(submitted.count == 1)
        #expect(try waitUntilGone(submitted.map(\.jobID)))

        let planPath = arrays.worker.planPath
        let expected =
            "--connect tcp://127.0.0.1:9 --plan \(planPath) --plan-sha256 "
            + "\(TestFiles.planSHA256) --run-kind all --array-offset 0 --shards 4"
        let lines = try markerLines(markers)
        #expect(lines.keys.sorted() == ["task_0", "task_1", "task_2", "task_3"])
        for name in lines.keys.sorted() {
            #expect(lines[name] == [expected], "marker \(name)")
        }
        let jobID = submitted[0].jobID
        let outputs = try FileManager.default.contentsOfDirectory(atPath: logs.path)
            .filter { $0.hasSuffix(".out") }.sorted()
        #expect(outputs == (0..<4).map { "\(jobID)_\($0).out" })
    }

    @Test("split arrays run every run once")
    func splitArraysRunOnce() throws {
        let scratch = try TestFiles.makeScratchFolder("split")
        let markers = scratch.appendingPathComponent("markers")
        try FileManager.default.createDirectory(at: markers, withIntermediateDirectories: true)
        let worker = try writeWorker(
            in: scratch, markers: markers, nameExpression: "run_$((offset + SLURM_ARRAY_TASK_ID))")
        let logs = scratch.appendingPathComponent("logs")
        let arrays = try submission(worker: worker, logs: logs, runCount: 5, maxArraySize: 2)

        let submitted = try arrays.submit(with: client)
        #expect(submitted.map(\.chunk.offset) == [0, 2, 4])
        #expect(try waitUntilGone(submitted.map(\.jobID)))

        let lines = try markerLines(markers)
        #expect(lines.keys.sorted() == (0..<5).map { "run_\($0)" })
        #expect(lines.values.allSatisfy { $0.count == 1 })
    }

    @Test("invalid partition is rejected by sbatch")
    func invalidPartition() throws {
        let scratch = try TestFiles.makeScratchFolder("partition")
        let worker = try writeWorker(in: scratch, markers: scratch, nameExpression: "never")
        let arrays = try submission(
            worker: worker, logs: scratch.appendingPathComponent("logs"), runCount: 2,
            maxArraySize: 1001, partition: "nosuchpartition")

        let error = #expect(throws: SlurmError.self) { try arrays.submit(with: client) }
        #expect(error?.description.contains("invalid partition") == true)
        #expect(error?.description.contains("no job was submitted") == true)
    }

    @Test("cancel removes a running array")
    func cancelRunningArray() throws {
        let scratch = try TestFiles.makeScratchFolder("cancel")
        let worker = try TestFiles.writeExecutable(
            "asib-worker", in: scratch, body: "exec sleep 120\n")
        let arrays = try submission(
            worker: worker, logs: scratch.appendingPathComponent("logs"), runCount: 2,
            maxArraySize: 1001)

        let jobIDs = try arrays.submit(with: client).map(\.jobID)
        #expect(try waitUntilRunning(jobIDs))
        try client.cancel(jobIDs: jobIDs)
        #expect(try waitUntilGone(jobIDs, seconds: 20))
    }
}
