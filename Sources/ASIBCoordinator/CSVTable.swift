import Foundation

/// A table rendered as CSV text: a header line, then one line per row.
///
/// Fields that contain a comma, a double quote, a carriage return or a line feed are quoted
/// as RFC 4180 requires, with inner quotes doubled. Lines end with a line feed, not the RFC's
/// CRLF, as Unix tools and pandas expect; quoted fields keep their own line breaks.
struct CSVTable {
    let header: [String]
    private(set) var rows: [[String]] = []

    init(header: [String]) {
        self.header = header
    }

    /// Appends a row, which must have one field per header column.
    mutating func append(_ row: [String]) {
        precondition(
            row.count == header.count,
            "CSV row has \(row.count) fields, expected \(header.count)"
        )
        rows.append(row)
    }

    func rendered() -> String {
        var text = Self.line(header)
        for row in rows {
            text += Self.line(row)
        }
        return text
    }

    static func quoted(_ field: String) -> String {
        let needsQuotes = field.unicodeScalars.contains { scalar in
            scalar == "," || scalar == "\"" || scalar == "\r" || scalar == "\n"
        }
        guard needsQuotes else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    private static func line(_ fields: [String]) -> String {
        fields.map(quoted).joined(separator: ",") + "\n"
    }
}
