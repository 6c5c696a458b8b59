import Foundation
import Testing

@Suite("worker shards")
struct ShardTests {
    @Test("shard workers train only their runs")
    func shardWorkersSplitTheSweep() throws {
        let directory = try ExecutableRunner.temporaryDirectory("shards")
        let spec = try FaultInjection.tinySweep(in: directory, name: "shards", count: 4)
        let out = directory.appendingPathComponent("out")
        let port = try FaultInjection.freePort()
        let endpoint = "tcp://127.0.0.1:\(port)"
        let launch = try BackgroundProcess(
            "asib-sweep",
            ["launch", "--local", "0", "--port", "\(port)", "--configs", "configs",
             "--out", out.path, spec.path],
            logPrefix: directory.appendingPathComponent("launch")
        )
        defer { launch.kill() }

        // Shard 0/2 serves plan indices 0 and 2 and exits once both are done.
        let first = try BackgroundProcess(
            "asib-worker",
            ["--connect", endpoint, "--shard", "0/2", "--worker-id", "shard-0",
             "--spool", directory.appendingPathComponent("spool-0").path],
            logPrefix: directory.appendingPathComponent("shard-0")
        )
        #expect(first.wait(timeout: 120), "shard 0/2 did not exit; stderr: \(first.error.suffix(2000))")
        #expect(first.process.terminationStatus == 0)
        #expect(launch.isRunning, "the coordinator ended before shard 1/2 ran")

        let second = try BackgroundProcess(
            "asib-worker",
            ["--connect", endpoint, "--shard", "1/2", "--worker-id", "shard-1",
             "--spool", directory.appendingPathComponent("spool-1").path],
            logPrefix: directory.appendingPathComponent("shard-1")
        )
        #expect(second.wait(timeout: 120), "shard 1/2 did not exit; stderr: \(second.error.suffix(2000))")
        #expect(launch.wait(timeout: 60), "launch did not finish; stderr: \(launch.error.suffix(2000))")

        let summary = try CSVTable(url: out.appendingPathComponent("summary.csv"))
        #expect(summary.rows.count == 4)
        for row in summary.rows {
            #expect(summary.value(row, "status") == "done")
        }
        // Each worker logs the runs it was assigned; the plan indices of the seeds 1...4 are
        // 0...3, so shard 0/2 trains seeds 1 and 3.
        for (worker, log) in [("shard 0/2", first.error), ("shard 1/2", second.error)] {
            let own = worker == "shard 0/2" ? ["ce_only-s1", "ce_only-s3"] : ["ce_only-s2", "ce_only-s4"]
            let other = worker == "shard 0/2" ? ["ce_only-s2", "ce_only-s4"] : ["ce_only-s1", "ce_only-s3"]
            for run in own {
                #expect(log.contains(run), "\(worker) never trained \(run): \(log.suffix(2000))")
            }
            for run in other {
                #expect(!log.contains(run), "\(worker) trained \(run) of the other shard")
            }
        }
    }

    @Test(arguments: ["2/2", "x/2", "1", "0/0", "-1/2"])
    func invalidShardIsRejected(shard: String) throws {
        let result = try ExecutableRunner.run(
            "asib-worker", ["--connect", "tcp://127.0.0.1:1", "--shard", shard]
        )
        #expect(result.status == 64)
        #expect(result.error.contains("invalid --shard '\(shard)'"), "\(result.error)")
    }
}
