/// The canonical JSON text of a config, byte for byte what Python's
/// `json.dumps(value, sort_keys=True)` writes with its default settings.
///
/// Keys are sorted by Unicode code point at every level, and the separators are `", "` and
/// `": "`. Non-ASCII and control characters are escaped as `\uXXXX` in lower-case hex, with
/// surrogate pairs above U+FFFF. Integers are written as digits and floats in Python's `repr`
/// form (`Python.repr`), with `Infinity`, `-Infinity` and `NaN` for non-finite values.
public enum CanonicalJSON {
    public static func string(_ value: ConfigValue) -> String {
        var output = ""
        write(value, to: &output)
        return output
    }

    private static func write(_ value: ConfigValue, to output: inout String) {
        switch value {
        case .null:
            output += "null"
        case .bool(let flag):
            output += flag ? "true" : "false"
        case .int(let number):
            output += String(number)
        case .double(let number):
            output += Python.repr(number)
        case .string(let text):
            writeString(text, to: &output)
        case .list(let items):
            writeList(items, to: &output)
        case .map(let map):
            writeMap(map, to: &output)
        }
    }

    private static func writeList(_ items: [ConfigValue], to output: inout String) {
        output += "["
        for (offset, item) in items.enumerated() {
            if offset > 0 { output += ", " }
            write(item, to: &output)
        }
        output += "]"
    }

    private static func writeMap(_ map: [String: ConfigValue], to output: inout String) {
        output += "{"
        for (offset, key) in sortedKeys(map).enumerated() {
            if offset > 0 { output += ", " }
            writeString(key, to: &output)
            output += ": "
            write(map[key]!, to: &output)
        }
        output += "}"
    }

    /// Keys in Unicode code point order, the order Python's `sorted` gives for `str`.
    static func sortedKeys(_ map: [String: ConfigValue]) -> [String] {
        map.keys.sorted { left, right in
            left.unicodeScalars.lexicographicallyPrecedes(right.unicodeScalars) {
                $0.value < $1.value
            }
        }
    }

    private static func writeString(_ text: String, to output: inout String) {
        output += "\""
        for scalar in text.unicodeScalars {
            output += escaped(scalar)
        }
        output += "\""
    }

    private static func escaped(_ scalar: Unicode.Scalar) -> String {
        switch scalar {
        case "\"": return "\\\""
        case "\\": return "\\\\"
        case "\n": return "\\n"
        case "\r": return "\\r"
        case "\t": return "\\t"
        case "\u{08}": return "\\b"
        case "\u{0C}": return "\\f"
        default: break
        }
        // Python escapes everything outside the printable ASCII range 0x20...0x7E.
        if scalar.value >= 0x20 && scalar.value <= 0x7E {
            return String(scalar)
        }
        return String(scalar).utf16.map(hexEscape).joined()
    }

    private static func hexEscape(_ unit: UInt16) -> String {
        let hex = String(unit, radix: 16)
        return "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
    }
}
