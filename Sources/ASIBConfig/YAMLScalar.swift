/// Typing of YAML scalars by the YAML 1.2 core schema.
///
/// Only plain (unquoted) scalars are typed; quoted scalars are always strings. So `yes`, `no`,
/// `on` and `off` stay strings, `"1"` stays a string, and `1e-3`, `0.001` and `1.0e-3` are the
/// same float. Python's JSON words `Infinity`, `-Infinity` and `NaN` are floats as well, so
/// canonical JSON (`CanonicalJSON`) loads back to the value it was written from.
enum YAMLScalar {
    static let nullWords: Set<String> = ["", "~", "null", "Null", "NULL"]
    static let trueWords: Set<String> = ["true", "True", "TRUE"]
    static let falseWords: Set<String> = ["false", "False", "FALSE"]
    static let infinityWords: Set<String> = [".inf", ".Inf", ".INF"]
    static let nanWords: Set<String> = [".nan", ".NaN", ".NAN"]

    /// Resolves the typed value of a plain scalar.
    static func resolve(plain text: String) -> ConfigValue {
        if nullWords.contains(text) { return .null }
        if trueWords.contains(text) { return .bool(true) }
        if falseWords.contains(text) { return .bool(false) }
        if let number = integer(text) { return number }
        if let number = float(text) { return .double(number) }
        return .string(text)
    }

    /// Resolves a scalar with an explicit `!!` tag; returns nil for a tag the loader rejects.
    static func resolve(text: String, tag: String) -> ConfigValue? {
        switch tag {
        case "tag:yaml.org,2002:str": return .string(text)
        case "tag:yaml.org,2002:null": return nullWords.contains(text) ? .null : nil
        case "tag:yaml.org,2002:bool":
            let value = resolve(plain: text)
            return value.boolValue == nil ? nil : value
        case "tag:yaml.org,2002:int":
            return integer(text)
        case "tag:yaml.org,2002:float":
            return resolve(plain: text).doubleValue.map(ConfigValue.double)
        default: return nil
        }
    }

    /// Decimal (`-12`, `+3`), octal (`0o17`) and hexadecimal (`0xff`) integers.
    ///
    /// A decimal integer beyond the 64-bit range becomes a float, as YAML readers in
    /// dynamic languages would give an exact big integer that no config here needs.
    static func integer(_ text: String) -> ConfigValue? {
        if text.hasPrefix("0o"), let value = digits(text.dropFirst(2), radix: 8) {
            return .int(value)
        }
        if text.hasPrefix("0x"), let value = digits(text.dropFirst(2), radix: 16) {
            return .int(value)
        }
        var unsigned = Substring(text)
        if unsigned.first == "-" || unsigned.first == "+" {
            unsigned = unsigned.dropFirst()
        }
        guard !unsigned.isEmpty, unsigned.allSatisfy(\.isASCIIDigit) else { return nil }
        if let value = Int(text) { return .int(value) }
        return Double(text).map(ConfigValue.double)
    }

    private static func digits(_ text: Substring, radix: Int) -> Int? {
        guard !text.isEmpty, text.allSatisfy({ $0.isHexDigit }) else { return nil }
        return Int(text, radix: radix)
    }

    /// Floats of the form `[-+]?(.d+ | d+(.d*)?)([eE][-+]?d+)?`, plus `.inf` and `.nan`.
    static func float(_ text: String) -> Double? {
        var body = Substring(text)
        var negative = false
        if body.first == "-" || body.first == "+" {
            negative = body.first == "-"
            body = body.dropFirst()
        }
        if infinityWords.contains(String(body)) || body == "Infinity" {
            return negative ? -Double.infinity : Double.infinity
        }
        if nanWords.contains(text) || text == "NaN" { return Double.nan }
        guard isDecimalFloat(body) else { return nil }
        return Double(text)
    }

    private static func isDecimalFloat(_ text: Substring) -> Bool {
        var mantissa = text
        if let exponentStart = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            mantissa = text[..<exponentStart]
            var exponent = text[text.index(after: exponentStart)...]
            if exponent.first == "-" || exponent.first == "+" {
                exponent = exponent.dropFirst()
            }
            guard !exponent.isEmpty, exponent.allSatisfy(\.isASCIIDigit) else { return false }
        }
        let parts = mantissa.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, parts.allSatisfy({ $0.allSatisfy(\.isASCIIDigit) }) else {
            return false
        }
        if parts.count == 1 { return !parts[0].isEmpty }
        // `.5` and `5.` are floats, a lone `.` is not.
        return !parts[0].isEmpty || !parts[1].isEmpty
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
