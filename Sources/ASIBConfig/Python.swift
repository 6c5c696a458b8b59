/// Python's text forms of numbers, which the config lock must reproduce byte for byte.
public enum Python {
    /// Formats a double like Python's `repr(float)` (and `json.dumps`).
    ///
    /// The digits are the shortest that round-trip, taken from Swift's `description`, which
    /// also prints the shortest round-trip digits. Python writes them positionally when
    /// 1e-4 <= |x| < 1e16 (always with a fractional part: `4.0`, `0.0001`) and in scientific
    /// notation otherwise, with a signed exponent of at least two digits (`5e-05`, `1e+16`).
    public static func repr(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-Infinity" : "Infinity" }
        let sign = value.sign == .minus ? "-" : ""
        guard value != 0 else { return sign + "0.0" }

        let (digits, pointPosition) = decimalDigits(of: value.magnitude)
        if pointPosition > -4 && pointPosition <= 16 {
            return sign + positional(digits, pointPosition)
        }
        return sign + scientific(digits, pointPosition)
    }

    /// Extracts the significant digits of a positive finite value and the position of the
    /// decimal point, so that value = 0.d1d2d3... x 10^pointPosition.
    static func decimalDigits(of value: Double) -> (digits: [Character], pointPosition: Int) {
        let text = value.description
        let parts = text.split(separator: "e", maxSplits: 1)
        let exponent = parts.count == 2 ? Int(parts[1])! : 0
        let mantissa = parts[0].split(separator: ".", omittingEmptySubsequences: false)
        let integerPart = Array(mantissa[0])
        let fractionPart = mantissa.count > 1 ? Array(mantissa[1]) : []

        var digits = integerPart + fractionPart
        var pointPosition = integerPart.count + exponent
        while digits.first == "0" {
            digits.removeFirst()
            pointPosition -= 1
        }
        while digits.last == "0" {
            digits.removeLast()
        }
        return (digits, pointPosition)
    }

    private static func positional(_ digits: [Character], _ pointPosition: Int) -> String {
        if pointPosition <= 0 {
            return "0." + String(repeating: "0", count: -pointPosition) + String(digits)
        }
        if pointPosition >= digits.count {
            let zeros = String(repeating: "0", count: pointPosition - digits.count)
            return String(digits) + zeros + ".0"
        }
        let integer = String(digits[..<pointPosition])
        return integer + "." + String(digits[pointPosition...])
    }

    private static func scientific(_ digits: [Character], _ pointPosition: Int) -> String {
        var mantissa = String(digits[0])
        if digits.count > 1 {
            mantissa += "." + String(digits[1...])
        }
        let exponent = pointPosition - 1
        let magnitude = String(abs(exponent))
        let padded = magnitude.count < 2 ? "0" + magnitude : magnitude
        return mantissa + "e" + (exponent < 0 ? "-" : "+") + padded
    }
}
