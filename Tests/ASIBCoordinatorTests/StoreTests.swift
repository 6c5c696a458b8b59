import ASIBCoordinator
import ASIBSupport
import Foundation
import Testing

/// A temporary folder for one `sweep.db`, removed when the fixture is released.
final class StoreFixture {
    let folder: URL
    /// Seconds since 1970 that the store's clock returns. Tests move it forward by hand.
    var now: Double = 1_000_000

    init() throws {
        folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("asib-store-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: folder)
    }

    var databaseURL: URL { folder.appendingPathComponent("sweep.db") }

    func openStore() throws -> SweepStore {
        try SweepStore(path: databaseURL, clock: { [unowned self] in
            Date(timeIntervalSince1970: self.now)
        })
    }

    /// Returns a run record whose id and config hash follow from its fields.
    static func record(
        index: Int, method: String = "vanilla_kd", rung: String = "L0", seed: Int = 1,
        kind: String = "student", dependsOn: [String] = []
    ) -> RunRecord {
        RunRecord(
            index: index, runID: "\(method)-\(rung)-s\(seed)-\(index)", kind: kind,
            method: method, rung: rung, seed: seed,
            configSHA256: String(repeating: String(index % 10), count: 64), dependsOn: dependsOn
        )
    }

    /// Opens a store with `runs` registered under the sweep name "demo".
    func storeWithPlan(_ runs: [RunRecord]) throws -> SweepStore {
        let store = try openStore()
        try store.registerPlan(sweep: "demo", planSHA256: "plan-1", runs: runs)
        return store
    }
}

@Suite("sweep store")
struct StoreTests {
    // MARK: - Schema

    @Test("new store creates schema version 2")
    func schemaCreated() throws {
        let fixture = try StoreFixture()
        _ = try fixture.openStore()

        let database = try SQLiteDatabase(path: fixture.databaseURL)
        let versions = try database.query("SELECT version FROM schema_version") { $0.int(0) }
        let journal = try database.query("PRAGMA journal_mode") { try $0.text(0) }
        #expect(versions == [2])
        #expect(journal == ["wal"])
    }

    @Test("reopened store keeps runs and statuses")
    func reopenKeepsState() throws {
        let fixture = try StoreFixture()
        let runs = [StoreFixture.record(index: 0), StoreFixture.record(index: 1, seed: 2)]
        do {
            let store = try fixture.storeWithPlan(runs)
            try store.markRunning(runID: runs[1].runID, attempt: 1, worker: "w1")
        }

        let reopened = try fixture.openStore()
        let states = try reopened.runs()
        #expect(states.map(\.record) == runs)
        #expect(states.map(\.status) == ["queued", "running"])
        #expect(states.map(\.attempts) == [0, 1])
    }

    @Test("store from a newer schema is rejected")
    func newerSchemaRejected() throws {
        let fixture = try StoreFixture()
        _ = try fixture.openStore()
        let database = try SQLiteDatabase(path: fixture.databaseURL)
        try database.run("UPDATE schema_version SET version = 99")

        #expect(throws: StoreError.unsupportedSchema(
            found: 99, expected: 2, path: fixture.databaseURL.path
        )) {
            _ = try fixture.openStore()
        }
    }

    @Test("file that is not a database is rejected")
    func nonDatabaseRejected() throws {
        let fixture = try StoreFixture()
        try Data(String(repeating: "not sqlite\n", count: 200).utf8).write(to: fixture.databaseURL)

        #expect {
            _ = try fixture.openStore()
        } throws: { error in
            guard case let StoreError.sqlite(_, code, message, _, path) = error else {
                return false
            }
            return code == 26 && message.contains("not a database")
                && path == fixture.databaseURL.path
        }
    }

    @Test("SQL error names the call and the statement")
    func sqlErrorDescribed() throws {
        let fixture = try StoreFixture()
        let database = try SQLiteDatabase(path: fixture.databaseURL)

        #expect {
            try database.run("SELECT * FROM missing_table")
        } throws: { error in
            let text = "\(error)"
            return text.contains("sqlite3_prepare_v2") && text.contains("missing_table")
                && text.contains("no such table")
        }
    }

    @Test("bound values read back with their types")
    func boundValuesRoundTrip() throws {
        let fixture = try StoreFixture()
        let database = try SQLiteDatabase(path: fixture.databaseURL)
        try database.execute("CREATE TABLE t (i INTEGER, r REAL, s TEXT, n TEXT)")
        let text = "quote \" comma , newline \n unicode é"
        try database.run(
            "INSERT INTO t VALUES (?1, ?2, ?3, ?4)",
            [.integer(Int.max), .real(0.1), .text(text), .null]
        )

        let rows = try database.query("SELECT i, r, s, n FROM t") { row in
            (row.int(0), row.double(1), try row.text(2), try row.optionalText(3))
        }
        #expect(rows.count == 1)
        #expect(rows.first?.0 == Int.max)
        #expect(rows.first?.1 == 0.1)
        #expect(rows.first?.2 == text)
        #expect(rows.first?.3 == nil)
    }

    @Test("failed transaction rolls back")
    func transactionRollsBack() throws {
        let fixture = try StoreFixture()
        let database = try SQLiteDatabase(path: fixture.databaseURL)
        try database.execute("CREATE TABLE t (i INTEGER)")
        struct Abort: Error {}

        #expect(throws: Abort.self) {
            try database.transaction {
                try database.run("INSERT INTO t VALUES (1)")
                throw Abort()
            }
        }
        let count = try database.query("SELECT count(*) FROM t") { $0.int(0) }
        #expect(count == [0])
    }

    // MARK: - Plan registration

    @Test("registering the same plan twice keeps statuses")
    func registerPlanIdempotent() throws {
        let fixture = try StoreFixture()
        let runs = [StoreFixture.record(index: 0), StoreFixture.record(index: 1, seed: 2)]
        let store = try fixture.storeWithPlan(runs)
        try store.markRunning(runID: runs[0].runID, attempt: 1, worker: "w1")

        try store.registerPlan(sweep: "demo", planSHA256: "plan-1", runs: runs)
        let states = try store.runs()
        #expect(states.count == 2)
        #expect(states.map(\.status) == ["running", "queued"])
        #expect(states.map(\.attempts) == [1, 0])
    }

    @Test("dependencies keep their slot order")
    func dependenciesRoundTrip() throws {
        let fixture = try StoreFixture()
        let teacherA = StoreFixture.record(index: 0, method: "teacher", kind: "teacher")
        let teacherB = StoreFixture.record(index: 1, method: "teacher", seed: 2, kind: "teacher")
        let student = StoreFixture.record(
            index: 2, dependsOn: [teacherB.runID, teacherA.runID]
        )
        let store = try fixture.storeWithPlan([teacherA, teacherB, student])

        let states = try store.runs()
        #expect(states.last?.dependsOn == [teacherB.runID, teacherA.runID])
        #expect(states.first?.dependsOn == [])
    }

    @Test("added runs join and stored runs keep status")
    func addedRunsRegistered() throws {
        let fixture = try StoreFixture()
        let first = StoreFixture.record(index: 0)
        let store = try fixture.storeWithPlan([first])
        try store.markRunning(runID: first.runID, attempt: 1, worker: "w1")

        let added = StoreFixture.record(index: 0, seed: 7)
        let moved = RunRecord(
            index: 1, runID: first.runID, kind: first.kind, method: first.method,
            rung: first.rung, seed: first.seed, configSHA256: first.configSHA256, dependsOn: []
        )
        try store.registerPlan(sweep: "demo", planSHA256: "plan-2", runs: [added, moved])

        let states = try store.runs()
        #expect(states.map(\.runID) == [added.runID, first.runID])
        #expect(states.map(\.status) == ["queued", "running"])
    }

    @Test("changed config hash is rejected")
    func changedHashRejected() throws {
        let fixture = try StoreFixture()
        let run = StoreFixture.record(index: 0)
        let store = try fixture.storeWithPlan([run])
        let changed = RunRecord(
            index: 0, runID: run.runID, kind: run.kind, method: run.method, rung: run.rung,
            seed: run.seed, configSHA256: String(repeating: "f", count: 64), dependsOn: []
        )

        #expect(throws: StoreError.planChanged(
            runID: run.runID, storedSHA256: run.configSHA256,
            plannedSHA256: changed.configSHA256, path: fixture.databaseURL.path
        )) {
            try store.registerPlan(sweep: "demo", planSHA256: "plan-2", runs: [changed])
        }
        #expect(try store.runs().map(\.configSHA256) == [run.configSHA256])
    }

    @Test("plan change is a usage error naming the fix")
    func planChangeDescribed() {
        let error = StoreError.planChanged(
            runID: "kd-s1", storedSHA256: "aaa", plannedSHA256: "bbb", path: "/r/sweep.db"
        )
        #expect(error.exitCode == ExitCode.usage)
        #expect(error.description.contains("'kd-s1'"))
        #expect(error.description.contains("'aaa'"))
        #expect(error.description.contains("'bbb'"))
        #expect(error.description.contains("--out"))
    }

    @Test("run missing from the new plan is rejected")
    func droppedRunRejected() throws {
        let fixture = try StoreFixture()
        let kept = StoreFixture.record(index: 0)
        let dropped = StoreFixture.record(index: 1, seed: 2)
        let store = try fixture.storeWithPlan([kept, dropped])

        #expect(throws: StoreError.runDropped(
            runID: dropped.runID, path: fixture.databaseURL.path
        )) {
            try store.registerPlan(sweep: "demo", planSHA256: "plan-2", runs: [kept])
        }
    }

    @Test("plan of another sweep is rejected")
    func otherSweepRejected() throws {
        let fixture = try StoreFixture()
        let store = try fixture.storeWithPlan([StoreFixture.record(index: 0)])

        #expect(throws: StoreError.otherSweep(
            stored: "demo", requested: "other", path: fixture.databaseURL.path
        )) {
            try store.registerPlan(sweep: "other", planSHA256: "plan-9", runs: [])
        }
    }

    // MARK: - Epochs

    @Test("duplicate epoch message is ignored")
    func duplicateEpochIgnored() throws {
        let fixture = try StoreFixture()
        let run = StoreFixture.record(index: 0)
        let store = try fixture.storeWithPlan([run])
        try store.markRunning(runID: run.runID, attempt: 1, worker: "w1")

        let first = try store.recordEpoch(
            runID: run.runID, attempt: 1, seq: 1, phase: "student", epoch: 1,
            metrics: ["acc": 50, "loss": 1.5]
        )
        let repeated = try store.recordEpoch(
            runID: run.runID, attempt: 1, seq: 1, phase: "student", epoch: 1,
            metrics: ["acc": 99, "loss": 0.1, "extra": 3]
        )

        let rows = try store.epochRows()
        #expect(first)
        #expect(!repeated)
        #expect(rows.count == 1)
        #expect(rows.first?.metrics == ["acc": 50, "loss": 1.5])
    }

    @Test("same seq in another attempt is a new epoch")
    func seqScopedByAttempt() throws {
        let fixture = try StoreFixture()
        let run = StoreFixture.record(index: 0)
        let store = try fixture.storeWithPlan([run])
        try store.markRunning(runID: run.runID, attempt: 1, worker: "w1")
        try store.markFailed(runID: run.runID, attempt: 1, reason: "worker lost")
        try store.markQueued(runID: run.runID)
        try store.markRunning(runID: run.runID, attempt: 2, worker: "w2")

        let late = try store.recordEpoch(
            runID: run.runID, attempt: 1, seq: 1, phase: "student", epoch: 1, metrics: ["acc": 40]
        )
        let current = try store.recordEpoch(
            runID: run.runID, attempt: 2, seq: 1, phase: "student", epoch: 1, metrics: ["acc": 45]
        )

        #expect(late)
        #expect(current)
        #expect(try store.epochRows().map(\.attempt) == [1, 2])
    }

    @Test("epoch rows keep metrics and order")
    func epochRowsRoundTrip() throws {
        let fixture = try StoreFixture()
        let runs = [StoreFixture.record(index: 0), StoreFixture.record(index: 1, seed: 2)]
        let store = try fixture.storeWithPlan(runs)
        for run in runs {
            try store.markRunning(runID: run.runID, attempt: 1, worker: "w1")
        }
        // Messages arrive out of plan order and out of sequence order.
        try store.recordEpoch(
            runID: runs[1].runID, attempt: 1, seq: 1, phase: "student", epoch: 1, metrics: [:]
        )
        try store.recordEpoch(
            runID: runs[0].runID, attempt: 1, seq: 2, phase: "student", epoch: 2,
            metrics: ["acc": 61.25, "lr": 0.05]
        )
        try store.recordEpoch(
            runID: runs[0].runID, attempt: 1, seq: 1, phase: "student", epoch: 1,
            metrics: ["acc": 55.5, "lr": 0.1, "loss": .nan]
        )

        let rows = try store.epochRows()
        #expect(rows.map(\.runID) == [runs[0].runID, runs[0].runID, runs[1].runID])
        #expect(rows.map(\.seq) == [1, 2, 1])
        #expect(rows[1].metrics == ["acc": 61.25, "lr": 0.05])
        #expect(rows[0].metrics["loss"]?.isNaN == true)
        #expect(rows[2].metrics.isEmpty)
    }

    @Test("epoch for an unknown run is rejected")
    func epochUnknownRunRejected() throws {
        let fixture = try StoreFixture()
        let store = try fixture.storeWithPlan([StoreFixture.record(index: 0)])

        #expect(throws: StoreError.unknownRun(runID: "ghost", path: fixture.databaseURL.path)) {
            try store.recordEpoch(
                runID: "ghost", attempt: 1, seq: 1, phase: "student", epoch: 1, metrics: [:]
            )
        }
    }

    @Test("epoch for an attempt never started is rejected")
    func epochUnstartedAttemptRejected() throws {
        let fixture = try StoreFixture()
        let run = StoreFixture.record(index: 0)
        let store = try fixture.storeWithPlan([run])

        #expect(throws: StoreError.unknownAttempt(
            runID: run.runID, attempt: 1, latest: 0, path: fixture.databaseURL.path
        )) {
            try store.recordEpoch(
                runID: run.runID, attempt: 1, seq: 1, phase: "student", epoch: 1, metrics: [:]
            )
        }
        #expect(try store.epochRows().isEmpty)
    }

    @Test("epoch numbers below 1 are rejected", arguments: [
        (0, 1, 1, "attempt"), (1, 0, 1, "seq"), (1, 1, 0, "epoch"),
    ])
    func epochRangeChecked(attempt: Int, seq: Int, epoch: Int, field: String) throws {
        let fixture = try StoreFixture()
        let run = StoreFixture.record(index: 0)
        let store = try fixture.storeWithPlan([run])
        try store.markRunning(runID: run.runID, attempt: 1, worker: "w1")

        #expect {
            try store.recordEpoch(
                runID: run.runID, attempt: attempt, seq: seq, phase: "student", epoch: epoch,
                metrics: [:]
            )
        } throws: { error in
            guard case let StoreError.invalidEpoch(_, rejected, _, _) = error else { return false }
            return rejected == field
        }
    }

    // MARK: - Status transitions

    @Test("run goes from queued to running to done")
    func lifecycleToDone() throws {
        let fixture = try StoreFixture()
        let run = StoreFixture.record(index: 0)
        let store = try fixture.storeWithPlan([run])
        let queued = try store.runs().first?.status

        try store.markRunning(runID: run.runID, attempt: 1, worker: "w1")
        let running = try store.runs().first?.status
        try store.markDone(
            runID: run.runID, attempt: 1, finalAccuracy: 81.5, bestAccuracy: 82.25, seconds: 12.5
        )

        let done = try #require(try store.runs().first)
        #expect(queued == "queued")
        #expect(running == "running")
        #expect(done.status == "done")
        #expect(done.attempts == 1)
        #expect(done.finalAccuracy == 81.5)
        #expect(done.bestAccuracy == 82.25)
        #expect(done.totalSeconds == 12.5)
        #expect(done.failureReason == nil)
    }

    @Test("retry after failure counts both attempts")
    func retryCountsAttempts() throws {
        let fixture = try StoreFixture()
        let run = StoreFixture.record(index: 0)
        let store = try fixture.storeWithPlan([run])

        try store.markRunning(runID: run.runID, attempt: 1, worker: "w1")
        fixture.now += 30
        try store.markFailed(runID: run.runID, attempt: 1, reason: "worker exited")
        let failed = try #require(try store.runs().first)
        try store.markQueued(runID: run.runID)
        let requeued = try store.runs().first?.status
        try store.markRunning(runID: run.runID, attempt: 2, worker: "w2")
        try store.markDone(
            runID: run.runID, attempt: 2, finalAccuracy: 70, bestAccuracy: 71, seconds: 5
        )

        let done = try #require(try store.runs().first)
        #expect(failed.status == "failed")
        #expect(failed.failureReason == "worker exited")
        #expect(failed.totalSeconds == 30)
        #expect(requeued == "queued")
        #expect(done.status == "done")
        #expect(done.attempts == 2)
        #expect(done.totalSeconds == 35)
        #expect(done.failureReason == nil)
    }

    @Test("done run is final")
    func doneIsFinal() throws {
        let fixture = try StoreFixture()
        let run = StoreFixture.record(index: 0)
        let store = try fixture.storeWithPlan([run])
        try store.markRunning(runID: run.runID, attempt: 1, worker: "w1")
        try store.markDone(
            runID: run.runID, attempt: 1, finalAccuracy: 80, bestAccuracy: 80, seconds: 1
        )

        #expect(throws: StoreError.self) {
            try store.markFailed(runID: run.runID, attempt: 1, reason: "late")
        }
        #expect(throws: StoreError.self) {
            try store.markRunning(runID: run.runID, attempt: 2, worker: "w1")
        }
        #expect(throws: StoreError.self) {
            try store.markCancelled(runID: run.runID, reason: "late")
        }
        #expect(throws: StoreError.self) {
            try store.markQueued(runID: run.runID)
        }
        #expect(try store.runs().first?.status == "done")
        #expect(try store.runs().first?.attempts == 1)
    }

    @Test("queued run cannot be marked done")
    func doneNeedsRunning() throws {
        let fixture = try StoreFixture()
        let run = StoreFixture.record(index: 0)
        let store = try fixture.storeWithPlan([run])

        #expect(throws: StoreError.invalidTransition(
            runID: run.runID, from: "queued", to: "done", detail: "only a running run can finish"
        )) {
            try store.markDone(
                runID: run.runID, attempt: 1, finalAccuracy: 1, bestAccuracy: 1, seconds: 1
            )
        }
    }

    @Test("superseded attempt cannot finish")
    func supersededAttemptRejected() throws {
        let fixture = try StoreFixture()
        let run = StoreFixture.record(index: 0)
        let store = try fixture.storeWithPlan([run])
        try store.markRunning(runID: run.runID, attempt: 1, worker: "w1")
        // A coordinator restart starts the run again without closing attempt 1.
        try store.markRunning(runID: run.runID, attempt: 2, worker: "w2")

        #expect(throws: StoreError.self) {
            try store.markDone(
                runID: run.runID, attempt: 1, finalAccuracy: 1, bestAccuracy: 1, seconds: 1
            )
        }
        #expect(throws: StoreError.self) {
            try store.markRunning(runID: run.runID, attempt: 2, worker: "w3")
        }
        #expect(try store.runs().first?.attempts == 2)
        #expect(try store.runs().first?.status == "running")
    }

    @Test("running run cannot be queued without a failure")
    func queuedNeedsFailure() throws {
        let fixture = try StoreFixture()
        let run = StoreFixture.record(index: 0)
        let store = try fixture.storeWithPlan([run])
        try store.markRunning(runID: run.runID, attempt: 1, worker: "w1")

        #expect(throws: StoreError.self) {
            try store.markQueued(runID: run.runID)
        }
        #expect(try store.runs().first?.status == "running")
    }

    @Test("failure of a never started run")
    func failureWithoutAttempt() throws {
        let fixture = try StoreFixture()
        let run = StoreFixture.record(index: 0)
        let store = try fixture.storeWithPlan([run])

        try store.markFailed(runID: run.runID, attempt: 0, reason: "no worker left")

        let state = try #require(try store.runs().first)
        #expect(state.status == "failed")
        #expect(state.attempts == 0)
        #expect(state.totalSeconds == nil)
    }

    @Test("cancelled run keeps its reason")
    func cancelledKeepsReason() throws {
        let fixture = try StoreFixture()
        let run = StoreFixture.record(index: 0)
        let store = try fixture.storeWithPlan([run])

        try store.markCancelled(runID: run.runID, reason: "dependency 't1' did not finish")

        let state = try #require(try store.runs().first)
        #expect(state.status == "cancelled")
        #expect(state.failureReason == "dependency 't1' did not finish")
    }

    @Test("status change of an unknown run is rejected")
    func unknownRunRejected() throws {
        let fixture = try StoreFixture()
        let store = try fixture.storeWithPlan([StoreFixture.record(index: 0)])

        #expect(throws: StoreError.unknownRun(runID: "ghost", path: fixture.databaseURL.path)) {
            try store.markRunning(runID: "ghost", attempt: 1, worker: "w1")
        }
    }
}
