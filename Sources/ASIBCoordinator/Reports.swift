import ASIBSupport
import Foundation

/// Writes the results folder's tables and plot from the store.
///
/// - `summary.csv`: one row per run in plan order, with per-epoch wide columns.
/// - `epochs.csv`: one row per (run, attempt, phase, epoch).
/// - `table.csv`: accuracy mean and sample standard deviation per (method, rung).
/// - `plots/accuracy.svg`: mean student test accuracy per epoch for each (method, rung).
///
/// `ReportNumber` describes the number formats. Each file is replaced atomically, so a reader
/// never sees a partial table.
public enum Reports {
    public static func write(store: SweepStore, to directory: URL) throws {
        let input = try store.reportInput()
        let files: [(String, String)] = [
            ("summary.csv", SummaryReport.table(input).rendered()),
            ("epochs.csv", EpochsReport.table(input).rendered()),
            ("table.csv", AccuracyTable.table(input).rendered()),
            ("plots/accuracy.svg", AccuracyPlot.svg(input)),
        ]
        for (name, text) in files {
            try AtomicFile.write(text, to: directory.appendingPathComponent(name))
        }
        Log.debug("wrote reports", ["directory": directory.path, "runs": input.runs.count])
    }
}

/// The runs and epochs that the reports read, taken from one snapshot of the store.
struct ReportInput {
    let runs: [RunState]
    /// Every recorded epoch, in the store's order: plan index, attempt, sequence number.
    let epochs: [EpochRow]
    private let epochsByRun: [String: [EpochRow]]

    init(runs: [RunState], epochs: [EpochRow]) {
        self.runs = runs
        self.epochs = epochs
        epochsByRun = Dictionary(grouping: epochs, by: \.runID)
    }

    /// Returns the epochs of the run's latest attempt that reported any, in sequence order,
    /// preceded by the epochs that attempt skipped because it resumed from a checkpoint.
    ///
    /// For a done run the latest attempt is the one that finished. While a retry has reported
    /// no epoch yet, the previous attempt's epochs stand in. An attempt that resumed after
    /// epoch k reports from k + 1 on, so within each phase it reports, epochs below its first
    /// one come from the latest earlier attempt that reported them.
    func reportedEpochs(of runID: String) -> [EpochRow] {
        let rows = epochsByRun[runID] ?? []
        guard let latest = rows.map(\.attempt).max() else { return [] }
        let current = rows.filter { $0.attempt == latest }
        var firstEpoch: [String: Int] = [:]
        for row in current {
            firstEpoch[row.phase] = min(firstEpoch[row.phase] ?? row.epoch, row.epoch)
        }
        var earlier: [String: EpochRow] = [:]
        for row in rows where row.attempt < latest {
            guard let first = firstEpoch[row.phase], row.epoch < first else { continue }
            earlier["\(row.phase)/\(row.epoch)"] = row
        }
        let filled = earlier.values.sorted { ($0.attempt, $0.seq) < ($1.attempt, $1.seq) }
        return filled + current
    }
}

extension SweepStore {
    /// Reads runs and epochs in one read transaction, so the reports agree with each other
    /// while the coordinator keeps writing.
    func reportInput() throws -> ReportInput {
        try database.readTransaction {
            ReportInput(runs: try runs(), epochs: try epochRows())
        }
    }
}
