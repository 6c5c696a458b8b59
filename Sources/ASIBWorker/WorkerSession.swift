import ASIBSupport
import ASIBWire
import Foundation

/// A worker's conversation with the coordinator: ask for a run, train it, report, repeat.
public final class WorkerSession {
    private let endpoint: String
    private let workerID: String
    private let shard: String?
    private let runIndices: [Int]?
    private let context: ZMQContext
    private let socket: ZMQSocket
    private var sequence = 0
    /// Run id to whether its latest attempt on this worker ended in DONE.
    private var latestOutcomes: [String: Bool] = [:]

    /// Runs whose latest attempt on this worker failed, in run id order. A Slurm array task
    /// exits non-zero when this is not empty, so `afterok` dependents do not start.
    public var failedRuns: [String] {
        latestOutcomes.filter { !$0.value }.keys.sorted()
    }

    /// `runIndices` restricts the worker to these plan indices (sent in HELLO); nil for any run.
    public init(endpoint: String, workerID: String, shard: String?, runIndices: [Int]? = nil) throws {
        self.endpoint = endpoint
        self.workerID = workerID
        self.shard = shard
        self.runIndices = runIndices
        context = try ZMQContext()
        socket = try ZMQSocket(context: context, kind: .dealer)
        try socket.setRoutingID("\(workerID)-\(getpid())")
        try socket.setHighWaterMarks(WireProtocol.highWaterMark)
        try socket.limitMessageSize(WireProtocol.maxMessageBytes)
    }

    /// Serves runs until the coordinator sends SHUTDOWN. Returns the number of runs trained.
    public func serve() throws -> Int {
        try socket.connect(endpoint)
        let hello = HelloBody(
            workerId: workerID, host: ProcessInfo.processInfo.hostName, pid: getpid(), shard: shard,
            runIndices: runIndices
        )
        try socket.send(WireProtocol.encode(.hello, hello))
        Log.notice("connected", ["endpoint": endpoint, "worker": workerID])

        var trained = 0
        while true {
            try socket.send(WireProtocol.encode(.ready, ReadyBody(workerId: workerID)))
            guard let (type, body) = try awaitInstruction() else {
                // NOTE: a worker that serves a fixed set of runs (`runIndices`, a Slurm array
                // task) could train them without the coordinator and keep their metrics for a
                // later merge; until that exists, an unreachable coordinator ends the worker.
                throw RuntimeFailure(
                    "no reply from the coordinator at '\(endpoint)' for "
                        + "\(WireProtocol.coordinatorSilenceLimit); is 'asib-sweep launch' running?"
                )
            }
            switch type {
            case .assign:
                let assignment = try WireProtocol.decodeBody(AssignBody.self, body)
                try execute(assignment)
                trained += 1
            case .shutdown:
                let reason = (try? WireProtocol.decodeBody(ShutdownBody.self, body))?.reason ?? "-"
                Log.notice("shutting down", ["reason": reason, "runs_trained": trained])
                socket.close()
                return trained
            default:
                Log.warning("unexpected message while idle", ["type": type.rawValue])
            }
        }
    }

    /// Waits for ASSIGN or SHUTDOWN, skipping late ACKs. Re-sends READY while the coordinator
    /// is silent, and returns nil when it stays silent past the limit.
    private func awaitInstruction() throws -> (WireProtocol.MessageType, Data)? {
        let deadline = ContinuousClock.now + WireProtocol.coordinatorSilenceLimit
        var lastReady = ContinuousClock.now
        while ContinuousClock.now < deadline {
            if let frames = try socket.receive(timeout: .milliseconds(200)) {
                do {
                    let (type, body) = try WireProtocol.decodeEnvelope(frames)
                    if type == .assign || type == .shutdown {
                        return (type, body)
                    }
                } catch {
                    Log.warning("rejected message from coordinator", ["error": error])
                }
            }
            if ContinuousClock.now - lastReady > WireProtocol.readyRetry {
                // READY is idempotent on the coordinator side, so asking again is safe.
                try socket.send(WireProtocol.encode(.ready, ReadyBody(workerId: workerID)))
                lastReady = ContinuousClock.now
            }
        }
        return nil
    }

    private func execute(_ assignment: AssignBody) throws {
        Log.notice("run assigned", ["run": assignment.runId, "attempt": assignment.attempt])
        sequence = 0
        let executor = RunExecutor(assignment: assignment)
        do {
            let outcome = try executor.run { phase, epoch, metrics in
                self.sequence += 1
                let message = EpochBody(
                    runId: assignment.runId, attempt: assignment.attempt, seq: self.sequence,
                    phase: phase, epoch: epoch, metrics: metrics
                )
                try self.socket.send(WireProtocol.encode(.epoch, message))
                self.drainAcknowledgements()
            }
            let done = DoneBody(
                runId: assignment.runId, attempt: assignment.attempt,
                finalAccuracy: outcome.finalAccuracy, bestAccuracy: outcome.bestAccuracy,
                seconds: outcome.seconds
            )
            try socket.send(WireProtocol.encode(.done, done))
            latestOutcomes[assignment.runId] = true
            Log.notice("run done", ["run": assignment.runId, "final_acc": outcome.finalAccuracy])
        } catch {
            let retryable = (error as? ReportableError)?.exitCode != ExitCode.usage
            Log.error(
                "run failed",
                ["run": assignment.runId, "attempt": assignment.attempt, "retryable": retryable, "error": error]
            )
            let failure = FailBody(
                runId: assignment.runId, attempt: assignment.attempt, reason: "\(error)",
                retryable: retryable
            )
            try socket.send(WireProtocol.encode(.fail, failure))
            latestOutcomes[assignment.runId] = false
        }
    }

    /// Reads acknowledgements that arrived, without waiting.
    private func drainAcknowledgements() {
        while let frames = try? socket.receive(timeout: .zero) {
            if let (type, _) = try? WireProtocol.decodeEnvelope(frames), type != .ack {
                Log.warning("unexpected message during a run", ["type": type.rawValue])
            }
        }
    }
}
