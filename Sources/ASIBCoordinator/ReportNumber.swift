import Foundation

/// Number formats of the report files. Both use `.` as the decimal mark in every locale.
///
/// Values that the store recorded (metrics, accuracies, times) use Swift's shortest
/// round-trip form, so a reader parses back the exact Double: `82.0`, `0.125`, `1e-05`,
/// `nan`, `inf`. Values that the reports compute (means, standard deviations) use a fixed
/// number of decimals.
enum ReportNumber {
    private static let posix = Locale(identifier: "en_US_POSIX")

    /// Formats `value` as the shortest text that parses back to it.
    static func exact(_ value: Double) -> String {
        value.description
    }

    /// Formats `value` as its shortest round-trip text, or an empty string for nil.
    static func exact(_ value: Double?) -> String {
        value.map(exact) ?? ""
    }

    /// Formats `value` rounded to `decimals` digits after the decimal mark.
    static func fixed(_ value: Double, decimals: Int = 4) -> String {
        String(format: "%.\(decimals)f", locale: posix, value)
    }
}
