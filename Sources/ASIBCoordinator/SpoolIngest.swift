import ASIBSupport
import ASIBWire
import Foundation

/// Merges the records of worker spool folders into a store with the coordinator's rules.
/// Metrics are stored once under their attempt. DONE or FAIL closes the latest attempt only
/// while it is running. Records of superseded attempts are also stored as late.
public struct SpoolIngest {
    public struct Counts: Equatable {
        public var epochsStored = 0
        public var duplicates = 0
        public var late = 0
        public var runsDone = 0
        public var runsFailed = 0
        public var skipped = 0

        public init() {}
    }

    let store: SweepStore

    public init(store: SweepStore) {
        self.store = store
    }

    /// Ingests every record in `directory`, in run, attempt and seq order.
    public func ingest(directory: URL, into counts: inout Counts) throws {
        let records = try Spool.read(directory: directory)
        let worker = "ingest:\(directory.lastPathComponent)"
        for record in records {
            do {
                try ingest(record, worker: worker, counts: &counts)
            } catch let error as ReportableError {
                counts.skipped += 1
                Log.warning(
                    "spool record skipped",
                    ["run": record.runId, "attempt": record.attempt, "seq": record.seq, "error": error]
                )
            }
        }
    }

    private func storeEpoch(_ body: Data, counts: inout Counts, countDuplicates: Bool) throws {
        let epoch = try WireProtocol.decodeBody(EpochBody.self, body)
        if try store.recordEpoch(
            runID: epoch.runId, attempt: epoch.attempt, seq: epoch.seq, phase: epoch.phase,
            epoch: epoch.epoch, metrics: epoch.metrics
        ) {
            counts.epochsStored += 1
        } else if countDuplicates {
            counts.duplicates += 1
        }
    }

    private func ingest(_ record: SpoolRecord, worker: String, counts: inout Counts) throws {
        let body = Data(record.body.utf8)
        let run = try store.progress(of: record.runId)
        if record.attempt < run.latestAttempt {
            let detail = "ingested after attempt \(run.latestAttempt) started"
            if try store.recordLateMessage(
                runID: record.runId, attempt: record.attempt, seq: record.seq, type: record.type,
                worker: worker, detail: detail
            ) {
                counts.late += 1
            } else {
                counts.duplicates += 1
            }
            // As in the coordinator, a late EPOCH stays under its own attempt.
            if record.type == WireProtocol.MessageType.epoch.rawValue {
                try storeEpoch(body, counts: &counts, countDuplicates: false)
            }
            return
        }
        switch WireProtocol.MessageType(rawValue: record.type) {
        case .epoch:
            try storeEpoch(body, counts: &counts, countDuplicates: true)
        case .done:
            let done = try WireProtocol.decodeBody(DoneBody.self, body)
            guard run.status == RunStatus.running.rawValue else {
                counts.duplicates += 1
                return
            }
            try store.markDone(
                runID: done.runId, attempt: done.attempt, finalAccuracy: done.finalAccuracy,
                bestAccuracy: done.bestAccuracy, seconds: done.seconds
            )
            counts.runsDone += 1
        case .fail:
            let failure = try WireProtocol.decodeBody(FailBody.self, body)
            guard run.status == RunStatus.running.rawValue else {
                counts.duplicates += 1
                return
            }
            try store.markFailed(runID: failure.runId, attempt: failure.attempt, reason: failure.reason)
            if failure.retryable {
                try store.markQueued(runID: failure.runId)
            }
            counts.runsFailed += 1
        default:
            counts.skipped += 1
            Log.warning("spool record of unexpected type skipped", ["type": record.type, "run": record.runId])
        }
    }
}
