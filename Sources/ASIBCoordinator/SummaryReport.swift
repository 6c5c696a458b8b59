import Foundation

/// Builds `summary.csv`: one row per run in plan index order.
///
/// After the fixed columns come the wide columns `student_ep{N}_{metric}`, then
/// `teacher_ep{N}_{metric}`, each block ordered by epoch number N as a number (ep2 before ep10)
/// and by metric name within an epoch. The columns are the union over all runs, so every row
/// has every column and a value a run lacks is empty. The wide values come from each run's
/// latest attempt that reported epochs, with the epochs it skipped by resuming taken from
/// earlier attempts (see `ReportInput.reportedEpochs`); other phases appear only in
/// `epochs.csv`.
enum SummaryReport {
    static let fixedColumns = [
        "index", "run_id", "kind", "method", "rung", "seed", "status", "attempts",
        "config_sha256", "final_student_acc", "best_student_acc", "total_time_sec",
    ]

    /// Phases that get wide columns, in column order.
    static let widePhases = ["student", "teacher"]

    static func table(_ input: ReportInput) -> CSVTable {
        let cells = input.runs.map { wideCells(input.reportedEpochs(of: $0.runID)) }
        let columns = Set(cells.flatMap(\.keys)).sorted()
        var table = CSVTable(header: fixedColumns + columns.map(\.name))
        for (run, values) in zip(input.runs, cells) {
            table.append(fixedFields(run) + columns.map { ReportNumber.exact(values[$0]) })
        }
        return table
    }

    private static func fixedFields(_ run: RunState) -> [String] {
        [
            String(run.index), run.runID, run.kind, run.method, run.rung, String(run.seed),
            run.status, String(run.attempts), run.configSHA256,
            ReportNumber.exact(run.finalAccuracy), ReportNumber.exact(run.bestAccuracy),
            ReportNumber.exact(run.totalSeconds),
        ]
    }

    /// Collects the wide-column values of one run. A later message for the same phase and
    /// epoch wins.
    private static func wideCells(_ epochs: [EpochRow]) -> [WideColumn: Double] {
        var cells: [WideColumn: Double] = [:]
        for row in epochs {
            guard let rank = widePhases.firstIndex(of: row.phase) else { continue }
            for (metric, value) in row.metrics {
                let column = WideColumn(
                    phaseRank: rank, phase: row.phase, epoch: row.epoch, metric: metric
                )
                cells[column] = value
            }
        }
        return cells
    }
}

/// One wide column of `summary.csv`, ordered by phase, epoch number, then metric name.
private struct WideColumn: Hashable, Comparable {
    let phaseRank: Int
    let phase: String
    let epoch: Int
    let metric: String

    var name: String { "\(phase)_ep\(epoch)_\(metric)" }

    static func < (lhs: WideColumn, rhs: WideColumn) -> Bool {
        (lhs.phaseRank, lhs.epoch, lhs.metric) < (rhs.phaseRank, rhs.epoch, rhs.metric)
    }
}
