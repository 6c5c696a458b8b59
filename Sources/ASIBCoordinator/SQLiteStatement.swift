import CSQLite
import Foundation

/// One compiled SQL statement of an `SQLiteDatabase`, finalized in `deinit`.
///
/// Bind the parameters, then call `step` until it returns false, reading columns (numbered
/// from 0) while it returns true. `bind` resets the statement, so it can be run again.
public final class SQLiteStatement {
    /// The statement's SQL text, as given to `prepare`.
    public let sql: String
    private let database: SQLiteDatabase
    private let handle: OpaquePointer?

    init(database: SQLiteDatabase, sql: String) throws {
        self.sql = sql
        self.database = database
        var prepared: OpaquePointer?
        let code = sqlite3_prepare_v2(database.handle, sql, -1, &prepared, nil)
        handle = prepared
        try database.check(code, "sqlite3_prepare_v2", sql: sql)
    }

    deinit {
        sqlite3_finalize(handle)
    }

    /// Resets the statement and binds `values` to its parameters `?1`, `?2`, ... in order.
    public func bind(_ values: [SQLiteValue]) throws {
        try database.check(sqlite3_reset(handle), "sqlite3_reset", sql: sql)
        try database.check(sqlite3_clear_bindings(handle), "sqlite3_clear_bindings", sql: sql)
        for (offset, value) in values.enumerated() {
            try bind(value, at: Int32(offset + 1))
        }
    }

    /// Runs the statement to its next row. Returns true when a row is ready to read and false
    /// when the statement has finished.
    public func step() throws -> Bool {
        let code = sqlite3_step(handle)
        if code == SQLITE_ROW {
            return true
        }
        try database.check(code, "sqlite3_step", sql: sql)
        return false
    }

    /// Returns whether the column of the current row is NULL.
    public func isNull(_ column: Int) -> Bool {
        sqlite3_column_type(handle, Int32(column)) == SQLITE_NULL
    }

    /// Returns the column as an integer (0 for NULL).
    public func int(_ column: Int) -> Int {
        Int(sqlite3_column_int64(handle, Int32(column)))
    }

    /// Returns the column as a floating-point number (0 for NULL).
    public func double(_ column: Int) -> Double {
        sqlite3_column_double(handle, Int32(column))
    }

    /// Returns the column as a floating-point number, or nil for NULL.
    public func optionalDouble(_ column: Int) -> Double? {
        isNull(column) ? nil : double(column)
    }

    /// Returns the column as UTF-8 text (empty for NULL).
    public func text(_ column: Int) throws -> String {
        if isNull(column) {
            return ""
        }
        guard let bytes = sqlite3_column_text(handle, Int32(column)) else {
            // A NULL pointer for a non-NULL column means the text conversion ran out of memory.
            try database.check(SQLITE_NOMEM, "sqlite3_column_text", sql: sql)
            return ""
        }
        let count = Int(sqlite3_column_bytes(handle, Int32(column)))
        return String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
    }

    /// Returns the column as UTF-8 text, or nil for NULL.
    public func optionalText(_ column: Int) throws -> String? {
        isNull(column) ? nil : try text(column)
    }

    private func bind(_ value: SQLiteValue, at index: Int32) throws {
        let code: Int32
        switch value {
        case .integer(let number):
            code = sqlite3_bind_int64(handle, index, sqlite3_int64(number))
        case .real(let number):
            code = sqlite3_bind_double(handle, index, number)
        case .text(let string):
            code = string.withCString { pointer in
                sqlite3_bind_text(
                    handle, index, pointer, Int32(string.utf8.count), Self.transientDestructor
                )
            }
        case .null:
            code = sqlite3_bind_null(handle, index)
        }
        try database.check(code, "sqlite3_bind", sql: sql)
    }

    /// `SQLITE_TRANSIENT`, which makes SQLite copy the bound bytes before the call returns.
    /// The C header defines it as a cast macro, which Swift does not import.
    private static let transientDestructor = unsafeBitCast(
        -1,
        to: sqlite3_destructor_type.self
    )
}
