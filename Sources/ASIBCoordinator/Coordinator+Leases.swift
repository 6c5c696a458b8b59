import ASIBSupport
import ASIBWire
import Foundation

/// Offers, leases and late messages.
///
/// An ASSIGN is an offer: the run stays queued until the worker's ACCEPT, and goes to
/// another worker when no ACCEPT arrives within `acceptTimeout`. ACCEPT starts the attempt
/// in sweep.db and a lease that every HEARTBEAT, EPOCH, DONE or FAIL of that attempt renews.
/// When the lease runs out the attempt fails and the run is queued as its next attempt.
/// Messages of an attempt that is no longer current are stored as late and acknowledged,
/// so the worker drops them. A late DONE or FAIL changes no run. A late EPOCH is kept under
/// its own attempt, and reports use it only for epochs that a resumed later attempt skipped.
extension Coordinator {
    enum Classification {
        /// The attempt is the run's current one (after claiming or adopting it when needed).
        case current
        /// The attempt finished the run: a record sent again before its ACK arrived.
        case finished
        /// The attempt was superseded, or the run is final.
        case late(String)
        /// No attempt with this number was ever started, and none can be adopted.
        case invalid(String)
    }

    /// Decides whether a message of (`runID`, `attempt`) from `peer` counts, and renews the
    /// lease when it does.
    ///
    /// A running run without a holder (sweep.db listed it as running when this coordinator
    /// started) is claimed by the first worker that reports its attempt. A queued run with no
    /// offer is adopted by a worker that reports a newer attempt: that worker accepted an
    /// offer from an earlier coordinator that stopped before it stored the ACCEPT.
    func classify(runID: String, attempt: Int, from peer: Data) throws -> Classification {
        guard let state = states[runID] else {
            return .invalid("unknown run id '\(runID)'")
        }
        if state.status == .running && state.attempts == attempt {
            if let holder = state.worker, holder != peer {
                return .late("attempt \(attempt) is held by worker \(workerName(holder))")
            }
            claim(runID: runID, by: peer)
            return .current
        }
        if attempt > state.attempts {
            let adoptable = (state.status == .queued && state.offer == nil)
                || (state.status == .running && state.worker == nil)
            guard adoptable else {
                return .invalid("run '\(runID)' attempt \(attempt) was never started")
            }
            try adopt(runID: runID, attempt: attempt, by: peer)
            return .current
        }
        if state.status == .done {
            return attempt == state.attempts ? .finished : .late("run '\(runID)' is done")
        }
        if attempt == state.attempts {
            return .late("attempt \(attempt) of run '\(runID)' has ended and the run is \(state.status.rawValue)")
        }
        return .late("attempt \(attempt) of run '\(runID)' was superseded by attempt \(state.attempts)")
    }

    private func claim(runID: String, by peer: Data) {
        if states[runID]?.worker == nil {
            Log.notice("run reclaimed", ["run": runID, "worker": workerName(peer)])
            print("reclaimed \(runID) (attempt \(states[runID]?.attempts ?? 0)) by \(workerName(peer))")
            fflush(stdout)
        }
        states[runID]?.worker = peer
        states[runID]?.lease = clock.now + WireProtocol.leaseDuration
        workers[peer]?.run = runID
        workers[peer]?.idle = false
    }

    private func adopt(runID: String, attempt: Int, by peer: Data) throws {
        try store.markRunning(runID: runID, attempt: attempt, worker: workerName(peer))
        states[runID]?.status = .running
        states[runID]?.attempts = attempt
        states[runID]?.worker = nil
        Log.notice("run adopted", ["run": runID, "attempt": attempt, "worker": workerName(peer)])
        claim(runID: runID, by: peer)
    }

    /// Stores a message of a superseded attempt as late, acknowledges it so the worker
    /// drops it from its spool, and sends CANCEL for that attempt.
    func recordLate(
        type: WireProtocol.MessageType, runID: String, attempt: Int, seq: Int, peer: Data,
        detail: String
    ) throws {
        let inserted = try store.recordLateMessage(
            runID: runID, attempt: attempt, seq: seq, type: type.rawValue,
            worker: workerName(peer), detail: detail
        )
        if inserted {
            Log.notice(
                "late message",
                ["type": type.rawValue, "run": runID, "attempt": attempt, "seq": seq,
                 "worker": workerName(peer), "detail": detail]
            )
        }
        acknowledge(runID: runID, attempt: attempt, seq: seq, to: peer)
        if states[runID]?.status != .done || type == .epoch {
            sendCancel(runID: runID, attempt: attempt, to: peer, reason: detail)
        }
    }

    /// Sends ACK for a committed record; `seq` nil means the sender keeps no spool.
    func acknowledge(runID: String, attempt: Int, seq: Int?, to peer: Data) {
        guard let seq else { return }
        do {
            try socket.send([peer] + WireProtocol.encode(.ack, AckBody(runId: runID, attempt: attempt, seq: seq)))
        } catch {
            Log.warning("cannot send ACK", ["run": runID, "seq": seq, "error": error])
        }
    }

    func sendCancel(runID: String, attempt: Int, to peer: Data, reason: String) {
        do {
            let body = CancelBody(runId: runID, attempt: attempt, reason: reason)
            try socket.send([peer] + WireProtocol.encode(.cancel, body))
        } catch {
            Log.warning("cannot send CANCEL", ["run": runID, "error": error])
        }
    }

    /// Returns the worker's id, or its ZeroMQ routing id before it registered: as text when
    /// it is printable ASCII (workers set it from `--worker-id`), else in hex.
    func workerName(_ peer: Data) -> String {
        if let id = workers[peer]?.id { return id }
        if !peer.isEmpty, peer.allSatisfy({ (0x21...0x7e).contains($0) }) {
            return String(decoding: peer, as: UTF8.self)
        }
        return peer.map { String(format: "%02x", $0) }.joined()
    }

    // MARK: - Messages

    func handleAccept(_ accept: AcceptBody, from peer: Data) throws {
        guard let state = states[accept.runId] else {
            reject(peer: peer, reason: "ACCEPT: unknown run id '\(accept.runId)'")
            return
        }
        guard let offer = state.offer, offer.peer == peer, offer.attempt == accept.attempt else {
            reject(
                peer: peer,
                reason: "ACCEPT for run '\(accept.runId)' attempt \(accept.attempt) without an open offer"
            )
            sendCancel(
                runID: accept.runId, attempt: accept.attempt, to: peer,
                reason: "the offer was withdrawn"
            )
            return
        }
        if workers[peer] == nil {
            workers[peer] = WorkerState(id: accept.workerId, pid: nil)
        }
        let workerID = workerName(peer)
        try store.markRunning(runID: accept.runId, attempt: accept.attempt, worker: workerID)
        states[accept.runId]?.offer = nil
        states[accept.runId]?.status = .running
        states[accept.runId]?.attempts = accept.attempt
        states[accept.runId]?.worker = peer
        states[accept.runId]?.lease = clock.now + WireProtocol.leaseDuration
        workers[peer]?.run = accept.runId
        workers[peer]?.idle = false
        print("started \(accept.runId) (attempt \(accept.attempt)) on \(workerID)")
        fflush(stdout)
    }

    func handleHeartbeat(_ heartbeat: HeartbeatBody, from peer: Data) throws {
        if workers[peer] == nil {
            workers[peer] = WorkerState(id: heartbeat.workerId, pid: heartbeat.pid)
        }
        guard let runID = heartbeat.runId, let attempt = heartbeat.attempt else { return }
        guard runsByID[runID] != nil else {
            reject(peer: peer, reason: "HEARTBEAT: unknown run id '\(runID)'")
            return
        }
        switch try classify(runID: runID, attempt: attempt, from: peer) {
        case .current:
            break
        case .finished:
            sendCancel(runID: runID, attempt: attempt, to: peer, reason: "run '\(runID)' is done")
        case .late(let detail):
            sendCancel(runID: runID, attempt: attempt, to: peer, reason: detail)
        case .invalid(let detail):
            reject(peer: peer, reason: "HEARTBEAT: \(detail)")
            sendCancel(runID: runID, attempt: attempt, to: peer, reason: detail)
        }
    }

    // MARK: - Timers

    /// Puts back in the queue the offers that got no ACCEPT in time.
    func withdrawExpiredOffers() {
        let now = clock.now
        for (runID, state) in states {
            guard let offer = state.offer, offer.deadline <= now else { continue }
            states[runID]?.offer = nil
            Log.warning(
                "offer withdrawn: no ACCEPT",
                ["run": runID, "attempt": offer.attempt, "worker": workerName(offer.peer),
                 "timeout": WireProtocol.acceptTimeout]
            )
        }
    }

    /// Withdraws every open offer to `peer`, for a worker known to be gone.
    func withdrawOffers(to peer: Data, reason: String) {
        for (runID, state) in states where state.offer?.peer == peer {
            states[runID]?.offer = nil
            Log.warning("offer withdrawn", ["run": runID, "reason": reason])
        }
    }

    /// Fails the attempts whose lease ran out and queues their runs again.
    func expireLeases() {
        let now = clock.now
        for (runID, state) in states where state.status == .running {
            guard let lease = state.lease, lease <= now else { continue }
            let reason: String
            var interrupted = false
            if let holder = state.worker {
                reason = "lease expired: no message from worker \(workerName(holder)) for "
                    + "\(WireProtocol.leaseDuration)"
                sendCancel(runID: runID, attempt: state.attempts, to: holder, reason: reason)
                workers[holder]?.run = nil
            } else {
                // The worker belonged to an earlier coordinator that stopped (interrupted,
                // killed or crashed) and did not reconnect: the run did not fail.
                reason = "not reclaimed by a worker within \(WireProtocol.leaseDuration) "
                    + "after the coordinator started"
                interrupted = true
            }
            requeueOrFail(runID: runID, reason: reason, retryable: true, interrupted: interrupted)
        }
    }
}
