import Foundation

/// Draws `plots/accuracy.svg`: student test accuracy (metric `acc`, phase `student`) per epoch,
/// one line per (method, rung), averaged over that group's runs of kind `student`.
///
/// Every status counts, so the plot shows progress while the sweep runs. Each run contributes
/// its latest attempt that reported epochs, and the mean at epoch N covers the runs that
/// reached epoch N with a finite accuracy. The SVG is plain text with no scripts or fonts.
enum AccuracyPlot {
    struct Series {
        let label: String
        /// (epoch, mean accuracy in percent), by epoch.
        let points: [(epoch: Int, accuracy: Double)]
    }

    static let metric = "acc"
    static let phase = "student"

    static func svg(_ input: ReportInput) -> String {
        let series = meanSeries(input)
        guard !series.isEmpty else { return emptyChart() }
        let frame = PlotFrame(series: series)
        var lines = [header(width: frame.width, height: frame.height), frame.axes()]
        for (position, line) in series.enumerated() {
            let color = palette[position % palette.count]
            lines.append(frame.line(line, color: color))
            lines.append(frame.legendEntry(line, position: position, color: color))
        }
        lines.append("</svg>")
        return lines.joined(separator: "\n") + "\n"
    }

    /// Averages the accuracy per epoch of each (method, rung), with groups in plan order.
    static func meanSeries(_ input: ReportInput) -> [Series] {
        var order: [String] = []
        var samples: [String: [Int: [Double]]] = [:]
        for run in input.runs where run.kind == "student" {
            let label = "\(run.method) / \(run.rung)"
            for row in input.reportedEpochs(of: run.runID) where row.phase == phase {
                guard let accuracy = row.metrics[metric], accuracy.isFinite else { continue }
                if samples[label] == nil {
                    order.append(label)
                }
                samples[label, default: [:]][row.epoch, default: []].append(accuracy)
            }
        }
        return order.map { label in
            let byEpoch = samples[label] ?? [:]
            let points = byEpoch.keys.sorted().map { epoch in
                let values = byEpoch[epoch] ?? []
                return (epoch, values.reduce(0, +) / Double(values.count))
            }
            return Series(label: label, points: points)
        }
    }

    /// Ten line colors that stay distinct on a white background.
    private static let palette = [
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
        "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    ]

    private static func header(width: Int, height: Int) -> String {
        let size = "width=\"\(width)\" height=\"\(height)\""
        return """
            <?xml version="1.0" encoding="UTF-8"?>
            <svg xmlns="http://www.w3.org/2000/svg" \(size) font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            """
    }

    private static func emptyChart() -> String {
        [
            header(width: PlotFrame.minimumWidth, height: PlotFrame.minimumHeight),
            "<text x=\"40\" y=\"60\">no student test accuracy recorded yet</text>",
            "</svg>",
        ].joined(separator: "\n") + "\n"
    }

    /// Escapes text for an SVG text node or attribute.
    static func escaped(_ text: String) -> String {
        var result = ""
        for character in text {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&apos;"
            default: result.append(character)
            }
        }
        return result
    }
}
