import Foundation

/// Builds `epochs.csv`: one row per recorded (run, attempt, phase, epoch), all attempts
/// included, in plan index, attempt and sequence order.
///
/// `global_epoch` counts the epochs of one attempt across its phases from 1, in the order of
/// the worker's sequence numbers, which is the order the epochs ran. `local_epoch` is the
/// epoch number within the phase. One column per metric name follows, sorted by name, and a
/// metric that an epoch lacks is empty.
enum EpochsReport {
    static let fixedColumns = [
        "run_id", "method", "rung", "seed", "attempt", "phase", "global_epoch", "local_epoch",
    ]

    static func table(_ input: ReportInput) -> CSVTable {
        let metricNames = Set(input.epochs.flatMap(\.metrics.keys)).sorted()
        let runsByID = Dictionary(uniqueKeysWithValues: input.runs.map { ($0.runID, $0) })
        var table = CSVTable(header: fixedColumns + metricNames)
        var globalEpoch = 0
        var previous: (runID: String, attempt: Int)?
        for row in input.epochs {
            guard let run = runsByID[row.runID] else { continue }
            if previous?.runID != row.runID || previous?.attempt != row.attempt {
                globalEpoch = 0
                previous = (row.runID, row.attempt)
            }
            globalEpoch += 1
            let fixed = [
                row.runID, run.method, run.rung, String(run.seed), String(row.attempt),
                row.phase, String(globalEpoch), String(row.epoch),
            ]
            table.append(fixed + metricNames.map { ReportNumber.exact(row.metrics[$0]) })
        }
        return table
    }
}
