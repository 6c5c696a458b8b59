import ASIBSupport
import ASIBWire
import Foundation

/// The sweep's scheduler: hands runs to workers over a ZeroMQ ROUTER, stores what they report,
/// and ends when every run has finished.
///
/// A run is ready when every run it depends on is done; it is cancelled when one of them
/// failed or was cancelled. A run whose worker reports a retryable failure, or whose local
/// worker process dies, goes back to the queue until `maxAttempts` attempts were made.
///
/// A worker whose HELLO lists `run_indices` (a Slurm array task) is assigned only those runs,
/// and is told to shut down as soon as all of them have finished, so that the array task ends
/// and jobs that depend on it can start.
public final class Coordinator {
    public struct Options {
        public var endpoint: String
        public var resultsDirectory: URL
        public var configRoot: URL
        public var primaryConfig: String
        public var planSHA256: String
        public var maxAttempts: Int

        public init(
            endpoint: String, resultsDirectory: URL, configRoot: URL, primaryConfig: String,
            planSHA256: String,
            maxAttempts: Int = 2
        ) {
            self.endpoint = endpoint
            self.resultsDirectory = resultsDirectory
            self.configRoot = configRoot
            self.primaryConfig = primaryConfig
            self.planSHA256 = planSHA256
            self.maxAttempts = maxAttempts
        }
    }

    public struct Outcome {
        public var done = 0
        public var failed = 0
        public var cancelled = 0
    }

    private struct RunState {
        var status: RunStatus
        var attempts: Int
        var worker: Data?
    }

    private struct WorkerState {
        var id: String
        var pid: Int32?
        var run: String?
        var idle = false
        var shutdownSent = false
        /// Run ids this worker may train; nil for any run.
        var servedRuns: Set<String>? = nil
    }

    private let runs: [CoordinatorRun]
    private let runsByID: [String: CoordinatorRun]
    private let options: Options
    private let store: SweepStore
    private let context: ZMQContext
    private let socket: ZMQSocket
    private var states: [String: RunState] = [:]
    private var workers: [Data: WorkerState] = [:]
    private var rejectedMessages = 0

    public init(runs: [CoordinatorRun], options: Options, store: SweepStore) throws {
        self.runs = runs
        self.runsByID = Dictionary(uniqueKeysWithValues: runs.map { ($0.runID, $0) })
        self.options = options
        self.store = store
        context = try ZMQContext()
        socket = try ZMQSocket(context: context, kind: .router)
        try socket.limitMessageSize(WireProtocol.maxMessageBytes)
        try socket.setHighWaterMarks(WireProtocol.highWaterMark)
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
            if let pool {
                try reapDeadWorkers(pool: pool)
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
                // A run that was running when an earlier coordinator stopped starts over.
                if let status = RunStatus(rawValue: previous.status), status == .done {
                    state.status = .done
                }
            }
            states[run.runID] = state
        }
    }

    private func allRunsFinal() -> Bool {
        states.values.allSatisfy { $0.status.isFinal }
    }

    private func isReady(_ run: CoordinatorRun) -> Bool {
        states[run.runID]?.status == .queued
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
    private func cancelUnreachableRuns() {
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

    private func announceProgress() {
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
            releaseEarlierConnection(of: hello, newPeer: peer)
            workers[peer] = WorkerState(
                id: hello.workerId, pid: hello.pid, servedRuns: servedRuns(hello, from: peer))
            Log.info("worker connected", ["worker": hello.workerId, "host": hello.host, "pid": hello.pid])
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
        case .heartbeat:
            break
        case .assign, .ack, .cancel, .shutdown:
            reject(peer: peer, reason: "\(type.rawValue) is sent by the coordinator, not to it")
        }
    }

    /// Maps the HELLO's `run_indices` to run ids. An index outside the plan means the worker
    /// read a different plan: the message is logged as rejected and the worker serves no run,
    /// so its next READY is answered with SHUTDOWN.
    private func servedRuns(_ hello: HelloBody, from peer: Data) -> Set<String>? {
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

    private func reject(peer: Data?, reason: String) {
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
        if let current = workers[peer]?.run, states[current]?.status == .running {
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
            teacherCheckpoints: checkpoints
        )
        try socket.send([peer] + WireProtocol.encode(.assign, body))

        let workerID = workers[peer]?.id ?? "?"
        states[run.runID] = RunState(status: .running, attempts: attempt, worker: peer)
        workers[peer]?.run = run.runID
        workers[peer]?.idle = false
        try store.markRunning(runID: run.runID, attempt: attempt, worker: workerID)
        print("started \(run.runID) (attempt \(attempt)) on \(workerID)")
        fflush(stdout)
    }

    private func assignIdleWorkers() throws {
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

    private func isCurrentAttempt(runID: String, attempt: Int) -> Bool {
        states[runID]?.status == .running && states[runID]?.attempts == attempt
    }

    private func handleDone(_ done: DoneBody, from peer: Data) throws {
        guard isCurrentAttempt(runID: done.runId, attempt: done.attempt) else {
            reject(peer: peer, reason: "DONE for run '\(done.runId)' attempt \(done.attempt), which is not running")
            return
        }
        try store.markDone(
            runID: done.runId, attempt: done.attempt, finalAccuracy: done.finalAccuracy,
            bestAccuracy: done.bestAccuracy, seconds: done.seconds
        )
        states[done.runId]?.status = .done
        workers[peer]?.run = nil
        print(String(
            format: "done %@: final acc %.2f%%, best %.2f%%, %.1f s",
            done.runId, done.finalAccuracy, done.bestAccuracy, done.seconds
        ))
        announceProgress()
        try assignIdleWorkers()
    }

    private func handleFail(_ failure: FailBody, from peer: Data) throws {
        guard isCurrentAttempt(runID: failure.runId, attempt: failure.attempt) else {
            reject(peer: peer, reason: "FAIL for run '\(failure.runId)' attempt \(failure.attempt), which is not running")
            return
        }
        workers[peer]?.run = nil
        requeueOrFail(runID: failure.runId, reason: failure.reason, retryable: failure.retryable)
        try assignIdleWorkers()
    }

    private func requeueOrFail(runID: String, reason: String, retryable: Bool) {
        guard var state = states[runID] else { return }
        state.worker = nil
        if retryable && state.attempts < options.maxAttempts {
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
            if let runID = worker.run, states[runID]?.status == .running {
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

    private func sendShutdown(to peer: Data, reason: String) throws {
        try socket.send([peer] + WireProtocol.encode(.shutdown, ShutdownBody(reason: reason)))
        workers[peer]?.shutdownSent = true
        workers[peer]?.idle = false
    }

    /// Answers the READY messages that arrive while workers finish, then waits for local ones.
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
/// the tasks of Slurm job arrays. `Coordinator.serve` asks once per poll (every 200 ms), so an
/// implementation that runs commands should rate-limit itself.
public protocol ExternalWorkers: AnyObject {
    /// Returns why no worker can connect or report any more, or nil while one still may.
    func reasonNoWorkerIsLeft() -> String?
}
