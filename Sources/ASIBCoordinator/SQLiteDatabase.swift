import ASIBSupport
import CSQLite
import Foundation

/// A value for a statement parameter. SQLite stores a NaN `real` as NULL.
public enum SQLiteValue: Equatable {
    case integer(Int)
    case real(Double)
    case text(String)
    case null
}

/// One connection to an SQLite database file, closed in `deinit`.
///
/// The connection uses the write-ahead log, so readers such as `asib-sweep status` do not block
/// the coordinator's writes. It waits up to `busyTimeout` for a lock held by another
/// connection before a call fails with `SQLITE_BUSY`. Every SQLite return code goes through
/// `check`, which turns a failure into `StoreError.sqlite` with the call, the statement and
/// `sqlite3_errmsg`. A connection is meant for one thread at a time.
public final class SQLiteDatabase {
    /// The database file.
    public let path: String
    let handle: OpaquePointer?

    /// Opens or creates the database file at `path`.
    public init(path: URL, busyTimeout: Duration = .seconds(10)) throws {
        self.path = path.path
        var opened: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
        let code = sqlite3_open_v2(path.path, &opened, flags, nil)
        // sqlite3_open_v2 returns a handle even when it fails, so deinit must close it.
        handle = opened
        try check(code, "sqlite3_open_v2")
        try check(sqlite3_extended_result_codes(handle, 1), "sqlite3_extended_result_codes")
        try check(
            sqlite3_busy_timeout(handle, Self.milliseconds(busyTimeout)),
            "sqlite3_busy_timeout"
        )
        try execute("PRAGMA foreign_keys = ON")
        try enableWriteAheadLog()
        // FULL syncs the log on every commit: a worker drops a spooled metric once the
        // coordinator acknowledges its commit, so a commit must survive a power loss too.
        try execute("PRAGMA synchronous = FULL")
    }

    deinit {
        sqlite3_close_v2(handle)
    }

    /// Runs one or more SQL statements that take no parameters and return no rows.
    public func execute(_ sql: String) throws {
        try check(sqlite3_exec(handle, sql, nil, nil, nil), "sqlite3_exec", sql: sql)
    }

    /// Compiles one SQL statement.
    public func prepare(_ sql: String) throws -> SQLiteStatement {
        try SQLiteStatement(database: self, sql: sql)
    }

    /// Runs one statement with `values` bound to its parameters and returns the number of rows
    /// it inserted, updated or deleted.
    @discardableResult
    public func run(_ sql: String, _ values: [SQLiteValue] = []) throws -> Int {
        let statement = try prepare(sql)
        try statement.bind(values)
        while try statement.step() {}
        return Int(sqlite3_changes(handle))
    }

    /// Runs one query and converts each result row with `row`.
    public func query<Row>(
        _ sql: String,
        _ values: [SQLiteValue] = [],
        row: (SQLiteStatement) throws -> Row
    ) throws -> [Row] {
        let statement = try prepare(sql)
        try statement.bind(values)
        var rows: [Row] = []
        while try statement.step() {
            rows.append(try row(statement))
        }
        return rows
    }

    /// Runs `body` inside `BEGIN IMMEDIATE ... COMMIT`, rolling back when it throws.
    ///
    /// IMMEDIATE takes the write lock at the start, so a transaction that reads before it
    /// writes waits for the lock once instead of failing with `SQLITE_BUSY` when it upgrades
    /// a read lock. Transactions do not nest.
    public func transaction<Result>(_ body: () throws -> Result) throws -> Result {
        try transaction(begin: "BEGIN IMMEDIATE", body)
    }

    /// Runs `body` inside a deferred transaction, so that its queries read one snapshot of
    /// the database without taking the write lock. In WAL mode, writers continue meanwhile.
    public func readTransaction<Result>(_ body: () throws -> Result) throws -> Result {
        try transaction(begin: "BEGIN DEFERRED", body)
    }

    private func transaction<Result>(
        begin: String,
        _ body: () throws -> Result
    ) throws -> Result {
        precondition(sqlite3_get_autocommit(handle) != 0, "SQLite transactions do not nest")
        try execute(begin)
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            if sqlite3_get_autocommit(handle) == 0 {
                try? execute("ROLLBACK")
            }
            throw error
        }
    }

    /// Throws `StoreError.sqlite` unless `code` is one of SQLite's success codes
    /// (`SQLITE_OK`, `SQLITE_ROW`, `SQLITE_DONE`).
    func check(_ code: Int32, _ call: String, sql: String? = nil) throws {
        guard code != SQLITE_OK, code != SQLITE_ROW, code != SQLITE_DONE else { return }
        let message = handle.map { String(cString: sqlite3_errmsg($0)) }
            ?? String(cString: sqlite3_errstr(code))
        throw StoreError.sqlite(call: call, code: code, message: message, sql: sql, path: path)
    }

    /// Switches the journal to write-ahead logging. File systems without shared memory, such
    /// as many network mounts, keep the old journal, which still works but blocks readers.
    private func enableWriteAheadLog() throws {
        let modes = try query("PRAGMA journal_mode = WAL") { try $0.text(0) }
        if modes.first?.lowercased() != "wal" {
            Log.warning(
                "SQLite write-ahead log unavailable; readers will block the coordinator",
                ["path": path, "journal_mode": modes.first ?? "?"]
            )
        }
    }

    private static func milliseconds(_ duration: Duration) -> Int32 {
        let (seconds, attoseconds) = duration.components
        let total = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        return Int32(clamping: total)
    }
}
