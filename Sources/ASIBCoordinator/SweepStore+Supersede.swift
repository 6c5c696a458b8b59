import ASIBSupport
import Foundation

/// A stored run archived because the plan gives its run id another config.
public struct SupersededRun: Equatable, Sendable {
    public let runID: String
    /// The id its rows carry from now on: `RUN_ID@HASH12`, HASH12 the first 12 characters
    /// of the old config hash (with `.2`, `.3`, ... appended when that id is taken).
    public let archivedID: String
    public let oldSHA256: String
    public let newSHA256: String
}

extension SweepStore {
    /// Archives every stored run whose config hash differs from the planned one, so that the
    /// planned config starts as a new run and old results are never mixed with new ones.
    /// The archived run keeps its attempts, epochs, metrics and late messages under its
    /// archived id; `runs()`, reports and later plans leave it out.
    ///
    /// Call before `registerPlan`. Runs whose hash is unchanged are not touched.
    @discardableResult
    public func supersedeChangedRuns(planned: [RunRecord]) throws -> [SupersededRun] {
        let superseded = try database.transaction { () -> [SupersededRun] in
            // The renames below briefly leave child rows pointing at an id that moved;
            // SQLite checks the foreign keys again at COMMIT.
            try database.execute("PRAGMA defer_foreign_keys = ON")
            let stored = try database.query(
                "SELECT run_id, config_sha256 FROM runs WHERE superseded_at IS NULL"
            ) { (try $0.text(0), try $0.text(1)) }
            let storedHashes = Dictionary(uniqueKeysWithValues: stored)
            var archived: [SupersededRun] = []
            for run in planned {
                guard let oldHash = storedHashes[run.runID], oldHash != run.configSHA256 else { continue }
                let archivedID = try freeArchivedID(for: run.runID, oldHash: oldHash)
                try rename(run.runID, to: archivedID)
                archived.append(SupersededRun(
                    runID: run.runID, archivedID: archivedID, oldSHA256: oldHash,
                    newSHA256: run.configSHA256
                ))
            }
            return archived
        }
        for run in superseded {
            Log.notice(
                "config changed, old run archived",
                ["run": run.runID, "archived_as": run.archivedID, "old": run.oldSHA256.prefix(12),
                 "new": run.newSHA256.prefix(12)]
            )
        }
        return superseded
    }

    /// Archives the given stored runs as they are, so that the plan trains them again under
    /// their ids. Used for done runs whose output files are gone; ids not in the store are
    /// skipped.
    @discardableResult
    public func supersedeRuns(_ runIDs: [String]) throws -> [SupersededRun] {
        try database.transaction { () -> [SupersededRun] in
            try database.execute("PRAGMA defer_foreign_keys = ON")
            var archived: [SupersededRun] = []
            for runID in runIDs {
                let hashes = try database.query(
                    "SELECT config_sha256 FROM runs WHERE run_id = ?1 AND superseded_at IS NULL",
                    [.text(runID)]
                ) { try $0.text(0) }
                guard let hash = hashes.first else { continue }
                let archivedID = try freeArchivedID(for: runID, oldHash: hash)
                try rename(runID, to: archivedID)
                archived.append(SupersededRun(
                    runID: runID, archivedID: archivedID, oldSHA256: hash, newSHA256: hash
                ))
            }
            return archived
        }
    }

    private func freeArchivedID(for runID: String, oldHash: String) throws -> String {
        let base = "\(runID)@\(oldHash.prefix(12))"
        for suffix in 1...1000 {
            let candidate = suffix == 1 ? base : "\(base).\(suffix)"
            let taken = try database.query(
                "SELECT count(*) FROM runs WHERE run_id = ?1", [.text(candidate)]
            ) { $0.int(0) }
            if taken.first == 0 {
                return candidate
            }
        }
        throw StoreError.invalidTransition(
            runID: runID, from: "stored", to: "archived",
            detail: "1000 archived copies of this run exist already"
        )
    }

    private func rename(_ runID: String, to archivedID: String) throws {
        let now = clock().timeIntervalSince1970
        try database.run(
            "UPDATE runs SET run_id = ?2, superseded_at = ?3 WHERE run_id = ?1",
            [.text(runID), .text(archivedID), .real(now)]
        )
        for table in ["attempts", "epochs", "metrics", "late_messages", "run_dependencies"] {
            try database.run(
                "UPDATE \(table) SET run_id = ?2 WHERE run_id = ?1", [.text(runID), .text(archivedID)]
            )
        }
        try database.run(
            "UPDATE run_dependencies SET depends_on = ?2 WHERE depends_on = ?1",
            [.text(runID), .text(archivedID)]
        )
    }
}
