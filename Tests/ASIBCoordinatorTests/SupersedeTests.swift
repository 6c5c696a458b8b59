import ASIBCoordinator
import Foundation
import Testing

@Suite("changed config")
struct SupersedeTests {
    private func changed(_ record: RunRecord) -> RunRecord {
        RunRecord(
            index: record.index, runID: record.runID, kind: record.kind, method: record.method,
            rung: record.rung, seed: record.seed, configSHA256: String(repeating: "f", count: 64),
            dependsOn: record.dependsOn
        )
    }

    @Test("changed config archives the old run")
    func changedConfigArchived() throws {
        let fixture = try StoreFixture()
        let kept = StoreFixture.record(index: 0)
        let edited = StoreFixture.record(index: 1, seed: 2)
        let store = try fixture.storeWithPlan([kept, edited])
        try store.markRunning(runID: edited.runID, attempt: 1, worker: "w1")
        try store.recordEpoch(
            runID: edited.runID, attempt: 1, seq: 1, phase: "student", epoch: 1, metrics: ["acc": 40]
        )
        try store.markDone(runID: edited.runID, attempt: 1, finalAccuracy: 40, bestAccuracy: 40, seconds: 1)

        let plan = [kept, changed(edited)]
        let archived = try store.supersedeChangedRuns(planned: plan)
        #expect(archived.map(\.runID) == [edited.runID])
        #expect(archived.first?.archivedID == "\(edited.runID)@\(edited.configSHA256.prefix(12))")
        try store.registerPlan(sweep: "demo", planSHA256: "plan-2", runs: plan)

        let states = try store.runs()
        #expect(states.map(\.runID) == [kept.runID, edited.runID])
        #expect(states.map(\.status) == ["queued", "queued"])
        #expect(states.last?.record.configSHA256 == String(repeating: "f", count: 64))
        #expect(states.last?.attempts == 0)
        // The old metrics stay in the store under the archived id, outside the reports.
        #expect(try store.epochRows().map(\.runID) == [archived.first?.archivedID])

        // Relaunching the same plan archives nothing more.
        #expect(try store.supersedeChangedRuns(planned: plan).isEmpty)
    }

    @Test("changing a config twice keeps both archives")
    func archivedTwice() throws {
        let fixture = try StoreFixture()
        let original = StoreFixture.record(index: 0)
        let store = try fixture.storeWithPlan([original])
        let second = changed(original)
        try store.supersedeChangedRuns(planned: [second])
        try store.registerPlan(sweep: "demo", planSHA256: "plan-2", runs: [second])
        let archived = try store.supersedeChangedRuns(planned: [original])
        try store.registerPlan(sweep: "demo", planSHA256: "plan-3", runs: [original])
        #expect(archived.first?.archivedID == "\(original.runID)@ffffffffffff")
        #expect(try store.runs().map(\.record) == [original])
    }
}
