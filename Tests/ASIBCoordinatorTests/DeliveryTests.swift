import ASIBCoordinator
import ASIBWire
import Foundation
import Testing

@Suite("acknowledged delivery")
struct DeliveryTests {
    private func epochRecord(run: String, attempt: Int, seq: Int, epoch: Int, acc: Double) throws -> SpoolRecord {
        let body = EpochBody(
            runId: run, attempt: attempt, seq: seq, phase: "student", epoch: epoch, metrics: ["acc": acc]
        )
        return SpoolRecord(
            type: .epoch, runId: run, attempt: attempt, seq: seq,
            body: try WireProtocol.encode(.epoch, body)[2]
        )
    }

    @Test("spool keeps records until removed")
    func spoolRoundTrip() throws {
        let fixture = try StoreFixture()
        let folder = fixture.folder.appendingPathComponent("spool")
        let spool = try Spool(directory: folder)
        let first = try epochRecord(run: "r/1", attempt: 1, seq: 1, epoch: 1, acc: 10)
        let second = try epochRecord(run: "r/1", attempt: 1, seq: 2, epoch: 2, acc: 20)
        try spool.append(second)
        try spool.append(first)

        let reopened = try Spool(directory: folder)
        #expect(reopened.pending == [first, second])
        #expect(reopened.remove(runId: "r/1", attempt: 1, seq: 1))
        #expect(!reopened.remove(runId: "r/1", attempt: 1, seq: 1))
        #expect(try Spool.read(directory: folder) == [second])
        #expect(try Spool(directory: folder).pending == [second])
    }

    @Test("invalid spool file names the file")
    func invalidSpoolFile() throws {
        let fixture = try StoreFixture()
        let folder = fixture.folder.appendingPathComponent("spool")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Data("{\"type\":".utf8).write(to: folder.appendingPathComponent("broken.json"))
        #expect {
            _ = try Spool.read(directory: folder)
        } throws: { error in
            "\(error)".contains("broken.json")
        }
    }

    @Test("late message is stored once")
    func lateMessageOnce() throws {
        let fixture = try StoreFixture()
        let run = StoreFixture.record(index: 0)
        let store = try fixture.storeWithPlan([run])
        try store.markRunning(runID: run.runID, attempt: 1, worker: "w1")
        #expect(try store.recordLateMessage(
            runID: run.runID, attempt: 1, seq: 3, type: "EPOCH", worker: "w1", detail: "superseded"
        ))
        #expect(try !store.recordLateMessage(
            runID: run.runID, attempt: 1, seq: 3, type: "EPOCH", worker: "w1", detail: "superseded"
        ))
        #expect(try store.lateMessageCount() == 1)
    }

    @Test("version 1 store is upgraded")
    func schemaMigration() throws {
        let fixture = try StoreFixture()
        let run = StoreFixture.record(index: 0)
        _ = try fixture.storeWithPlan([run])
        let database = try SQLiteDatabase(path: fixture.databaseURL)
        try database.execute(
            """
            DROP TABLE late_messages; ALTER TABLE runs DROP COLUMN superseded_at;
            DELETE FROM schema_version; INSERT INTO schema_version VALUES (1);
            """
        )

        let store = try fixture.openStore()
        #expect(try store.lateMessageCount() == 0)
        #expect(try store.runs().map(\.runID) == [run.runID])
        #expect(try store.supersedeChangedRuns(planned: [run]).isEmpty)
    }

    @Test("ingest stores spooled records once")
    func ingestOnce() throws {
        let fixture = try StoreFixture()
        let run = StoreFixture.record(index: 0)
        let store = try fixture.storeWithPlan([run])
        try store.markRunning(runID: run.runID, attempt: 1, worker: "w1")
        try store.markFailed(runID: run.runID, attempt: 1, reason: "lease expired")
        try store.markQueued(runID: run.runID)
        try store.markRunning(runID: run.runID, attempt: 2, worker: "w2")

        let folder = fixture.folder.appendingPathComponent("spool")
        let spool = try Spool(directory: folder)
        try spool.append(try epochRecord(run: run.runID, attempt: 1, seq: 1, epoch: 1, acc: 11))
        try spool.append(try epochRecord(run: run.runID, attempt: 2, seq: 1, epoch: 1, acc: 21))
        try spool.append(try epochRecord(run: run.runID, attempt: 2, seq: 2, epoch: 2, acc: 22))
        let done = DoneBody(
            runId: run.runID, attempt: 2, finalAccuracy: 22, bestAccuracy: 22, seconds: 3, seq: 3
        )
        try spool.append(SpoolRecord(
            type: .done, runId: run.runID, attempt: 2, seq: 3, body: try WireProtocol.encode(.done, done)[2]
        ))
        try spool.append(try epochRecord(run: "no-such-run", attempt: 1, seq: 1, epoch: 1, acc: 1))

        var counts = SpoolIngest.Counts()
        try SpoolIngest(store: store).ingest(directory: folder, into: &counts)
        #expect(counts.epochsStored == 3)
        #expect(counts.late == 1)
        #expect(counts.runsDone == 1)
        #expect(counts.skipped == 1)
        #expect(try store.runs().first?.status == "done")
        #expect(try store.epochRows().map(\.attempt) == [1, 2, 2])
        #expect(try store.lateMessageCount() == 1)

        var again = SpoolIngest.Counts()
        try SpoolIngest(store: store).ingest(directory: folder, into: &again)
        #expect(again.epochsStored == 0)
        #expect(again.runsDone == 0)
        #expect(again.duplicates == 4)
        #expect(try store.epochRows().count == 3)
        #expect(try store.lateMessageCount() == 1)
    }

    @Test("bind policy", arguments: [
        ("127.0.0.1", false, false, true),
        ("127.1.2.3", false, false, true),
        ("localhost", false, false, true),
        ("::1", false, false, true),
        ("10.0.0.5", false, false, false),
        ("0.0.0.0", false, false, false),
        ("*", false, false, false),
        ("10.0.0.5", true, false, true),
        ("0.0.0.0", false, true, true),
    ])
    func bindPolicy(address: String, keys: Bool, allowInsecure: Bool, allowed: Bool) {
        let keyFolder = keys ? URL(fileURLWithPath: "/keys") : nil
        let result = Result { try BindPolicy.check(address: address, keys: keyFolder, allowInsecure: allowInsecure) }
        if allowed {
            #expect(throws: Never.self) { try result.get() }
        } else {
            #expect {
                try result.get()
            } throws: { error in
                "\(error)".contains("--keys") && "\(error)".contains(address)
            }
        }
    }

    @Test("key folder files are private")
    func keyFolderModes() throws {
        let fixture = try StoreFixture()
        let folder = CurveKeyFolder(directory: fixture.folder.appendingPathComponent("keys"))
        try folder.create()
        for url in [folder.coordinatorSecret, folder.workerSecret, folder.coordinatorPublic, folder.workerPublic, folder.authorizedWorkers] {
            let attributes = try FileManager.default.attributesOfItem(atPath: url.path)
            #expect((attributes[.posixPermissions] as? Int) == 0o600, "mode of \(url.lastPathComponent)")
        }
        let worker = try folder.workerKeys()
        #expect(try folder.authorizedWorkerKeys() == [worker.publicKey])
        #expect(worker.publicKey.count == 40)
        #expect(throws: (any Error).self) { try folder.create() }
    }
}

@Suite("lease messages")
struct LeaseMessageTests {
    @Test("heartbeat survives encode and decode")
    func heartbeatRoundTrip() throws {
        let frames = try WireProtocol.encode(
            .heartbeat, HeartbeatBody(workerId: "w1", pid: 42, runId: "r", attempt: 3)
        )
        let (type, body) = try WireProtocol.decodeEnvelope(frames)
        let decoded = try WireProtocol.decodeBody(HeartbeatBody.self, body)
        #expect(type == .heartbeat)
        #expect(decoded.workerId == "w1")
        #expect(decoded.pid == 42)
        #expect(decoded.runId == "r")
        #expect(decoded.attempt == 3)
    }

    @Test("accept uses snake case keys")
    func acceptKeys() throws {
        let frames = try WireProtocol.encode(.accept, AcceptBody(runId: "r", attempt: 1, workerId: "w"))
        #expect(String(decoding: frames[1], as: UTF8.self) == "ACCEPT")
        #expect(String(decoding: frames[2], as: UTF8.self) == #"{"attempt":1,"run_id":"r","worker_id":"w"}"#)
    }

    @Test("done without seq still decodes")
    func doneWithoutSeq() throws {
        let body = Data(#"{"attempt":1,"best_accuracy":50,"final_accuracy":40,"run_id":"r","seconds":2}"#.utf8)
        let done = try WireProtocol.decodeBody(DoneBody.self, body)
        #expect(done.seq == nil)
        #expect(done.finalAccuracy == 40)
    }

    @Test("idle heartbeat has no run")
    func idleHeartbeat() throws {
        let body = Data(#"{"pid":7,"worker_id":"w"}"#.utf8)
        let heartbeat = try WireProtocol.decodeBody(HeartbeatBody.self, body)
        #expect(heartbeat.runId == nil)
        #expect(heartbeat.attempt == nil)
    }
}
