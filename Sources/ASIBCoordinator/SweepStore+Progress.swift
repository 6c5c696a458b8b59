import ASIBSupport
import Foundation

/// Status changes and epoch metrics. Each call is one transaction and checks the run's stored
/// status first, so a call that does not fit leaves the store unchanged.
///
/// Allowed changes:
/// - `queued`, `failed` or `cancelled` to `running` with a new attempt. A `running` run may
///   start a new attempt too, because an earlier coordinator may have stopped during it.
/// - `running` to `done`.
/// - anything but `done` to `failed` or `cancelled`.
/// - `failed` or `cancelled` to `queued`.
extension SweepStore {
    /// Records the start of `attempt` on `worker`. The attempt must be higher than every
    /// attempt started before. An earlier attempt still marked running was abandoned by a
    /// stopped coordinator: it is closed as failed, without a duration.
    public func markRunning(runID: String, attempt: Int, worker: String) throws {
        try database.transaction {
            let run = try progress(of: runID)
            try requireNotDone(run, next: .running)
            guard attempt > run.latestAttempt else {
                throw StoreError.invalidTransition(
                    runID: runID, from: run.status, to: RunStatus.running.rawValue,
                    detail: "attempt \(attempt) is not after the latest started attempt "
                        + "\(run.latestAttempt)"
                )
            }
            try closeAbandonedAttempts(runID: runID, successor: attempt)
            try database.run(
                """
                INSERT INTO attempts (run_id, attempt, worker, status, started_at)
                VALUES (?1, ?2, ?3, 'running', ?4)
                """,
                [.text(runID), .integer(attempt), .text(worker), .real(now())]
            )
            try setStatus(.running, of: runID)
        }
        Log.debug("run started", ["run": runID, "attempt": attempt, "worker": worker])
    }

    /// Stores the metrics of one epoch message with all its values in one transaction.
    /// Returns false, and stores nothing, when (run, attempt, seq) was stored before, so a
    /// message that a worker sends again is never counted twice.
    @discardableResult
    public func recordEpoch(
        runID: String,
        attempt: Int,
        seq: Int,
        phase: String,
        epoch: Int,
        metrics: [String: Double]
    ) throws -> Bool {
        try validateEpoch(runID: runID, attempt: attempt, seq: seq, phase: phase, epoch: epoch)
        return try database.transaction {
            let run = try progress(of: runID)
            guard attempt <= run.latestAttempt else {
                throw StoreError.unknownAttempt(
                    runID: runID, attempt: attempt, latest: run.latestAttempt, path: path
                )
            }
            let inserted = try database.run(
                """
                INSERT INTO epochs (run_id, attempt, seq, phase, epoch, received_at)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING
                """,
                [
                    .text(runID), .integer(attempt), .integer(seq), .text(phase),
                    .integer(epoch), .real(now()),
                ]
            )
            guard inserted == 1 else { return false }
            try insertMetrics(metrics, runID: runID, attempt: attempt, seq: seq)
            return true
        }
    }

    /// Records that the running `attempt` finished. Accuracies are test percentages (0-100);
    /// `seconds` is the worker's training time.
    public func markDone(
        runID: String,
        attempt: Int,
        finalAccuracy: Double,
        bestAccuracy: Double,
        seconds: Double
    ) throws {
        try database.transaction {
            let run = try progress(of: runID)
            guard run.status == RunStatus.running.rawValue else {
                throw StoreError.invalidTransition(
                    runID: runID, from: run.status, to: RunStatus.done.rawValue,
                    detail: "only a running run can finish"
                )
            }
            try requireLatest(attempt: attempt, of: run, next: .done)
            try database.run(
                """
                UPDATE attempts SET status = 'done', finished_at = ?3, seconds = ?4
                WHERE run_id = ?1 AND attempt = ?2
                """,
                [.text(runID), .integer(attempt), .real(now()), .real(seconds)]
            )
            try database.run(
                """
                UPDATE runs SET status = 'done', final_accuracy = ?2, best_accuracy = ?3,
                    failure_reason = NULL
                WHERE run_id = ?1
                """,
                [.text(runID), .real(finalAccuracy), .real(bestAccuracy)]
            )
        }
        Log.debug("run done", ["run": runID, "attempt": attempt])
    }

    /// Records that the run failed. `attempt` is the latest started attempt, or 0 when the run
    /// never started. A running attempt is closed with the time since its start.
    public func markFailed(runID: String, attempt: Int, reason: String) throws {
        try database.transaction {
            let run = try progress(of: runID)
            try requireNotDone(run, next: .failed)
            try requireLatest(attempt: attempt, of: run, next: .failed)
            try closeRunningAttempt(runID: runID, attempt: attempt, as: .failed, reason: reason)
            try setStatus(.failed, of: runID, reason: reason)
        }
        Log.debug("run failed", ["run": runID, "attempt": attempt, "reason": reason])
    }

    /// Records that the run will not run, closing its running attempt if there is one.
    public func markCancelled(runID: String, reason: String) throws {
        try database.transaction {
            let run = try progress(of: runID)
            try requireNotDone(run, next: .cancelled)
            try closeRunningAttempt(
                runID: runID, attempt: run.latestAttempt, as: .cancelled, reason: reason
            )
            try setStatus(.cancelled, of: runID, reason: reason)
        }
        Log.debug("run cancelled", ["run": runID, "reason": reason])
    }

    /// Puts a failed or cancelled run back in the queue for another attempt. The failure
    /// reason stays until the run is done.
    public func markQueued(runID: String) throws {
        try database.transaction {
            let run = try progress(of: runID)
            try requireNotDone(run, next: .queued)
            guard run.status != RunStatus.running.rawValue else {
                throw StoreError.invalidTransition(
                    runID: runID, from: run.status, to: RunStatus.queued.rawValue,
                    detail: "record how attempt \(run.latestAttempt) ended with markFailed first"
                )
            }
            try setStatus(.queued, of: runID)
        }
    }

    // MARK: - Checks

    /// A run's stored status and the number of its latest started attempt (0 for none).
    struct StoredProgress {
        let runID: String
        let status: String
        let latestAttempt: Int
    }

    func progress(of runID: String) throws -> StoredProgress {
        let rows = try database.query(
            """
            SELECT r.status,
                (SELECT coalesce(max(a.attempt), 0) FROM attempts a WHERE a.run_id = r.run_id)
            FROM runs r WHERE r.run_id = ?1
            """,
            [.text(runID)]
        ) { StoredProgress(runID: runID, status: try $0.text(0), latestAttempt: $0.int(1)) }
        guard let run = rows.first else {
            throw StoreError.unknownRun(runID: runID, path: path)
        }
        return run
    }

    private func requireNotDone(_ run: StoredProgress, next: RunStatus) throws {
        guard run.status != RunStatus.done.rawValue else {
            throw StoreError.invalidTransition(
                runID: run.runID, from: run.status, to: next.rawValue,
                detail: "a done run is final"
            )
        }
    }

    private func requireLatest(attempt: Int, of run: StoredProgress, next: RunStatus) throws {
        if attempt > run.latestAttempt {
            throw StoreError.unknownAttempt(
                runID: run.runID, attempt: attempt, latest: run.latestAttempt, path: path
            )
        }
        if attempt < run.latestAttempt {
            throw StoreError.invalidTransition(
                runID: run.runID, from: run.status, to: next.rawValue,
                detail: "attempt \(attempt) was superseded by attempt \(run.latestAttempt)"
            )
        }
    }

    private func validateEpoch(
        runID: String, attempt: Int, seq: Int, phase: String, epoch: Int
    ) throws {
        if attempt < 1 {
            throw StoreError.invalidEpoch(
                runID: runID, field: "attempt", value: "\(attempt)", allowed: "1 or more"
            )
        }
        if seq < 1 {
            throw StoreError.invalidEpoch(
                runID: runID, field: "seq", value: "\(seq)", allowed: "1 or more"
            )
        }
        if epoch < 1 {
            throw StoreError.invalidEpoch(
                runID: runID, field: "epoch", value: "\(epoch)", allowed: "1 or more"
            )
        }
        if phase.isEmpty {
            throw StoreError.invalidEpoch(
                runID: runID, field: "phase", value: phase, allowed: "a phase name such as student"
            )
        }
    }

    // MARK: - Writes

    private func insertMetrics(
        _ metrics: [String: Double], runID: String, attempt: Int, seq: Int
    ) throws {
        let statement = try database.prepare(
            "INSERT INTO metrics (run_id, attempt, seq, name, value) VALUES (?1, ?2, ?3, ?4, ?5)"
        )
        for (name, value) in metrics.sorted(by: { $0.key < $1.key }) {
            try statement.bind([
                .text(runID), .integer(attempt), .integer(seq), .text(name), .real(value),
            ])
            while try statement.step() {}
        }
    }

    private func setStatus(_ status: RunStatus, of runID: String, reason: String? = nil) throws {
        if let reason {
            try database.run(
                "UPDATE runs SET status = ?2, failure_reason = ?3 WHERE run_id = ?1",
                [.text(runID), .text(status.rawValue), .text(reason)]
            )
        } else {
            try database.run(
                "UPDATE runs SET status = ?2 WHERE run_id = ?1",
                [.text(runID), .text(status.rawValue)]
            )
        }
    }

    private func closeRunningAttempt(
        runID: String, attempt: Int, as status: RunStatus, reason: String
    ) throws {
        try database.run(
            """
            UPDATE attempts SET status = ?3, reason = ?4, finished_at = ?5,
                seconds = ?5 - started_at
            WHERE run_id = ?1 AND attempt = ?2 AND status = 'running'
            """,
            [.text(runID), .integer(attempt), .text(status.rawValue), .text(reason), .real(now())]
        )
    }

    private func closeAbandonedAttempts(runID: String, successor: Int) throws {
        try database.run(
            """
            UPDATE attempts SET status = 'failed', finished_at = ?2,
                reason = 'abandoned: attempt ' || ?3 || ' started before this attempt ended'
            WHERE run_id = ?1 AND status = 'running'
            """,
            [.text(runID), .real(now()), .integer(successor)]
        )
    }

    private func now() -> Double {
        clock().timeIntervalSince1970
    }
}
