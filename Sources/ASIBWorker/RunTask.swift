import ASIBSupport
import ASIBWire
import Foundation

/// The coordinator withdrew the attempt (CANCEL) while it was training.
struct AttemptCancelled: ReportableError {
    let runID: String
    let attempt: Int
    let reason: String

    var description: String { "attempt \(attempt) of run \(runID) cancelled by the coordinator: \(reason)" }
    var exitCode: Int32 { ExitCode.failure }
}

/// One assignment trained on its own thread, so the network thread keeps sending heartbeats
/// and receiving acknowledgements while an epoch runs.
///
/// Every EPOCH and the closing DONE or FAIL is written to the spool before it is handed to
/// the network thread through `takeOutgoing()`.
final class RunTask: @unchecked Sendable {
    let assignment: AssignBody
    private let spool: Spool
    private let lock = NSLock()
    private var outgoing: [SpoolRecord] = []
    private var cancelReason: String?
    private var finished = false
    private var endedInDone = false
    /// The last sequence number used in this attempt (the first record gets 1). Only the
    /// training thread uses it.
    private var sequence = 0

    init(assignment: AssignBody, spool: Spool) {
        self.assignment = assignment
        self.spool = spool
    }

    /// Starts training on a new thread.
    func start() {
        let thread = Thread { [self] in
            self.train()
        }
        // `asib-worker run` trains on the main thread, whose stack is 8 MiB by default on
        // Linux. Secondary threads get less unless they request more, so this one requests 16 MiB.
        thread.stackSize = 16 << 20
        thread.name = "train \(assignment.runId)"
        thread.start()
    }

    /// Asks the training thread to stop at the next epoch boundary. Returns false when the
    /// task was cancelled before.
    @discardableResult
    func cancel(reason: String) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard cancelReason == nil else { return false }
        cancelReason = reason
        return true
    }

    /// Records spooled since the last call, in order.
    func takeOutgoing() -> [SpoolRecord] {
        lock.lock()
        defer { lock.unlock() }
        let taken = outgoing
        outgoing = []
        return taken
    }

    /// True once the attempt has ended in DONE; false while it trains or after it failed.
    var succeeded: Bool {
        lock.lock()
        defer { lock.unlock() }
        return endedInDone
    }

    var isFinished: Bool {
        lock.lock()
        defer { lock.unlock() }
        return finished
    }

    private func train() {
        let runID = assignment.runId
        let attempt = assignment.attempt
        do {
            let outcome = try RunExecutor(assignment: assignment).run { phase, epoch, metrics in
                try self.checkCancelled()
                self.sequence += 1
                let body = EpochBody(
                    runId: runID, attempt: attempt, seq: self.sequence, phase: phase, epoch: epoch,
                    metrics: metrics
                )
                try self.spoolAndQueue(.epoch, body, seq: self.sequence)
            }
            sequence += 1
            let done = DoneBody(
                runId: runID, attempt: attempt, finalAccuracy: outcome.finalAccuracy,
                bestAccuracy: outcome.bestAccuracy, seconds: outcome.seconds, seq: sequence
            )
            try spoolAndQueue(.done, done, seq: sequence)
            Log.notice("run done", ["run": runID, "attempt": attempt, "final_acc": outcome.finalAccuracy])
            lock.lock()
            endedInDone = true
            lock.unlock()
        } catch {
            reportFailure(error)
        }
        lock.lock()
        finished = true
        lock.unlock()
    }

    private func reportFailure(_ error: Error) {
        let runID = assignment.runId
        let attempt = assignment.attempt
        if error is AttemptCancelled {
            // The coordinator already moved on; a FAIL would only be recorded as late.
            Log.warning("run cancelled", ["run": runID, "attempt": attempt, "error": error])
            return
        }
        let retryable = (error as? ReportableError)?.exitCode != ExitCode.usage
        Log.error("run failed", ["run": runID, "attempt": attempt, "retryable": retryable, "error": error])
        sequence += 1
        let failure = FailBody(
            runId: runID, attempt: attempt, reason: "\(error)", retryable: retryable,
            nonFiniteWithAmp: error is NonFiniteLossWithAMP ? true : nil, seq: sequence
        )
        do {
            try spoolAndQueue(.fail, failure, seq: sequence)
        } catch {
            Log.error("cannot spool FAIL", ["run": runID, "attempt": attempt, "error": error])
        }
    }

    private func checkCancelled() throws {
        lock.lock()
        let reason = cancelReason
        lock.unlock()
        if let reason {
            throw AttemptCancelled(runID: assignment.runId, attempt: assignment.attempt, reason: reason)
        }
    }

    private func spoolAndQueue<Body: Encodable>(
        _ type: WireProtocol.MessageType, _ body: Body, seq: Int
    ) throws {
        let frames = try WireProtocol.encode(type, body)
        let record = SpoolRecord(
            type: type, runId: assignment.runId, attempt: assignment.attempt, seq: seq, body: frames[2]
        )
        try spool.append(record)
        lock.lock()
        outgoing.append(record)
        lock.unlock()
    }
}
