import Foundation

/// The tables of `sweep.db` and the version check that guards them.
enum StoreSchema {
    /// Version written by this build. Change it, with a migration, whenever a table changes.
    static let version = 2

    /// Creates the tables in an empty database, or checks the version of an existing one.
    /// Call it inside a transaction, so a half-created schema is never left behind.
    static func prepare(_ database: SQLiteDatabase) throws {
        let existing = try database.query(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
        ) { $0.int(0) }
        if existing.first == 0 {
            try database.execute(tables)
            try database.execute(version2Changes)
            try database.run(
                "INSERT INTO schema_version (version) VALUES (?1)",
                [.integer(version)]
            )
            return
        }
        var found = try database.query("SELECT max(version) FROM schema_version") { $0.int(0) }
        if found.first == 1 {
            try database.execute(version2Changes)
            try database.run("INSERT INTO schema_version (version) VALUES (2)")
            found = [2]
        }
        guard found.first == version else {
            throw StoreError.unsupportedSchema(
                found: found.first ?? 0,
                expected: version,
                path: database.path
            )
        }
    }

    /// Version 2 adds `late_messages`: messages of attempts that were superseded when they
    /// arrived (the lease had expired or the run was done), kept for the record. It also adds
    /// `runs.superseded_at`, set on a run archived because its planned config changed. Such a
    /// run keeps its results under the id `RUN_ID@HASH12` and is left out of plans and reports.
    private static let version2Changes = """
        ALTER TABLE runs ADD COLUMN superseded_at REAL;

        CREATE TABLE late_messages (
            run_id TEXT NOT NULL REFERENCES runs (run_id),
            attempt INTEGER NOT NULL,
            seq INTEGER NOT NULL,
            type TEXT NOT NULL,
            worker TEXT NOT NULL,
            detail TEXT NOT NULL,
            received_at REAL NOT NULL,
            PRIMARY KEY (run_id, attempt, seq, type)
        );
        """

    /// The CREATE statements of schema version 1. Statuses are spelled as in `summary.csv`.
    private static let tables = """
        CREATE TABLE schema_version (version INTEGER NOT NULL);

        -- The sweep this store belongs to and the hash of the plan registered last.
        CREATE TABLE sweep (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            name TEXT NOT NULL,
            plan_sha256 TEXT NOT NULL
        );

        CREATE TABLE runs (
            run_id TEXT PRIMARY KEY,
            plan_index INTEGER NOT NULL,
            kind TEXT NOT NULL,
            method TEXT NOT NULL,
            rung TEXT NOT NULL,
            seed INTEGER NOT NULL,
            config_sha256 TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'queued'
                CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
            final_accuracy REAL,
            best_accuracy REAL,
            failure_reason TEXT
        );

        CREATE TABLE run_dependencies (
            run_id TEXT NOT NULL REFERENCES runs (run_id),
            slot INTEGER NOT NULL,
            depends_on TEXT NOT NULL REFERENCES runs (run_id),
            PRIMARY KEY (run_id, slot)
        );

        -- Times are Unix seconds from the coordinator's clock; seconds is the attempt's
        -- duration, reported by the worker for a done attempt.
        CREATE TABLE attempts (
            run_id TEXT NOT NULL REFERENCES runs (run_id),
            attempt INTEGER NOT NULL CHECK (attempt >= 1),
            worker TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed', 'cancelled')),
            started_at REAL NOT NULL,
            finished_at REAL,
            seconds REAL,
            reason TEXT,
            PRIMARY KEY (run_id, attempt)
        );

        -- One row per epoch message; the key makes a resent message a no-op.
        CREATE TABLE epochs (
            run_id TEXT NOT NULL REFERENCES runs (run_id),
            attempt INTEGER NOT NULL,
            seq INTEGER NOT NULL,
            phase TEXT NOT NULL,
            epoch INTEGER NOT NULL,
            received_at REAL NOT NULL,
            PRIMARY KEY (run_id, attempt, seq)
        );

        -- value is NULL for a NaN, which SQLite cannot store as a REAL.
        CREATE TABLE metrics (
            run_id TEXT NOT NULL,
            attempt INTEGER NOT NULL,
            seq INTEGER NOT NULL,
            name TEXT NOT NULL,
            value REAL,
            PRIMARY KEY (run_id, attempt, seq, name),
            FOREIGN KEY (run_id, attempt, seq) REFERENCES epochs (run_id, attempt, seq)
        );
        """
}
