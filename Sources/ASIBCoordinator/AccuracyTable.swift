import Foundation

/// Builds `table.csv`: for each (method, rung), the mean and sample standard deviation
/// (ddof = 1) of the final and best test accuracy over the done runs of kind `student`.
///
/// Rows follow the plan order of each group's first run. `n_seeds` counts the group's done
/// runs; the standard deviations are empty when it is 1. Means and deviations have 4 decimals.
enum AccuracyTable {
    static let columns = [
        "method", "rung", "n_seeds", "final_acc_mean", "final_acc_std", "best_acc_mean",
        "best_acc_std",
    ]

    static func table(_ input: ReportInput) -> CSVTable {
        var table = CSVTable(header: columns)
        for group in doneStudentGroups(input.runs) {
            let finals = group.runs.compactMap(\.finalAccuracy)
            let bests = group.runs.compactMap(\.bestAccuracy)
            table.append(
                [group.method, group.rung, String(group.runs.count)]
                    + meanAndDeviation(finals) + meanAndDeviation(bests)
            )
        }
        return table
    }

    private struct Group {
        let method: String
        let rung: String
        var runs: [RunState]
    }

    private static func doneStudentGroups(_ runs: [RunState]) -> [Group] {
        var groups: [Group] = []
        for run in runs where run.kind == "student" && run.status == RunStatus.done.rawValue {
            if let position = groups.firstIndex(where: {
                $0.method == run.method && $0.rung == run.rung
            }) {
                groups[position].runs.append(run)
            } else {
                groups.append(Group(method: run.method, rung: run.rung, runs: [run]))
            }
        }
        return groups
    }

    /// Formats the mean and the sample standard deviation. The deviation is empty for fewer
    /// than two values, and both are empty for none.
    private static func meanAndDeviation(_ values: [Double]) -> [String] {
        guard !values.isEmpty else { return ["", ""] }
        let mean = values.reduce(0, +) / Double(values.count)
        guard values.count > 1 else { return [ReportNumber.fixed(mean), ""] }
        let squares = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
        let deviation = (squares / Double(values.count - 1)).squareRoot()
        return [ReportNumber.fixed(mean), ReportNumber.fixed(deviation)]
    }
}
