import ASIBCoordinator
import ASIBWire
import Foundation
import Testing

/// Runs `Coordinator.serve` on a thread of its own, so a test can play the workers.
private final class ServingThread: @unchecked Sendable {
    private let coordinator: Coordinator
    private let finished = DispatchSemaphore(value: 0)
    private(set) var outcome: Coordinator.Outcome?
    private(set) var error: Error?

    init(_ coordinator: Coordinator) {
        self.coordinator = coordinator
        Thread.detachNewThread { [self] in
            do {
                outcome = try coordinator.serve(pool: nil)
            } catch {
                self.error = error
            }
            finished.signal()
        }
    }

    /// Waits at most `seconds` for `serve` to return.
    func wait(seconds: Double) -> Bool {
        finished.wait(timeout: .now() + seconds) == .success
    }
}

/// One DEALER that speaks for a worker.
private struct FakeWorker {
    let socket: ZMQSocket
    let id: String

    init(
        context: ZMQContext, endpoint: String, id: String, runIndices: [Int]?,
        routingID: String? = nil
    ) throws {
        socket = try ZMQSocket(context: context, kind: .dealer)
        try socket.setRoutingID(routingID ?? id)
        try socket.connect(endpoint)
        self.id = id
        try socket.send(
            WireProtocol.encode(
                .hello, HelloBody(workerId: id, host: "test", pid: 1, shard: nil, runIndices: runIndices)))
    }

    func ready() throws {
        try socket.send(WireProtocol.encode(.ready, ReadyBody(workerId: id)))
    }

    func done(_ assignment: AssignBody) throws {
        try socket.send(
            WireProtocol.encode(
                .done,
                DoneBody(
                    runId: assignment.runId, attempt: assignment.attempt, finalAccuracy: 50,
                    bestAccuracy: 50, seconds: 1)))
    }

    /// Waits up to 5 s for the next ASSIGN or SHUTDOWN, skipping ACKs.
    func nextInstruction() throws -> (WireProtocol.MessageType, Data)? {
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline {
            guard let frames = try socket.receive(timeout: .milliseconds(200)) else { continue }
            let (type, body) = try WireProtocol.decodeEnvelope(frames)
            if type == .assign || type == .shutdown {
                return (type, body)
            }
        }
        return nil
    }

    /// Waits for ASSIGN and accepts it, as a real worker does, so the coordinator's offer
    /// becomes the worker's attempt.
    func expectAssignment() throws -> AssignBody {
        let (type, body) = try #require(try nextInstruction(), "no reply to \(id)")
        #expect(type == .assign, "worker \(id)")
        let assignment = try WireProtocol.decodeBody(AssignBody.self, body)
        try socket.send(
            WireProtocol.encode(
                .accept,
                AcceptBody(runId: assignment.runId, attempt: assignment.attempt, workerId: id)))
        return assignment
    }

    func expectShutdown() throws -> String {
        let (type, body) = try #require(try nextInstruction(), "no reply to \(id)")
        #expect(type == .shutdown, "worker \(id)")
        return try WireProtocol.decodeBody(ShutdownBody.self, body).reason
    }
}

@Suite("Coordinator with run indices", .serialized)
struct ServedRunsTests {
    @Test("worker gets only its runs and leaves when they finish")
    func servedRunsOnly() throws {
        let fixture = try StoreFixture()
        let records = [StoreFixture.record(index: 0), StoreFixture.record(index: 1, seed: 2)]
        let store = try fixture.storeWithPlan(records)
        let runs = records.map {
            CoordinatorRun(
                index: $0.index, runID: $0.runID, kind: $0.kind, method: $0.method, rung: $0.rung,
                seed: $0.seed, configSHA256: $0.configSHA256, dependsOn: [], overrides: [],
                configJSON: "{}")
        }
        let coordinator = try Coordinator(
            runs: runs,
            options: .init(
                endpoint: "tcp://127.0.0.1:*", resultsDirectory: fixture.folder,
                configRoot: fixture.folder, primaryConfig: "base", planSHA256: "plan-1"),
            store: store)
        let endpoint = try coordinator.bind()
        let serving = ServingThread(coordinator)
        let context = try ZMQContext()

        // Run 0 is ready first, but worker A serves run 1 only.
        let workerA = try FakeWorker(context: context, endpoint: endpoint, id: "a", runIndices: [1])
        try workerA.ready()
        let assignmentA = try workerA.expectAssignment()
        #expect(assignmentA.index == 1)

        // A worker that names an index outside the plan gets no run.
        let stranger = try FakeWorker(
            context: context, endpoint: endpoint, id: "c", runIndices: [7])
        try stranger.ready()
        #expect(try stranger.expectShutdown() == "this worker serves no run of this plan")

        let workerB = try FakeWorker(context: context, endpoint: endpoint, id: "b", runIndices: nil)
        try workerB.ready()
        let assignmentB = try workerB.expectAssignment()
        #expect(assignmentB.index == 0)

        // A is shut down as soon as its run is done, while run 0 still runs.
        try workerA.done(assignmentA)
        try workerA.ready()
        #expect(try workerA.expectShutdown() == "every run this worker serves has finished")

        try workerB.done(assignmentB)
        try workerB.ready()
        #expect(try workerB.expectShutdown() == "sweep finished")
        #expect(serving.wait(seconds: 10))
        #expect(serving.error == nil)
        #expect(serving.outcome?.done == 2)
        let statuses = try store.runs().map(\.status)
        #expect(statuses == ["done", "done"])
    }

    @Test("restarted array task gets its run again")
    func restartedTask() throws {
        let fixture = try StoreFixture()
        let records = [StoreFixture.record(index: 0)]
        let store = try fixture.storeWithPlan(records)
        let runs = records.map {
            CoordinatorRun(
                index: $0.index, runID: $0.runID, kind: $0.kind, method: $0.method, rung: $0.rung,
                seed: $0.seed, configSHA256: $0.configSHA256, dependsOn: [], overrides: [],
                configJSON: "{}")
        }
        let coordinator = try Coordinator(
            runs: runs,
            options: .init(
                endpoint: "tcp://127.0.0.1:*", resultsDirectory: fixture.folder,
                configRoot: fixture.folder, primaryConfig: "base", planSHA256: "plan-1"),
            store: store)
        let endpoint = try coordinator.bind()
        let serving = ServingThread(coordinator)
        let context = try ZMQContext()

        let first = try FakeWorker(
            context: context, endpoint: endpoint, id: "slurm-9_0", runIndices: [0],
            routingID: "first")
        try first.ready()
        #expect(try first.expectAssignment().attempt == 1)

        // The same task connects again from a new process, as after a Slurm requeue.
        let second = try FakeWorker(
            context: context, endpoint: endpoint, id: "slurm-9_0", runIndices: [0],
            routingID: "second")
        try second.ready()
        let retry = try second.expectAssignment()
        #expect(retry.index == 0)
        #expect(retry.attempt == 2)
        try second.done(retry)
        try second.ready()
        #expect(try second.expectShutdown() == "sweep finished")
        #expect(serving.wait(seconds: 10))
        #expect(serving.outcome?.done == 1)
    }

    @Test("HELLO without run indices decodes as any run")
    func helloBackwardCompatible() throws {
        let old = #"{"host":"h","pid":3,"protocol_version":1,"worker_id":"w"}"#
        let hello = try WireProtocol.decodeBody(HelloBody.self, Data(old.utf8))
        #expect(hello.runIndices == nil)
        let frames = try WireProtocol.encode(
            .hello, HelloBody(workerId: "w", host: "h", pid: 3, shard: nil))
        #expect(!String(decoding: frames[2], as: UTF8.self).contains("run_indices"))
        let withIndices = try WireProtocol.encode(
            .hello, HelloBody(workerId: "w", host: "h", pid: 3, shard: nil, runIndices: [2, 5]))
        #expect(String(decoding: withIndices[2], as: UTF8.self).contains(#""run_indices":[2,5]"#))
    }
}
