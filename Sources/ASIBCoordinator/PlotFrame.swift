import Foundation

/// The geometry of the accuracy chart: maps (epoch, accuracy) to SVG coordinates and draws the
/// axes, the lines and the legend. Coordinates are SVG user units with y growing downwards.
struct PlotFrame {
    static let minimumWidth = 820
    static let minimumHeight = 480
    private static let legendRowHeight = 20.0
    /// Legend layout right of the plot area: a 24-unit line sample, then the label.
    private static let legendLineOffset = 20.0
    private static let legendTextOffset = 52.0
    /// Estimated width of one character at font size 12, used to keep legend labels inside
    /// the picture.
    private static let characterWidth = 7.0

    let width: Int
    let height: Int
    /// Edges of the plot area, inside the axes.
    private let left = 70.0
    private let top = 50.0
    private let right = 580.0
    private let bottom = 420.0
    private let lastEpoch: Int
    private let lowAccuracy: Double
    private let highAccuracy: Double

    /// Fits the axes to the series: epochs from 1 to the last one (at least 2, so that a single
    /// epoch still has an axis), accuracies widened to multiples of 10.
    init(series: [AccuracyPlot.Series]) {
        let epochs = series.flatMap { $0.points.map(\.epoch) }
        let accuracies = series.flatMap { $0.points.map(\.accuracy) }
        lastEpoch = max(2, epochs.max() ?? 2)
        let low = ((accuracies.min() ?? 0) / 10).rounded(.down) * 10
        let high = ((accuracies.max() ?? 100) / 10).rounded(.up) * 10
        lowAccuracy = low
        highAccuracy = high > low ? high : low + 10
        let longestLabel = series.map(\.label.count).max() ?? 0
        let legendRight = Int(right + Self.legendTextOffset + Self.characterWidth
            * Double(longestLabel) + 20)
        width = max(Self.minimumWidth, legendRight)
        let legendBottom = Int(top + Self.legendRowHeight * Double(series.count) + 20)
        height = max(Self.minimumHeight, legendBottom)
    }

    func x(_ epoch: Int) -> Double {
        left + Double(epoch - 1) / Double(lastEpoch - 1) * (right - left)
    }

    func y(_ accuracy: Double) -> Double {
        bottom - (accuracy - lowAccuracy) / (highAccuracy - lowAccuracy) * (bottom - top)
    }

    /// Draws the title, both axes with ticks, grid lines and axis labels.
    func axes() -> String {
        var parts = [
            text(
                "Student test accuracy per epoch (mean over seeds)", x: left, y: 24,
                anchor: "start"
            ),
            "<line x1=\"\(n(left))\" y1=\"\(n(bottom))\" x2=\"\(n(right))\" y2=\"\(n(bottom))\" "
                + "stroke=\"black\"/>",
            "<line x1=\"\(n(left))\" y1=\"\(n(top))\" x2=\"\(n(left))\" y2=\"\(n(bottom))\" "
                + "stroke=\"black\"/>",
        ]
        for epoch in epochTicks() {
            let position = x(epoch)
            parts.append(
                "<line x1=\"\(n(position))\" y1=\"\(n(bottom))\" x2=\"\(n(position))\" "
                    + "y2=\"\(n(bottom + 5))\" stroke=\"black\"/>"
            )
            parts.append(text(String(epoch), x: position, y: bottom + 20, anchor: "middle"))
        }
        for accuracy in accuracyTicks() {
            let position = y(accuracy)
            parts.append(
                "<line x1=\"\(n(left))\" y1=\"\(n(position))\" x2=\"\(n(right))\" "
                    + "y2=\"\(n(position))\" stroke=\"#dddddd\"/>"
            )
            parts.append(text(label(accuracy), x: left - 8, y: position + 4, anchor: "end"))
        }
        parts.append(text("epoch", x: (left + right) / 2, y: bottom + 45, anchor: "middle"))
        parts.append(
            "<text x=\"20\" y=\"\(n((top + bottom) / 2))\" text-anchor=\"middle\" "
                + "transform=\"rotate(-90 20 \(n((top + bottom) / 2)))\">test accuracy (%)</text>"
        )
        return parts.joined(separator: "\n")
    }

    /// Draws one polyline through the series' points, with a dot on each point so that a
    /// series of one epoch is visible too.
    func line(_ series: AccuracyPlot.Series, color: String) -> String {
        let points = series.points.map { "\(n(x($0.epoch))),\(n(y($0.accuracy)))" }
        var parts = [
            "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" "
                + "points=\"\(points.joined(separator: " "))\">"
                + "<title>\(AccuracyPlot.escaped(series.label))</title></polyline>",
        ]
        for point in series.points {
            parts.append(
                "<circle cx=\"\(n(x(point.epoch)))\" cy=\"\(n(y(point.accuracy)))\" r=\"3\" "
                    + "fill=\"\(color)\"/>"
            )
        }
        return parts.joined(separator: "\n")
    }

    func legendEntry(_ series: AccuracyPlot.Series, position: Int, color: String) -> String {
        let rowY = top + 10 + Self.legendRowHeight * Double(position)
        let lineStart = right + Self.legendLineOffset
        return "<line x1=\"\(n(lineStart))\" y1=\"\(n(rowY))\" x2=\"\(n(lineStart + 24))\" "
            + "y2=\"\(n(rowY))\" stroke=\"\(color)\" stroke-width=\"2\"/>\n"
            + text(series.label, x: right + Self.legendTextOffset, y: rowY + 4, anchor: "start")
    }

    /// Returns at most ten epoch ticks: every epoch up to 10 epochs, then every k-th from 1.
    private func epochTicks() -> [Int] {
        let step = max(1, (lastEpoch + 9) / 10)
        return Array(stride(from: 1, through: lastEpoch, by: step))
    }

    /// Returns six accuracy ticks from the low to the high end of the axis.
    private func accuracyTicks() -> [Double] {
        let step = (highAccuracy - lowAccuracy) / 5
        return (0...5).map { lowAccuracy + Double($0) * step }
    }

    private func label(_ accuracy: Double) -> String {
        if accuracy == accuracy.rounded() {
            return String(Int(accuracy))
        }
        return ReportNumber.fixed(accuracy, decimals: 1)
    }

    private func text(_ content: String, x: Double, y: Double, anchor: String) -> String {
        "<text x=\"\(n(x))\" y=\"\(n(y))\" text-anchor=\"\(anchor)\">"
            + AccuracyPlot.escaped(content) + "</text>"
    }

    /// Formats a coordinate with one decimal.
    private func n(_ value: Double) -> String {
        ReportNumber.fixed(value, decimals: 1)
    }
}
