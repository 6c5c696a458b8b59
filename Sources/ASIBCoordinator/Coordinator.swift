import ASIBSupport
import ASIBWire
import Foundation

/// The sweep's scheduler: hands runs to workers over a ZeroMQ ROUTER, stores what they report,
/// and ends when every run has finished.
///
/// A run is ready when every run it depends on is done; it is cancelled when one of them
/// failed or was cancelled. A run whose worker reports a retryable failure, whose local
/// worker process dies, or whose lease runs out goes back to the queue until `maxAttempts`
/// attempts were made. Leases, offers and late messages are handled in Coordinator+Leases.
/// A run that reached a non-finite loss with `use_amp` on is queued once more as a safe
/// retry, even past `maxAttempts`: that attempt and any later one get ASSIGN `safe_retry` and
/// train with `use_amp` off.
///
/// A worker whose HELLO lists `run_indices` (a Slurm array task) is assigned only those runs,
/// and is sent SHUTDOWN as soon as all of them have finished, so that the array task ends
/// and jobs that depend on it can start.
public final class Coordinator {
    public struct Options {
        public var endpoint: String
        public var resultsDirectory: URL
        public var configRoot: URL
        public var primaryConfig: String
        public var planSHA256: String
        public var maxAttempts: Int
        /// Key folder made by `asib-sweep keys`; with it only listed workers may connect.
        public var keysDirectory: URL?

        public init(
            endpoint: String, resultsDirectory: URL, configRoot: URL, primaryConfig: String,
            planSHA256: String,
            maxAttempts: Int = 2,
            keysDirectory: URL? = nil
        ) {
            self.endpoint = endpoint
            self.resultsDirectory = resultsDirectory
            self.configRoot = configRoot
            self.primaryConfig = primaryConfig
            self.planSHA256 = planSHA256
            self.maxAttempts = maxAttempts
            self.keysDirectory = keysDirectory
        }
    }

    public struct Outcome {
        public var done = 0
        public var failed = 0
        public var cancelled = 0
    }

    struct RunState {
        var status: RunStatus
        /// The latest attempt that a worker accepted (0 for none).
        var attempts: Int
        /// The lease holder of a running run; nil after a coordinator restart until a worker
        /// reclaims the run.
        var worker: Data?
        /// The run had its safe retry, so every later attempt trains with `use_amp` off.
        var safeRetry = false
        var lease: ContinuousClock.Instant?
        /// An ASSIGN that waits for ACCEPT; the run stays queued meanwhile.
        var offer: Offer?
        /// Attempts that ended because an earlier coordinator stopped, not because the run
        /// failed; they do not count against `maxAttempts`. Counted by this coordinator only.
        var interruptions = 0
    }

    struct Offer {
        var peer: Data
        var attempt: Int
        var deadline: ContinuousClock.Instant
    }

    struct WorkerState {
        var id: String
        var pid: Int32?
        var run: String?
        var idle = false
        var shutdownSent = false
        /// Run ids this worker may train; nil for any run.
        var servedRuns: Set<String>? = nil
    }

    let runs: [CoordinatorRun]
    let runsByID: [String: CoordinatorRun]
    let options: Options
    let store: SweepStore
    private let context: ZMQContext
    let socket: ZMQSocket
    private let authenticator: ZAPHandler?
    var states: [String: RunState] = [:]
    var workers: [Data: WorkerState] = [:]
    var rejectedMessages = 0
    let clock = ContinuousClock()

    public init(runs: [CoordinatorRun], options: Options, store: SweepStore) throws {
        self.runs = runs
        self.runsByID = Dictionary(uniqueKeysWithValues: runs.map { ($0.runID, $0) })
        self.options = options
        self.store = store
        context = try ZMQContext()
        if let keysDirectory = options.keysDirectory {
            let folder = CurveKeyFolder(directory: keysDirectory)
            let allowed = try folder.authorizedWorkerKeys()
            let keys = try folder.coordinatorKeys()
            authenticator = try ZAPHandler(context: context, allowedKeys: allowed)
            authenticator?.start()
            socket = try ZMQSocket(context: context, kind: .router)
            try socket.configureCurveServer(keys, zapDomain: "asib")
            Log.notice("CURVE authentication on", ["authorized_workers": allowed.count])
        } else {
            authenticator = nil
            socket = try ZMQSocket(context: context, kind: .router)
        }
        try socket.limitMessageSize(WireProtocol.maxMessageBytes)
        try socket.setHighWaterMarks(WireProtocol.highWaterMark)
    }

    deinit {
        socket.close()
        authenticator?.stop()
    }

    /// Binds the ROUTER socket and returns the endpoint workers connect to.
    public func bind() throws -> String {
        try socket.bind(options.endpoint)
    }

    /// Serves workers until every run has finished, then tells each worker to shut down.
    ///
    /// `external` watches workers that the coordinator did not start, such as Slurm array
    /// tasks: once it reports that none is left, every unfinished run counts as failed.
    public func serve(pool: LocalWorkerPool?, external: ExternalWorkers? = nil) throws -> Outcome {
        try loadStates()
        cancelUnreachableRuns()
        announceProgress()

        while !allRunsFinal() {
            if let frames = try socket.receive(timeout: WireProtocol.coordinatorPoll) {
                handle(frames)
            }
            withdrawExpiredOffers()
            expireLeases()
            if let pool {
                try reapDeadWorkers(pool: pool)
            } else {
                try assignIdleWorkers()
            }
            if let external, !allRunsFinal(), let reason = external.reasonNoWorkerIsLeft() {
                try failUnfinishedRuns(reason: reason)
                print("no worker is left before the sweep finished: \(reason)")
            }
        }
        shutDownWorkers(pool: pool)
        return outcome()
    }

    // MARK: - State

    private func loadStates() throws {
        let stored = Dictionary(uniqueKeysWithValues: try store.runs().map { ($0.runID, $0) })
        for run in runs {
            var state = RunState(status: .queued, attempts: 0, worker: nil)
            if let previous = stored[run.runID] {
                state.attempts = previous.attempts
                switch RunStatus(rawValue: previous.status) {
                case .done:
                    state.status = .done
                case .running:
                    // An earlier coordinator stopped during this attempt. Its worker may still
                    // be training: it reclaims the run with a heartbeat, or the lease runs
                    // out and the run is queued as its next attempt.
                    state.status = .running
                    state.lease = clock.now + WireProtocol.leaseDuration
                default:
                    break
                }
            }
            states[run.runID] = state
        }
        let unclaimed = states.values.filter { $0.status == .running }.count
        if unclaimed > 0 {
            Log.notice(
                "waiting for workers to reclaim running runs",
                ["runs": unclaimed, "window": WireProtocol.leaseDuration]
            )
        }
    }

    private func allRunsFinal() -> Bool {
        states.values.allSatisfy { $0.status.isFinal }
    }

    private func isReady(_ run: CoordinatorRun) -> Bool {
        states[run.runID]?.status == .queued && states[run.runID]?.offer == nil
            && run.dependsOn.allSatisfy { states[$0]?.status == .done }
    }

    /// The first ready run that the worker behind `peer` may train.
    private func nextReadyRun(for peer: Data) -> CoordinatorRun? {
        guard let served = workers[peer]?.servedRuns else {
            return runs.first(where: isReady)
        }
        return runs.first { served.contains($0.runID) && isReady($0) }
    }

    /// The SHUTDOWN reason for a worker that serves a fixed set of runs when none of them is
    /// left to train; nil while one may still be assigned, or for a worker that serves any run.
    private func servedRunsShutdownReason(for peer: Data) -> String? {
        guard let served = workers[peer]?.servedRuns else { return nil }
        if served.isEmpty {
            return "this worker serves no run of this plan"
        }
        let finished = served.allSatisfy { states[$0]?.status.isFinal ?? true }
        return finished ? "every run this worker serves has finished" : nil
    }

    /// Requeues the run of an earlier connection of the array task `hello` comes from. Array
    /// task worker ids (`slurm-JOB_TASK`) are unique, so a second HELLO under the same id means
    /// Slurm restarted the task and the earlier process will not report again.
    private func releaseEarlierConnection(of hello: HelloBody, newPeer: Data) {
        guard hello.runIndices != nil else { return }
        for (peer, worker) in workers where peer != newPeer && worker.id == hello.workerId {
            if let runID = worker.run, states[runID]?.status == .running {
                requeueOrFail(
                    runID: runID,
                    reason: "worker \(hello.workerId) connected again, so its earlier process "
                        + "ended during the run",
                    retryable: true)
            }
            workers[peer] = nil
        }
    }

    /// Cancels queued runs that depend, directly or not, on a failed or cancelled run.
    func cancelUnreachableRuns() {
        var changed = true
        while changed {
            changed = false
            for run in runs where states[run.runID]?.status == .queued {
                guard let blocker = run.dependsOn.first(where: {
                    let status = states[$0]?.status
                    return status == .failed || status == .cancelled
                }) else { continue }
                let reason = "dependency '\(blocker)' did not finish"
                states[run.runID]?.status = .cancelled
                do {
                    try store.markCancelled(runID: run.runID, reason: reason)
                } catch {
                    Log.error("cannot record cancellation", ["run": run.runID, "error": error])
                }
                print("cancelled \(run.runID): \(reason)")
                changed = true
            }
        }
    }

    private func outcome() -> Outcome {
        var result = Outcome()
        for state in states.values {
            switch state.status {
            case .done: result.done += 1
            case .failed: result.failed += 1
            case .cancelled: result.cancelled += 1
            case .queued, .running: break
            }
        }
        return result
    }

    func announceProgress() {
        let finished = states.values.filter { $0.status.isFinal }.count
        print("progress: \(finished)/\(runs.count) runs finished")
        fflush(stdout)
    }

    // MARK: - Messages

    private func handle(_ frames: [Data]) {
        guard frames.count >= 2 else {
            reject(peer: nil, reason: "message without routing id")
            return
        }
        let peer = frames[0]
        do {
            let (type, body) = try WireProtocol.decodeEnvelope(Array(frames.dropFirst()))
            try dispatch(type, body, from: peer)
        } catch {
            reject(peer: peer, reason: "\(error)")
        }
    }

    private func dispatch(_ type: WireProtocol.MessageType, _ body: Data, from peer: Data) throws {
        switch type {
        case .hello:
            let hello = try WireProtocol.decodeBody(HelloBody.self, body)
            if workers[peer] == nil {
                releaseEarlierConnection(of: hello, newPeer: peer)
                Log.info("worker connected", ["worker": hello.workerId, "host": hello.host, "pid": hello.pid])
                workers[peer] = WorkerState(
                    id: hello.workerId, pid: hello.pid, servedRuns: servedRuns(hello, from: peer))
            } else {
                workers[peer]?.pid = hello.pid
            }
        case .ready:
            let ready = try WireProtocol.decodeBody(ReadyBody.self, body)
            try handleReady(from: peer, workerID: ready.workerId)
        case .epoch:
            let epoch = try WireProtocol.decodeBody(EpochBody.self, body)
            try handleEpoch(epoch, from: peer)
        case .done:
            let done = try WireProtocol.decodeBody(DoneBody.self, body)
            try handleDone(done, from: peer)
        case .fail:
            let failure = try WireProtocol.decodeBody(FailBody.self, body)
            try handleFail(failure, from: peer)
        case .accept:
            let accept = try WireProtocol.decodeBody(AcceptBody.self, body)
            try handleAccept(accept, from: peer)
        case .heartbeat:
            let heartbeat = try WireProtocol.decodeBody(HeartbeatBody.self, body)
            try handleHeartbeat(heartbeat, from: peer)
        case .assign, .ack, .cancel, .shutdown:
            reject(peer: peer, reason: "\(type.rawValue) is sent by the coordinator, not to it")
        }
    }

    /// Maps the HELLO's `run_indices` to run ids. An index outside the plan means the worker
    /// read a different plan: the message is logged as rejected and the worker serves no run,
    /// so the reply to its next READY is SHUTDOWN.
    private func servedRuns(_ hello: HelloBody, from peer: Data) -> Set<String>? {
        if hello.runIndices == nil, let shard = hello.shard {
            // `--shard I/N`: the runs whose plan index mod N equals I.
            let parts = shard.split(separator: "/").compactMap { Int($0) }
            guard parts.count == 2, parts[1] > 0, (0..<parts[1]).contains(parts[0]) else {
                reject(peer: peer, reason: "HELLO from worker '\(hello.workerId)' has shard '\(shard)'")
                return []
            }
            return Set(runs.filter { $0.index % parts[1] == parts[0] }.map(\.runID))
        }
        guard let indices = hello.runIndices else { return nil }
        let runIDsByIndex = Dictionary(uniqueKeysWithValues: runs.map { ($0.index, $0.runID) })
        if let unknown = indices.first(where: { runIDsByIndex[$0] == nil }) {
            reject(
                peer: peer,
                reason: "HELLO from worker '\(hello.workerId)' lists run index \(unknown), "
                    + "which is not in the plan of \(runs.count) runs")
            return []
        }
        return Set(indices.compactMap { runIDsByIndex[$0] })
    }

    func reject(peer: Data?, reason: String) {
        rejectedMessages += 1
        // Log the first rejections in full, then one line per hundred, so a flood of garbage
        // cannot fill the disk.
        if rejectedMessages <= 20 || rejectedMessages % 100 == 0 {
            let peerID = peer.map { workers[$0]?.id ?? $0.map { String(format: "%02x", $0) }.joined() }
            Log.warning(
                "rejected message",
                ["peer": peerID ?? "-", "reason": reason, "rejected_total": rejectedMessages]
            )
        }
    }

    private func handleReady(from peer: Data, workerID: String) throws {
        if workers[peer] == nil {
            workers[peer] = WorkerState(id: workerID, pid: nil)
        }
        if states.values.contains(where: { $0.offer?.peer == peer }) {
            // A repeated READY that crossed our ASSIGN: the offer remains open until it times out.
            return
        }
        if let current = workers[peer]?.run, states[current]?.status == .running,
           states[current]?.worker == peer
        {
            // A READY while holding a run means the worker lost it (restart on the same id).
            requeueOrFail(runID: current, reason: "worker \(workerID) asked for new work mid-run", retryable: true)
        }
        workers[peer]?.run = nil
        if allRunsFinal() {
            try sendShutdown(to: peer, reason: "sweep finished")
            return
        }
        if let reason = servedRunsShutdownReason(for: peer) {
            try sendShutdown(to: peer, reason: reason)
            return
        }
        if let run = nextReadyRun(for: peer) {
            try assign(run, to: peer)
        } else {
            workers[peer]?.idle = true
        }
    }

    /// Offers `run` to the worker at `peer`. The run counts as taken when ACCEPT arrives.
    private func assign(_ run: CoordinatorRun, to peer: Data) throws {
        let attempt = (states[run.runID]?.attempts ?? 0) + 1
        let results = options.resultsDirectory
        var checkpoints: [String: String] = [:]
        for (slot, teacher) in run.dependsOn.enumerated() {
            checkpoints["teacher\(slot + 1)"] = RunFiles.checkpoint(results: results, runID: teacher).path
        }
        let body = AssignBody(
            runId: run.runID, index: run.index, attempt: attempt, configJson: run.configJSON,
            configSha256: run.configSHA256, planSha256: options.planSHA256,
            configRoot: options.configRoot.path, primaryConfig: options.primaryConfig,
            overrides: run.overrides,
            runDirectory: RunFiles.runDirectory(results: results, runID: run.runID).path,
            teacherCheckpoints: checkpoints,
            safeRetry: states[run.runID]?.safeRetry == true ? true : nil
        )
        try socket.send([peer] + WireProtocol.encode(.assign, body))
        states[run.runID]?.offer = Offer(
            peer: peer, attempt: attempt, deadline: clock.now + WireProtocol.acceptTimeout
        )
        workers[peer]?.idle = false
    }

    func assignIdleWorkers() throws {
        for (peer, worker) in workers where worker.idle && !worker.shutdownSent {
            if allRunsFinal() {
                try sendShutdown(to: peer, reason: "sweep finished")
            } else if let reason = servedRunsShutdownReason(for: peer) {
                try sendShutdown(to: peer, reason: reason)
            } else if let run = nextReadyRun(for: peer) {
                try assign(run, to: peer)
            }
        }
    }

    private func handleEpoch(_ epoch: EpochBody, from peer: Data) throws {
        guard runsByID[epoch.runId] != nil else {
            reject(peer: peer, reason: "unknown run id '\(epoch.runId)'")
            return
        }
        switch try classify(runID: epoch.runId, attempt: epoch.attempt, from: peer) {
        case .current, .finished:
            break
        case .late(let detail):
            // The metrics stay under their own attempt, so a later attempt that resumed
            // after this epoch can show it, but they never replace the later attempt's rows.
            try store.recordEpoch(
                runID: epoch.runId, attempt: epoch.attempt, seq: epoch.seq, phase: epoch.phase,
                epoch: epoch.epoch, metrics: epoch.metrics
            )
            try recordLate(
                type: .epoch, runID: epoch.runId, attempt: epoch.attempt, seq: epoch.seq,
                peer: peer, detail: detail
            )
            return
        case .invalid(let detail):
            reject(peer: peer, reason: "EPOCH: \(detail)")
            return
        }
        let inserted = try store.recordEpoch(
            runID: epoch.runId, attempt: epoch.attempt, seq: epoch.seq, phase: epoch.phase,
            epoch: epoch.epoch, metrics: epoch.metrics
        )
        try socket.send([peer] + WireProtocol.encode(
            .ack, AckBody(runId: epoch.runId, attempt: epoch.attempt, seq: epoch.seq)
        ))
        if inserted {
            let accuracy = epoch.metrics["acc"].map { String(format: "%.2f", $0) } ?? "-"
            let loss = epoch.metrics["loss"].map { String(format: "%.4f", $0) } ?? "-"
            print("\(epoch.runId) \(epoch.phase) epoch \(epoch.epoch): acc=\(accuracy) loss=\(loss)")
            fflush(stdout)
        }
    }

    private func handleDone(_ done: DoneBody, from peer: Data) throws {
        guard runsByID[done.runId] != nil else {
            reject(peer: peer, reason: "unknown run id '\(done.runId)'")
            return
        }
        switch try classify(runID: done.runId, attempt: done.attempt, from: peer) {
        case .current:
            break
        case .finished:
            acknowledge(runID: done.runId, attempt: done.attempt, seq: done.seq, to: peer)
            return
        case .late(let detail):
            try recordLate(
                type: .done, runID: done.runId, attempt: done.attempt, seq: done.seq ?? 0,
                peer: peer, detail: detail
            )
            return
        case .invalid(let detail):
            reject(peer: peer, reason: "DONE: \(detail)")
            return
        }
        try store.markDone(
            runID: done.runId, attempt: done.attempt, finalAccuracy: done.finalAccuracy,
            bestAccuracy: done.bestAccuracy, seconds: done.seconds
        )
        acknowledge(runID: done.runId, attempt: done.attempt, seq: done.seq, to: peer)
        states[done.runId]?.status = .done
        states[done.runId]?.worker = nil
        states[done.runId]?.lease = nil
        workers[peer]?.run = nil
        print(String(
            format: "done %@: final acc %.2f%%, best %.2f%%, %.1f s",
            done.runId, done.finalAccuracy, done.bestAccuracy, done.seconds
        ))
        announceProgress()
        try assignIdleWorkers()
    }

    private func handleFail(_ failure: FailBody, from peer: Data) throws {
        guard runsByID[failure.runId] != nil else {
            reject(peer: peer, reason: "unknown run id '\(failure.runId)'")
            return
        }
        switch try classify(runID: failure.runId, attempt: failure.attempt, from: peer) {
        case .current:
            break
        case .finished:
            acknowledge(runID: failure.runId, attempt: failure.attempt, seq: failure.seq, to: peer)
            return
        case .late(let detail):
            try recordLate(
                type: .fail, runID: failure.runId, attempt: failure.attempt,
                seq: failure.seq ?? 0, peer: peer, detail: detail
            )
            return
        case .invalid(let detail):
            reject(peer: peer, reason: "FAIL: \(detail)")
            return
        }
        workers[peer]?.run = nil
        let state = states[failure.runId]
        let safeRetry = failure.nonFiniteWithAmp == true && state?.safeRetry == false
        if safeRetry {
            states[failure.runId]?.safeRetry = true
        }
        requeueOrFail(
            runID: failure.runId, reason: failure.reason, retryable: failure.retryable || safeRetry,
            safeRetry: safeRetry
        )
        acknowledge(runID: failure.runId, attempt: failure.attempt, seq: failure.seq, to: peer)
        try assignIdleWorkers()
    }

    /// Queues a failed run again while attempts remain, or marks it failed. A safe retry is
    /// queued whatever the attempt count.
    func requeueOrFail(
        runID: String, reason: String, retryable: Bool, safeRetry: Bool = false,
        interrupted: Bool = false
    ) {
        guard var state = states[runID] else { return }
        state.worker = nil
        state.lease = nil
        if interrupted {
            state.interruptions += 1
            state.status = .queued
            Log.warning(
                "interrupted attempt, run queued again without using up an attempt",
                ["run": runID, "attempt": state.attempts, "reason": reason]
            )
            print("resuming \(runID) after attempt \(state.attempts) was interrupted: \(reason)")
        } else if safeRetry {
            state.status = .queued
            Log.warning(
                "run failed with a non-finite loss under use_amp, queued again with use_amp off",
                ["run": runID, "attempt": state.attempts, "reason": reason]
            )
            print(
                "retrying \(runID) with use_amp off after attempt \(state.attempts) failed: "
                    + reason
            )
        } else if retryable && state.attempts - state.interruptions < options.maxAttempts {
            state.status = .queued
            Log.warning("run failed, queued again", ["run": runID, "attempt": state.attempts, "reason": reason])
            print("retrying \(runID) after attempt \(state.attempts) failed: \(reason)")
        } else {
            state.status = .failed
            print("failed \(runID) (attempt \(state.attempts)): \(reason)")
        }
        states[runID] = state
        do {
            try store.markFailed(runID: runID, attempt: state.attempts, reason: reason)
            if state.status == .queued {
                try store.markQueued(runID: runID)
            }
        } catch {
            Log.error("cannot record failure", ["run": runID, "error": error])
        }
        cancelUnreachableRuns()
        announceProgress()
    }

    // MARK: - Local processes

    private func reapDeadWorkers(pool: LocalWorkerPool) throws {
        let alive = pool.runningPIDs
        for (peer, worker) in workers {
            guard let pid = worker.pid, !alive.contains(pid),
                  pool.members.contains(where: { $0.process.processIdentifier == pid })
            else { continue }
            withdrawOffers(to: peer, reason: "worker \(worker.id) (pid \(pid)) exited")
            if let runID = worker.run, states[runID]?.status == .running, states[runID]?.worker == peer {
                let member = pool.members.first { $0.process.processIdentifier == pid }
                let status = member.map { String($0.process.terminationStatus) } ?? "?"
                requeueOrFail(
                    runID: runID,
                    reason: "worker \(worker.id) (pid \(pid)) exited with status \(status) during the run",
                    retryable: true
                )
            }
            workers[peer] = nil
        }
        if !allRunsFinal(), !(try pool.replaceExited()).isEmpty {
            return
        }
        if alive.isEmpty && !allRunsFinal() {
            try failUnfinishedRuns(
                reason: "no worker left to run it; see the worker logs in \(options.resultsDirectory.path)/logs"
            )
            print("all workers exited before the sweep finished; see the logs in \(options.resultsDirectory.path)/logs")
            return
        }
        try assignIdleWorkers()
    }

    private func failUnfinishedRuns(reason: String) throws {
        for run in runs where !(states[run.runID]?.status.isFinal ?? true) {
            states[run.runID]?.status = .failed
            try store.markFailed(
                runID: run.runID, attempt: states[run.runID]?.attempts ?? 0, reason: reason
            )
        }
    }

    func sendShutdown(to peer: Data, reason: String) throws {
        try socket.send([peer] + WireProtocol.encode(.shutdown, ShutdownBody(reason: reason)))
        workers[peer]?.shutdownSent = true
        workers[peer]?.idle = false
    }

    /// Replies to the READY messages that arrive while workers finish, then waits for local ones.
    private func shutDownWorkers(pool: LocalWorkerPool?) {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if let pool, pool.runningPIDs.isEmpty { break }
            if pool == nil && workers.values.allSatisfy({ $0.shutdownSent }) { break }
            for (peer, worker) in workers where !worker.shutdownSent && worker.idle {
                try? sendShutdown(to: peer, reason: "sweep finished")
            }
            do {
                if let frames = try socket.receive(timeout: WireProtocol.coordinatorPoll) {
                    handle(frames)
                }
            } catch {
                Log.warning("receive failed during shutdown", ["error": error])
                break
            }
        }
        pool?.waitForExit(timeout: .seconds(5))
        socket.close()
    }
}

/// Workers that the coordinator did not start and cannot watch as child processes, such as
/// the tasks of Slurm job arrays. `Coordinator.serve` queries it once per poll (every 200 ms), so an
/// implementation that runs commands should rate-limit itself.
public protocol ExternalWorkers: AnyObject {
    /// Returns why no worker can connect or report any more, or nil while one still may.
    func reasonNoWorkerIsLeft() -> String?
}
