import ASIBSupport
import ASIBWire
import Foundation

/// A worker's conversation with the coordinator: ask for a run, accept it, train it on a
/// separate thread while sending heartbeats, and deliver every record through the spool.
///
/// The socket belongs to the thread that calls `serve`. Records stay in the spool until the
/// coordinator acknowledges them and are sent again every `resendInterval`, so a coordinator
/// that restarts receives what its predecessor did not commit. While the coordinator is
/// unreachable the worker keeps training the run it holds.
public final class WorkerSession {
    private let endpoint: String
    private let workerID: String
    private let shard: String?
    private let runIndices: [Int]?
    private let context: ZMQContext
    private let socket: ZMQSocket
    private let spool: Spool
    private var task: RunTask?
    /// When each spooled record was last sent, by file name, so that a resend skips records
    /// whose ACK may still be on its way.
    private var lastSent: [String: ContinuousClock.Instant] = [:]
    private var shutdownReason: String?
    private var trained = 0
    /// Run id to whether its latest attempt on this worker ended in DONE.
    private var latestOutcomes: [String: Bool] = [:]

    /// Runs whose latest attempt on this worker failed, in run id order. A Slurm array task
    /// exits non-zero when this is not empty, so `afterok` dependents do not start.
    public var failedRuns: [String] {
        latestOutcomes.filter { !$0.value }.keys.sorted()
    }

    /// `keysDirectory` is a folder made by `asib-sweep keys`; without it the connection is
    /// unauthenticated and the coordinator must not use CURVE either. `runIndices` restricts
    /// the worker to these plan indices (sent in HELLO); nil for any run.
    public init(
        endpoint: String, workerID: String, shard: String?, spoolDirectory: URL,
        keysDirectory: URL? = nil, runIndices: [Int]? = nil
    ) throws {
        self.endpoint = endpoint
        self.workerID = workerID
        self.shard = shard
        self.runIndices = runIndices
        spool = try Spool(directory: spoolDirectory)
        context = try ZMQContext()
        socket = try ZMQSocket(context: context, kind: .dealer)
        try socket.setRoutingID("\(workerID)-\(getpid())")
        try socket.setHighWaterMarks(WireProtocol.highWaterMark)
        try socket.limitMessageSize(WireProtocol.maxMessageBytes)
        if let keysDirectory {
            let security = try WorkerSecurity(folder: CurveKeyFolder(directory: keysDirectory))
            try socket.configureCurveClient(security.keys, serverPublicKey: security.serverPublicKey)
        }
    }

    /// Serves runs until the coordinator sends SHUTDOWN. Returns the number of runs trained.
    public func serve() throws -> Int {
        try socket.connect(endpoint)
        Log.notice(
            "connecting", ["endpoint": endpoint, "worker": workerID, "spooled": spool.pending.count]
        )
        let clock = ContinuousClock()
        var lastHeard = clock.now
        var lastReady = clock.now - .seconds(3600)
        var lastHeartbeat = clock.now
        var lastResend = clock.now - .seconds(3600)
        var drainDeadline: ContinuousClock.Instant?

        while true {
            if let frames = try socket.receive(timeout: .milliseconds(100)) {
                lastHeard = clock.now
                handle(frames)
            }
            if flushTask() {
                // Ask for the next run at once instead of after readyRetry.
                lastReady = clock.now - .seconds(3600)
            }

            let now = clock.now
            if now - lastResend >= WireProtocol.resendInterval {
                resendSpool()
                lastResend = now
            }
            if let current = task {
                if now - lastHeartbeat >= WireProtocol.heartbeatInterval {
                    send(.heartbeat, HeartbeatBody(
                        workerId: workerID, pid: getpid(), runId: current.assignment.runId,
                        attempt: current.assignment.attempt
                    ))
                    lastHeartbeat = now
                }
                continue
            }

            if let reason = shutdownReason {
                // Wait a little for the ACKs of the last records, then leave the rest spooled.
                let deadline = drainDeadline ?? now + WireProtocol.shutdownDrain
                drainDeadline = deadline
                if spool.isEmpty || now >= deadline {
                    finish(reason: reason)
                    return trained
                }
                continue
            }
            if now - lastHeard > WireProtocol.coordinatorSilenceLimit {
                throw RuntimeFailure(
                    "no reply from the coordinator at '\(endpoint)' for "
                        + "\(WireProtocol.coordinatorSilenceLimit); is 'asib-sweep launch' running?"
                        + spoolHint()
                )
            }
            if now - lastReady >= WireProtocol.readyRetry {
                // HELLO goes with every READY: a coordinator that restarted has never seen
                // this worker. Both are idempotent on the coordinator side.
                send(.hello, HelloBody(
                    workerId: workerID, host: ProcessInfo.processInfo.hostName, pid: getpid(),
                    shard: shard, runIndices: runIndices
                ))
                send(.ready, ReadyBody(workerId: workerID))
                lastReady = now
            }
        }
    }

    private func finish(reason: String) {
        Log.notice(
            "shutting down",
            ["reason": reason, "runs_trained": trained, "unacknowledged": spool.pending.count]
        )
        if !spool.isEmpty {
            Log.warning("records left unacknowledged" + spoolHint(), ["count": spool.pending.count])
        }
        socket.close()
    }

    private func spoolHint() -> String {
        spool.isEmpty
            ? ""
            : "; \(spool.pending.count) unacknowledged records are kept in '\(spool.directory.path)' "
                + "(merge them with 'asib-sweep ingest RESULTS_DIR \(spool.directory.path)')"
    }

    // MARK: - Incoming

    private func handle(_ frames: [Data]) {
        do {
            let (type, body) = try WireProtocol.decodeEnvelope(frames)
            switch type {
            case .ack:
                let ack = try WireProtocol.decodeBody(AckBody.self, body)
                spool.remove(runId: ack.runId, attempt: ack.attempt, seq: ack.seq)
            case .assign:
                let assignment = try WireProtocol.decodeBody(AssignBody.self, body)
                accept(assignment)
            case .cancel:
                let cancel = try WireProtocol.decodeBody(CancelBody.self, body)
                // The coordinator replies to every heartbeat of a lost attempt with CANCEL, so
                // only the first one is logged.
                if let task, task.assignment.runId == cancel.runId,
                   task.assignment.attempt == cancel.attempt, task.cancel(reason: cancel.reason)
                {
                    Log.warning(
                        "attempt cancelled, stopping after the current epoch",
                        ["run": cancel.runId, "attempt": cancel.attempt, "reason": cancel.reason]
                    )
                }
            case .shutdown:
                let reason = (try? WireProtocol.decodeBody(ShutdownBody.self, body))?.reason ?? "-"
                shutdownReason = reason
                // The coordinator only shuts down when every run is final, so a run still
                // training here is a superseded attempt.
                task?.cancel(reason: "coordinator shut down: \(reason)")
            default:
                Log.warning("unexpected message from the coordinator", ["type": type.rawValue])
            }
        } catch {
            Log.warning("rejected message from the coordinator", ["error": error])
        }
    }

    private func accept(_ assignment: AssignBody) {
        if let task {
            // The coordinator withdraws an offer that is not accepted within acceptTimeout.
            Log.warning(
                "ignored ASSIGN while training",
                ["run": assignment.runId, "training": task.assignment.runId]
            )
            return
        }
        send(.accept, AcceptBody(runId: assignment.runId, attempt: assignment.attempt, workerId: workerID))
        Log.notice(
            "run assigned",
            [
                "run": assignment.runId, "attempt": assignment.attempt,
                "safe_retry": assignment.safeRetry == true,
            ]
        )
        let started = RunTask(assignment: assignment, spool: spool)
        task = started
        started.start()
    }

    // MARK: - Outgoing

    /// Sends what the training thread spooled and clears a finished task. Returns true when
    /// the task finished.
    private func flushTask() -> Bool {
        guard let current = task else { return false }
        let finished = current.isFinished
        for record in current.takeOutgoing() {
            sendRecord(record)
        }
        if finished {
            trained += 1
            latestOutcomes[current.assignment.runId] = current.succeeded
            task = nil
        }
        return finished
    }

    /// Sends again every spooled record that was not sent within the last resendInterval.
    private func resendSpool() {
        let now = ContinuousClock.now
        let pending = spool.pending
        let kept = Set(pending.map(\.fileName))
        lastSent = lastSent.filter { kept.contains($0.key) }
        let due = pending.filter { record in
            lastSent[record.fileName].map { now - $0 >= WireProtocol.resendInterval } ?? true
        }
        guard !due.isEmpty else { return }
        Log.debug("sending unacknowledged records again", ["count": due.count])
        for record in due {
            sendRecord(record)
        }
    }

    private func sendRecord(_ record: SpoolRecord) {
        lastSent[record.fileName] = ContinuousClock.now
        sendFrames(record.frames)
    }

    private func send<Body: Encodable>(_ type: WireProtocol.MessageType, _ body: Body) {
        do {
            sendFrames(try WireProtocol.encode(type, body))
        } catch {
            Log.error("cannot encode message", ["type": type.rawValue, "error": error])
        }
    }

    /// Sends without blocking. A message that cannot be queued is dropped: heartbeats and
    /// READY are repeated anyway and spooled records are sent again every resendInterval.
    private func sendFrames(_ frames: [Data]) {
        do {
            if try !socket.sendNow(frames) {
                Log.debug("send queue full, message dropped")
            }
        } catch {
            Log.warning("send failed", ["error": error])
        }
    }
}
