import ASIBSupport
import Foundation

/// The sweep's durable record in `sweep.db`: the registered plan, each run's status and
/// attempts, and every epoch's metrics, stored once.
///
/// Every change is one SQLite transaction, so a crash leaves either the old or the new state.
/// A `done` run is final: no later call reopens it. The class is not thread-safe; the
/// coordinator calls it from one thread.
public final class SweepStore {
    let database: SQLiteDatabase
    let clock: () -> Date

    /// The database file.
    public var path: String { database.path }

    /// Opens the store at `path`, creating the file and its tables when missing.
    /// `clock` supplies the start and end times of attempts.
    public init(path: URL, clock: @escaping () -> Date = { Date() }) throws {
        database = try SQLiteDatabase(path: path)
        self.clock = clock
        try database.transaction {
            try StoreSchema.prepare(database)
        }
    }

    // MARK: - Plan

    /// Registers the plan's runs. Runs new to the store start `queued`. A run already stored
    /// with the same id and config hash keeps its status, attempts and metrics, so a relaunch
    /// resumes the sweep.
    ///
    /// Throws `StoreError.planChanged` when a stored run id comes with another config hash.
    /// Throws `StoreError.runDropped` when a stored run is missing from the plan, and
    /// `StoreError.otherSweep` when the store belongs to another sweep. Nothing is written then.
    public func registerPlan(sweep: String, planSHA256: String, runs: [RunRecord]) throws {
        try database.transaction {
            try registerSweep(name: sweep, planSHA256: planSHA256)
            let stored = try storedConfigHashes()
            try checkUnchanged(planned: runs, stored: stored)
            for run in runs {
                try upsert(run)
            }
            for run in runs {
                try replaceDependencies(of: run)
            }
        }
        Log.debug("registered plan", ["sweep": sweep, "plan": planSHA256, "runs": runs.count])
    }

    private func registerSweep(name: String, planSHA256: String) throws {
        let stored = try database.query("SELECT name FROM sweep WHERE id = 1") { try $0.text(0) }
        if let storedName = stored.first, storedName != name {
            throw StoreError.otherSweep(stored: storedName, requested: name, path: path)
        }
        try database.run(
            """
            INSERT INTO sweep (id, name, plan_sha256) VALUES (1, ?1, ?2)
            ON CONFLICT (id) DO UPDATE SET plan_sha256 = excluded.plan_sha256
            """,
            [.text(name), .text(planSHA256)]
        )
    }

    private func storedConfigHashes() throws -> [String: String] {
        let pairs = try database.query(
            "SELECT run_id, config_sha256 FROM runs WHERE superseded_at IS NULL"
        ) {
            (try $0.text(0), try $0.text(1))
        }
        return Dictionary(uniqueKeysWithValues: pairs)
    }

    private func checkUnchanged(planned: [RunRecord], stored: [String: String]) throws {
        for run in planned {
            if let storedHash = stored[run.runID], storedHash != run.configSHA256 {
                throw StoreError.planChanged(
                    runID: run.runID,
                    storedSHA256: storedHash,
                    plannedSHA256: run.configSHA256,
                    path: path
                )
            }
        }
        let plannedIDs = Set(planned.map(\.runID))
        if let dropped = stored.keys.sorted().first(where: { !plannedIDs.contains($0) }) {
            throw StoreError.runDropped(runID: dropped, path: path)
        }
    }

    /// Inserts a new run as queued, or refreshes a stored run's plan fields, which may move
    /// when runs are added to the plan, without touching its status.
    private func upsert(_ run: RunRecord) throws {
        try database.run(
            """
            INSERT INTO runs (run_id, plan_index, kind, method, rung, seed, config_sha256)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
            ON CONFLICT (run_id) DO UPDATE SET
                plan_index = excluded.plan_index, kind = excluded.kind,
                method = excluded.method, rung = excluded.rung, seed = excluded.seed
            """,
            [
                .text(run.runID), .integer(run.index), .text(run.kind), .text(run.method),
                .text(run.rung), .integer(run.seed), .text(run.configSHA256),
            ]
        )
    }

    private func replaceDependencies(of run: RunRecord) throws {
        try database.run("DELETE FROM run_dependencies WHERE run_id = ?1", [.text(run.runID)])
        for (slot, teacher) in run.dependsOn.enumerated() {
            try database.run(
                "INSERT INTO run_dependencies (run_id, slot, depends_on) VALUES (?1, ?2, ?3)",
                [.text(run.runID), .integer(slot), .text(teacher)]
            )
        }
    }

    // MARK: - Reading

    /// Returns every registered run with its progress, in plan index order.
    public func runs() throws -> [RunState] {
        let dependencies = try dependencyLists()
        return try database.query(
            """
            SELECT r.run_id, r.plan_index, r.kind, r.method, r.rung, r.seed, r.config_sha256,
                r.status, r.final_accuracy, r.best_accuracy, r.failure_reason,
                (SELECT coalesce(max(a.attempt), 0) FROM attempts a WHERE a.run_id = r.run_id),
                (SELECT sum(a.seconds) FROM attempts a WHERE a.run_id = r.run_id)
            FROM runs r WHERE r.superseded_at IS NULL ORDER BY r.plan_index, r.run_id
            """
        ) { row in
            let runID = try row.text(0)
            let record = RunRecord(
                index: row.int(1), runID: runID, kind: try row.text(2), method: try row.text(3),
                rung: try row.text(4), seed: row.int(5), configSHA256: try row.text(6),
                dependsOn: dependencies[runID] ?? []
            )
            return RunState(
                record: record, status: try row.text(7), attempts: row.int(11),
                finalAccuracy: row.optionalDouble(8), bestAccuracy: row.optionalDouble(9),
                totalSeconds: row.optionalDouble(12), failureReason: try row.optionalText(10)
            )
        }
    }

    private func dependencyLists() throws -> [String: [String]] {
        let pairs = try database.query(
            "SELECT run_id, depends_on FROM run_dependencies ORDER BY run_id, slot"
        ) { (try $0.text(0), try $0.text(1)) }
        return Dictionary(grouping: pairs, by: \.0).mapValues { $0.map(\.1) }
    }

    /// Returns every recorded epoch message: runs in plan index order, then attempts, then
    /// the worker's sequence numbers, which follow the order in which the epochs ran.
    public func epochRows() throws -> [EpochRow] {
        let cells = try database.query(
            """
            SELECT e.run_id, e.attempt, e.seq, e.phase, e.epoch, m.name, m.value
            FROM epochs e
            JOIN runs r ON r.run_id = e.run_id
            LEFT JOIN metrics m ON m.run_id = e.run_id AND m.attempt = e.attempt
                AND m.seq = e.seq
            ORDER BY r.plan_index, e.run_id, e.attempt, e.seq, m.name
            """
        ) { row in
            let key = EpochKey(
                runID: try row.text(0), attempt: row.int(1), seq: row.int(2),
                phase: try row.text(3), epoch: row.int(4)
            )
            let name = try row.optionalText(5)
            return (key, name, row.optionalDouble(6) ?? .nan)
        }
        var rows: [EpochRow] = []
        var current: (key: EpochKey, metrics: [String: Double])?
        for (key, name, value) in cells {
            if let open = current, open.key != key {
                rows.append(open.key.row(metrics: open.metrics))
                current = nil
            }
            if current == nil {
                current = (key, [:])
            }
            if let name {
                current?.metrics[name] = value
            }
        }
        if let open = current {
            rows.append(open.key.row(metrics: open.metrics))
        }
        return rows
    }
}

/// The columns that identify one epoch message while its metric rows are grouped.
private struct EpochKey: Equatable {
    let runID: String
    let attempt: Int
    let seq: Int
    let phase: String
    let epoch: Int

    func row(metrics: [String: Double]) -> EpochRow {
        EpochRow(
            runID: runID, attempt: attempt, seq: seq, phase: phase, epoch: epoch, metrics: metrics
        )
    }
}
