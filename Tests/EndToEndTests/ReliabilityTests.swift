import ASIBWire
import Foundation
import Testing

/// Fault injection with real processes: workers and coordinators killed with SIGKILL,
/// garbage on the wire and workers with wrong keys. Each test prints its figures, which
/// RELIABILITY.md records.
@Suite("reliability", .serialized)
struct ReliabilityTests {
    static let runCount = 30
    /// Training images per chaos run: enough that a run of two epochs lasts over a second with
    /// the AVX-512 kernels, so the sweep outlasts the planned kills and restarts.
    static let chaosImages = 512

    @Test("sweep survives killed workers")
    func killedWorkers() throws {
        let directory = try ExecutableRunner.temporaryDirectory("chaos-workers")
        let spec = try FaultInjection.tinySweep(
            in: directory, name: "chaos", count: Self.runCount, trainImages: Self.chaosImages,
            epochs: 2
        )
        let out = directory.appendingPathComponent("out")
        let started = Date()
        let launch = try BackgroundProcess(
            "asib-sweep",
            ["launch", "--local", "3", "--worker-restarts", "30", "--max-attempts", "10",
             "--configs", "configs", "--out", out.path, spec.path],
            logPrefix: directory.appendingPathComponent("launch")
        )

        // Kill a random worker of this launch every 0.8-1.6 s, at most 14 times and for no
        // longer than 90 s. A run takes about 1.5 s here, most of it reading the dataset,
        // so faster kills would keep the run at the head of the queue from ever finishing.
        var kills = 0
        var generator = SystemRandomNumberGenerator()
        let chaosDeadline = Date().addingTimeInterval(90)
        while launch.isRunning && kills < 14 && Date() < chaosDeadline {
            Thread.sleep(forTimeInterval: Double.random(in: 0.8...1.6, using: &generator))
            let workers = FaultInjection.children(of: launch.pid)
            guard let victim = workers.randomElement(using: &generator) else { continue }
            if kill(victim, SIGKILL) == 0 {
                kills += 1
            }
        }
        let finished = launch.wait(timeout: 120)
        let seconds = Date().timeIntervalSince(started)
        print("reliability: killed workers \(kills) times; sweep of \(Self.runCount) runs took \(String(format: "%.1f", seconds)) s")

        #expect(finished, "launch did not finish; stderr: \(launch.error.suffix(2000))")
        #expect(launch.process.terminationStatus == 0, "stderr: \(launch.error.suffix(2000))")
        #expect(kills >= 10, "only \(kills) kills happened before the sweep finished")
        let problems = try FaultInjection.exactlyOnceProblems(results: out, runs: Self.runCount, epochs: 2)
        #expect(problems.isEmpty, "\(problems)")
        let requeued = launch.output.components(separatedBy: "retrying ").count - 1
        let late = launch.error.components(separatedBy: "late message").count - 1
        print("reliability: \(requeued) runs queued again after a worker died; \(late) late messages recorded")
    }

    @Test("sweep survives coordinator restarts")
    func restartedCoordinator() throws {
        let directory = try ExecutableRunner.temporaryDirectory("chaos-coordinator")
        let spec = try FaultInjection.tinySweep(
            in: directory, name: "restart", count: Self.runCount, trainImages: Self.chaosImages,
            epochs: 2
        )
        let out = directory.appendingPathComponent("out")
        let port = try FaultInjection.freePort()
        let endpoint = "tcp://127.0.0.1:\(port)"
        let launchArguments = [
            "launch", "--local", "0", "--port", String(port), "--max-attempts", "10",
            "--configs", "configs", "--out", out.path, spec.path,
        ]
        let started = Date()
        var workers: [BackgroundProcess] = []
        defer {
            for worker in workers { worker.kill() }
        }
        for number in 1...3 {
            workers.append(try BackgroundProcess(
                "asib-worker",
                ["--connect", endpoint, "--threads", "1", "--worker-id", "w\(number)",
                 "--spool", directory.appendingPathComponent("spool-\(number)").path],
                logPrefix: directory.appendingPathComponent("worker-\(number)")
            ))
        }

        var restarts = 0
        var coordinator = try BackgroundProcess(
            "asib-sweep", launchArguments, logPrefix: directory.appendingPathComponent("launch-0")
        )
        // Kill the coordinator three times while runs are in flight, 1.5-3 s after each start.
        while restarts < 3 && coordinator.isRunning {
            Thread.sleep(forTimeInterval: Double.random(in: 1.5...3.0))
            guard coordinator.isRunning else { break }
            coordinator.kill()
            restarts += 1
            coordinator = try BackgroundProcess(
                "asib-sweep", launchArguments,
                logPrefix: directory.appendingPathComponent("launch-\(restarts)")
            )
        }
        let finished = coordinator.wait(timeout: 120)
        let seconds = Date().timeIntervalSince(started)
        for worker in workers {
            worker.wait(timeout: 15)
        }
        print("reliability: coordinator killed \(restarts) times; sweep of \(Self.runCount) runs took \(String(format: "%.1f", seconds)) s")
        var reclaimed = 0
        var requeued = 0
        for launchNumber in 0...restarts {
            let output = (try? String(
                contentsOf: directory.appendingPathComponent("launch-\(launchNumber).out"), encoding: .utf8
            )) ?? ""
            reclaimed += output.components(separatedBy: "reclaimed ").count - 1
            requeued += output.components(separatedBy: "retrying ").count - 1
        }
        print("reliability: \(reclaimed) runs reclaimed by reconnecting workers, \(requeued) queued again")

        #expect(restarts == 3, "the sweep finished after \(restarts) restarts")
        #expect(finished, "last coordinator did not finish; stderr: \(coordinator.error.suffix(2000))")
        #expect(coordinator.process.terminationStatus == 0, "stderr: \(coordinator.error.suffix(2000))")
        let problems = try FaultInjection.exactlyOnceProblems(results: out, runs: Self.runCount, epochs: 2)
        #expect(problems.isEmpty, "\(problems)")
        for (number, worker) in workers.enumerated() {
            #expect(!worker.isRunning, "worker \(number + 1) still running")
            let spool = directory.appendingPathComponent("spool-\(number + 1)")
            let left = try FileManager.default.contentsOfDirectory(atPath: spool.path).filter { $0.hasSuffix(".json") }
            #expect(left.isEmpty, "worker \(number + 1) kept unacknowledged records \(left)")
        }
    }

    @Test("interrupted launch resumes without using up an attempt")
    func interruptedLaunchResumes() throws {
        // One attempt per run: the attempt that the interrupt stops must not count, or the
        // second launch would fail the run instead of resuming it.
        let directory = try ExecutableRunner.temporaryDirectory("interrupt")
        let spec = try FaultInjection.tinySweep(
            in: directory, name: "interrupt", count: 2, trainImages: 4 * Self.chaosImages,
            epochs: 6
        )
        let out = directory.appendingPathComponent("out")
        let arguments = [
            "launch", "--local", "1", "--max-attempts", "1", "--configs", "configs",
            "--out", out.path, spec.path,
        ]
        let first = try BackgroundProcess(
            "asib-sweep", arguments, logPrefix: directory.appendingPathComponent("launch-0")
        )
        defer { first.kill() }
        // Interrupt once a run has reported its first epoch, while it trains the next ones.
        let deadline = Date().addingTimeInterval(60)
        var workers: [Int32] = []
        while first.isRunning && Date() < deadline {
            workers = FaultInjection.children(of: first.pid)
            if first.output.contains("student epoch 1:") { break }
            Thread.sleep(forTimeInterval: 0.05)
        }
        try #require(first.isRunning, "the sweep ended before the interrupt: \(first.output)")
        try #require(!workers.isEmpty)
        kill(first.pid, SIGINT)
        #expect(first.wait(timeout: 20), "launch did not stop on SIGINT")
        #expect(first.process.terminationStatus == 128 + SIGINT)
        for pid in workers {
            // A stopped worker is gone or a zombie of the exited launch, never running.
            let state = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
            let fields = state.split(separator: ")").last?.split(separator: " ") ?? []
            #expect(fields.first.map { $0 == "Z" || $0 == "X" } ?? true, "worker \(pid) still runs")
        }

        let second = try BackgroundProcess(
            "asib-sweep", arguments, logPrefix: directory.appendingPathComponent("launch-1")
        )
        let finished = second.wait(timeout: 120)
        #expect(finished, "second launch did not finish; stderr: \(second.error.suffix(2000))")
        #expect(second.process.terminationStatus == 0, "stderr: \(second.error.suffix(2000))")
        #expect(second.output.contains("was interrupted"))
        let problems = try FaultInjection.exactlyOnceProblems(results: out, runs: 2, epochs: 6)
        #expect(problems.isEmpty, "\(problems)")
    }

    @Test("silent worker loses its lease")
    func silentWorkerLosesLease() throws {
        let directory = try ExecutableRunner.temporaryDirectory("lease")
        let spec = directory.appendingPathComponent("lease.yaml")
        try """
            sweep: lease
            config: base
            overrides:
              - dataset.train_limit=300
              - dataset.test_limit=100
              - dataset.batch_size=50
              - student_epochs=1
            students:
              model: resnet8
              axes:
                method: [ce_only]
                rung: [none]
                seed: [1, 2, 3]

            """.write(to: spec, atomically: true, encoding: .utf8)
        let out = directory.appendingPathComponent("out")
        let port = try FaultInjection.freePort()
        let endpoint = "tcp://127.0.0.1:\(port)"
        let launch = try BackgroundProcess(
            "asib-sweep",
            ["launch", "--local", "0", "--port", String(port), "--configs", "configs",
             "--out", out.path, spec.path],
            logPrefix: directory.appendingPathComponent("launch")
        )
        defer { launch.kill() }
        var workers: [BackgroundProcess] = []
        defer {
            for worker in workers { worker.kill() }
        }
        for name in ["silent", "steady"] {
            workers.append(try BackgroundProcess(
                "asib-worker",
                ["--connect", endpoint, "--threads", "1", "--worker-id", name,
                 "--spool", directory.appendingPathComponent("spool-\(name)").path],
                logPrefix: directory.appendingPathComponent(name)
            ))
        }
        let silent = workers[0]

        // Stop the first worker (SIGSTOP freezes its heartbeat thread too) once it trains.
        var deadline = Date().addingTimeInterval(30)
        // The coordinator prints "started ... on silent" once ACCEPT arrived; stopping the
        // worker earlier could freeze the ACCEPT in its send queue.
        while !launch.output.contains("on silent") && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.02)
        }
        #expect(kill(silent.pid, SIGSTOP) == 0)
        deadline = Date().addingTimeInterval(30)
        while !launch.output.contains("lease expired") && launch.isRunning && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.1)
        }
        #expect(kill(silent.pid, SIGCONT) == 0)
        let finished = launch.wait(timeout: 60)
        for worker in workers {
            worker.wait(timeout: 15)
        }

        #expect(finished, "stderr: \(launch.error.suffix(2000))")
        #expect(launch.process.terminationStatus == 0, "stderr: \(launch.error.suffix(2000))")
        #expect(launch.output.contains("lease expired: no message from worker silent"), "\(launch.output)")
        // After SIGCONT the old attempt learns that it lost the run, from the CANCEL sent in
        // reply to its heartbeat or from the late record of its EPOCH or DONE.
        let noticed = silent.error.contains("attempt cancelled") || launch.error.contains("late message")
        #expect(noticed, "worker: \(silent.error.suffix(1500))\ncoordinator: \(launch.error.suffix(1500))")
        let problems = try FaultInjection.exactlyOnceProblems(results: out, runs: 3, epochs: 1)
        #expect(problems.isEmpty, "\(problems)")
    }

    @Test("killed run resumes after last epoch")
    func killedRunResumes() throws {
        let directory = try ExecutableRunner.temporaryDirectory("resume")
        let spec = directory.appendingPathComponent("resume.yaml")
        try """
            sweep: resume
            config: base
            overrides:
              - dataset.train_limit=500
              - dataset.test_limit=100
              - dataset.batch_size=50
              - student_epochs=3
            students:
              model: resnet8
              axes:
                method: [ce_only]
                rung: [none]
                seed: [1]

            """.write(to: spec, atomically: true, encoding: .utf8)
        let out = directory.appendingPathComponent("out")
        let launch = try BackgroundProcess(
            "asib-sweep",
            ["launch", "--local", "1", "--worker-restarts", "1", "--configs", "configs",
             "--out", out.path, spec.path],
            logPrefix: directory.appendingPathComponent("launch")
        )
        defer { launch.kill() }

        // Kill the worker once the resume state of epoch 1 is on disk.
        let resumeFile = out.appendingPathComponent("runs/ce_only-s1/resume.bin")
        let deadline = Date().addingTimeInterval(120)
        while !FileManager.default.fileExists(atPath: resumeFile.path) && launch.isRunning && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.02)
        }
        try #require(
            FileManager.default.fileExists(atPath: resumeFile.path),
            "no resume state after 120 s; stderr: \(launch.error.suffix(2000))"
        )
        let victim = try #require(FaultInjection.children(of: launch.pid).first)
        #expect(kill(victim, SIGKILL) == 0)
        let finished = launch.wait(timeout: 90)

        #expect(finished, "stderr: \(launch.error.suffix(2000))")
        #expect(launch.process.terminationStatus == 0, "stderr: \(launch.error.suffix(2000))")
        let workerLog = try String(contentsOf: out.appendingPathComponent("logs/worker-1.log"), encoding: .utf8)
        #expect(workerLog.contains("resuming after epoch"), "\(workerLog.suffix(2000))")

        let summary = try CSVTable(url: out.appendingPathComponent("summary.csv"))
        let row = try #require(summary.rows.first)
        #expect(summary.value(row, "status") == "done")
        #expect(summary.value(row, "attempts") == "2")
        for epoch in 1...3 {
            #expect(summary.value(row, "student_ep\(epoch)_acc")?.isEmpty == false, "epoch \(epoch)")
        }
        let epochs = try CSVTable(url: out.appendingPathComponent("epochs.csv"))
        let secondAttempt = epochs.rows.filter { epochs.value($0, "attempt") == "2" }
            .compactMap { epochs.value($0, "local_epoch").flatMap(Int.init) }
        // The resume state after epoch 1 existed before the kill, so attempt 2 skips epoch 1.
        #expect(!secondAttempt.isEmpty)
        #expect(!secondAttempt.contains(1), "attempt 2 reported epochs \(secondAttempt)")
        #expect(secondAttempt.last == 3)
    }

    @Test("relaunch trains only changed runs")
    func relaunchChangedConfig() throws {
        let directory = try ExecutableRunner.temporaryDirectory("relaunch")
        let spec = try FaultInjection.tinySweep(in: directory, name: "relaunch", count: 2)
        let out = directory.appendingPathComponent("out")
        let base = ["launch", "--local", "1", "--configs", "configs", "--out", out.path, spec.path]
        let first = try ExecutableRunner.run("asib-sweep", base, timeout: 120)
        #expect(first.status == 0, "stderr: \(first.error)")

        let unchanged = try ExecutableRunner.run("asib-sweep", base, timeout: 120)
        #expect(unchanged.status == 0, "stderr: \(unchanged.error)")
        #expect(!unchanged.output.contains("started "), "\(unchanged.output)")

        // Another learning rate changes every run's config hash: both train again as new runs.
        let changed = try ExecutableRunner.run("asib-sweep", base + ["student_lr=0.02"], timeout: 120)
        #expect(changed.status == 0, "stderr: \(changed.error)")
        let started = changed.output.split(separator: "\n").filter { $0.hasPrefix("started ") }
        #expect(started.count == 2, "\(changed.output)")
        #expect(changed.output.contains("old results kept as ce_only-s1@"), "\(changed.output)")
        let folders = try FileManager.default.contentsOfDirectory(atPath: out.appendingPathComponent("runs").path)
        #expect(folders.filter { $0.contains("@") }.count == 2, "\(folders)")
        let summary = try CSVTable(url: out.appendingPathComponent("summary.csv"))
        #expect(summary.rows.count == 2)
        #expect(summary.rows.allSatisfy { summary.value($0, "attempts") == "1" })
    }

    @Test("garbage frames leave the coordinator up")
    func garbageFrames() throws {
        let directory = try ExecutableRunner.temporaryDirectory("garbage")
        let spec = try FaultInjection.tinySweep(in: directory, name: "garbage", count: 6)
        let out = directory.appendingPathComponent("out")
        let port = try FaultInjection.freePort()
        let launch = try BackgroundProcess(
            "asib-sweep",
            ["launch", "--local", "2", "--port", String(port), "--configs", "configs",
             "--out", out.path, spec.path],
            logPrefix: directory.appendingPathComponent("launch")
        )

        let bindDeadline = Date().addingTimeInterval(30)
        while !launch.output.contains("coordinator: ") && launch.isRunning && Date() < bindDeadline {
            Thread.sleep(forTimeInterval: 0.05)
        }
        let context = try ZMQContext()
        let socket = try ZMQSocket(context: context, kind: .dealer)
        try socket.setHighWaterMarks(20_000)
        try socket.connect("tcp://127.0.0.1:\(port)")
        var generator = SystemRandomNumberGenerator()
        let started = Date()
        var sent = 0
        for index in 0..<10_000 {
            let frames = GarbageFrames.make(index: index, using: &generator)
            if try socket.sendNow(frames) {
                sent += 1
            } else {
                Thread.sleep(forTimeInterval: 0.001)
            }
        }
        let sendSeconds = Date().timeIntervalSince(started)
        let finished = launch.wait(timeout: 120)
        socket.close()
        let rejectedLines = launch.error.components(separatedBy: "rejected message").count - 1
        print("reliability: \(sent) of 10000 garbage messages queued in \(String(format: "%.2f", sendSeconds)) s; \(rejectedLines) rejection log lines")

        #expect(sent >= 9_000, "only \(sent) garbage messages could be queued")
        #expect(finished, "launch did not finish; stderr: \(launch.error.suffix(2000))")
        #expect(launch.process.terminationStatus == 0, "stderr: \(launch.error.suffix(2000))")
        #expect(rejectedLines > 0)
        // The first 20 rejections are logged, then one line per hundred.
        #expect(rejectedLines <= 20 + 10_000 / 100 + 10)
        let problems = try FaultInjection.exactlyOnceProblems(results: out, runs: 6, epochs: 1)
        #expect(problems.isEmpty, "\(problems)")
    }

    @Test("worker without the right key gets no work")
    func curveRejectsUnknownKeys() throws {
        #expect(CurveSupport.isAvailable, "Debian's libzmq5 is built with CURVE")
        let directory = try ExecutableRunner.temporaryDirectory("curve")
        let good = directory.appendingPathComponent("keys")
        let stranger = directory.appendingPathComponent("stranger")
        for folder in [good, stranger] {
            let made = try ExecutableRunner.run("asib-sweep", ["keys", folder.path])
            #expect(made.status == 0, "stderr: \(made.error)")
        }
        for name in ["coordinator.secret", "worker.secret", "authorized_workers"] {
            let attributes = try FileManager.default.attributesOfItem(atPath: good.appendingPathComponent(name).path)
            #expect((attributes[.posixPermissions] as? Int) == 0o600, "mode of \(name)")
        }
        // The stranger has the coordinator's public key but an unlisted key pair of its own.
        try FileManager.default.removeItem(at: stranger.appendingPathComponent("coordinator.pub"))
        try FileManager.default.copyItem(
            at: good.appendingPathComponent("coordinator.pub"),
            to: stranger.appendingPathComponent("coordinator.pub")
        )

        let spec = try FaultInjection.tinySweep(in: directory, name: "curve", count: 2)
        let out = directory.appendingPathComponent("out")
        let port = try FaultInjection.freePort()
        let endpoint = "tcp://127.0.0.1:\(port)"
        let launch = try BackgroundProcess(
            "asib-sweep",
            ["launch", "--local", "0", "--port", String(port), "--keys", good.path,
             "--configs", "configs", "--out", out.path, spec.path],
            logPrefix: directory.appendingPathComponent("launch")
        )
        defer { launch.kill() }
        var intruders: [BackgroundProcess] = []
        defer {
            for intruder in intruders { intruder.kill() }
        }
        intruders.append(try BackgroundProcess(
            "asib-worker",
            ["--connect", endpoint, "--worker-id", "wrong-key", "--keys", stranger.path,
             "--spool", directory.appendingPathComponent("spool-wrong").path],
            logPrefix: directory.appendingPathComponent("wrong-key")
        ))
        intruders.append(try BackgroundProcess(
            "asib-worker",
            ["--connect", endpoint, "--worker-id", "no-key",
             "--spool", directory.appendingPathComponent("spool-none").path],
            logPrefix: directory.appendingPathComponent("no-key")
        ))
        Thread.sleep(forTimeInterval: 4)
        #expect(!launch.output.contains("started "), "an unauthenticated worker got work: \(launch.output)")
        #expect(launch.error.contains("rejected connection"), "stderr: \(launch.error.suffix(2000))")

        let member = try BackgroundProcess(
            "asib-worker",
            ["--connect", endpoint, "--worker-id", "member", "--keys", good.path,
             "--spool", directory.appendingPathComponent("spool-member").path],
            logPrefix: directory.appendingPathComponent("member")
        )
        let finished = launch.wait(timeout: 60)
        member.wait(timeout: 15)
        #expect(finished, "stderr: \(launch.error.suffix(2000))")
        #expect(launch.process.terminationStatus == 0, "stderr: \(launch.error.suffix(2000))")
        for intruder in intruders {
            #expect(!intruder.error.contains("run assigned"), "\(intruder.error.suffix(1000))")
        }
        let startedLines = launch.output.split(separator: "\n").filter { $0.hasPrefix("started ") }
        #expect(startedLines.count == 2)
        #expect(startedLines.allSatisfy { $0.hasSuffix(" on member") }, "\(startedLines)")
    }
}

/// Messages a hostile or broken peer might send: random bytes, wrong frame counts, unknown
/// versions and types, malformed JSON, valid envelopes with unknown run ids, truncated
/// copies of valid messages and, rarely, a message over the size limit.
enum GarbageFrames {
    static func make(index: Int, using generator: inout SystemRandomNumberGenerator) -> [Data] {
        func bytes(_ count: Int) -> Data {
            Data((0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) })
        }
        let version = Data(WireProtocol.version.utf8)
        let epoch = Data(#"{"attempt":1,"epoch":1,"metrics":{"acc":50},"phase":"student","run_id":"no-such-run","seq":1}"#.utf8)
        switch index % 9 {
        case 0:
            return (0..<Int.random(in: 1...6, using: &generator)).map { _ in bytes(Int.random(in: 0...64, using: &generator)) }
        case 1:
            return [Data("asib/99".utf8), Data("READY".utf8), Data("{}".utf8)]
        case 2:
            return [version, Data("EPOCH".utf8), Data("{not json".utf8)]
        case 3:
            return [version, Data("EPOCH".utf8), epoch]
        case 4:
            return [version, Data("EPOCH".utf8), epoch.prefix(Int.random(in: 0..<epoch.count, using: &generator))]
        case 5:
            return [version, Data("DONE".utf8)]
        case 6:
            return [version, Data("DANCE".utf8), Data("{}".utf8)]
        case 7:
            return [version, Data("ASSIGN".utf8), Data("{}".utf8), Data()]
        default:
            // One message in 900 exceeds ZMQ_MAXMSGSIZE, which makes libzmq drop the
            // connection; the DEALER reconnects by itself.
            if index % 900 == 8 {
                return [version, Data("EPOCH".utf8), Data(count: Int(WireProtocol.maxMessageBytes) + 1)]
            }
            return [version, Data("HEARTBEAT".utf8), bytes(Int.random(in: 0...128, using: &generator))]
        }
    }
}
