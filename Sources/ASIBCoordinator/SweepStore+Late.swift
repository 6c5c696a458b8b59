import Foundation

extension SweepStore {
    /// Stores a message of a superseded attempt. Returns false when (run, attempt, seq, type)
    /// was stored before, so a worker that sends it again adds nothing.
    @discardableResult
    public func recordLateMessage(
        runID: String, attempt: Int, seq: Int, type: String, worker: String, detail: String
    ) throws -> Bool {
        try database.transaction {
            _ = try progress(of: runID)
            let inserted = try database.run(
                """
                INSERT INTO late_messages (run_id, attempt, seq, type, worker, detail, received_at)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING
                """,
                [
                    .text(runID), .integer(attempt), .integer(seq), .text(type), .text(worker),
                    .text(detail), .real(clock().timeIntervalSince1970),
                ]
            )
            return inserted == 1
        }
    }

    /// Number of late messages stored.
    public func lateMessageCount() throws -> Int {
        try database.query("SELECT count(*) FROM late_messages") { $0.int(0) }.first ?? 0
    }
}
