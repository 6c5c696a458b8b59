import ASIBSupport

/// Failures of loading, composing, overriding, validating and reading configs.
///
/// Every case is bad input (exit 64): the fix is always in a config file, a sweep file or an
/// override.
public enum ConfigError: ReportableError, Equatable {
    case missingKey(key: String)
    case wrongType(key: String, value: ConfigValue, expected: String, origin: ConfigOrigin?)
    case unreadableFile(path: String, reason: String)
    case yamlSyntax(file: String, line: Int, column: Int, problem: String)
    case duplicateKey(key: String, first: SourcePosition, second: SourcePosition)
    case unsupportedYAML(position: SourcePosition, feature: String)
    case notAMap(file: String)
    case invalidOverride(text: String, source: String, reason: String)
    case overrideKeyMissing(key: String, text: String, source: String, suggestion: String?)
    case overrideKeyExists(key: String, text: String, source: String, origin: ConfigOrigin?)
    case typeChanged(key: String, origin: ConfigOrigin, expected: String, actual: String)
    case unknownGroupOption(group: String, option: String, origin: String, known: [String])
    case invalidDefaults(file: String, entry: String, reason: String)
    case alphaSum(ce: Double, ceOrigin: String, kd: Double, kdOrigin: String)
    case unknownKey(key: String, position: SourcePosition, suggestion: String?)
    case invalidKeyCatalog(place: String, reason: String)
    case invalidAnchor(place: SourcePosition, reason: String)
    case protectedKeysChanged(anchor: String, changes: [ProtectedKeyChange])

    public var exitCode: Int32 { ExitCode.usage }

    public var description: String {
        switch self {
        case .missingKey(let key):
            return "missing config key '\(key)': add it to the config or pass '++\(key)=VALUE'"
        case .wrongType(let key, let value, let expected, let origin):
            let place = origin.map { " (set at \($0))" } ?? ""
            return "invalid value '\(value.displayText)' for '\(key)'\(place): "
                + "expected \(expected), got \(value.typeName); give '\(key)' a value of type "
                + "\(expected)"
        case .unreadableFile(let path, let reason):
            return "cannot read config file '\(path)': \(reason)"
        case .yamlSyntax(let file, let line, let column, let problem):
            return "\(file):\(line):\(column): invalid YAML: \(problem)"
        case .duplicateKey(let key, let first, let second):
            return "\(second): duplicate key '\(key)' (first defined at \(first)); "
                + "keep one of the two entries"
        case .unsupportedYAML(let position, let feature):
            return "\(position): unsupported YAML: \(feature)"
        case .notAMap(let file):
            return "\(file): a config file must contain a mapping of keys at the top level"
        default:
            return compositionDescription
        }
    }

    /// Messages of the override, composition and validation cases.
    private var compositionDescription: String {
        switch self {
        case .invalidOverride(let text, let source, let reason):
            return "invalid override '\(text)' (\(source)): \(reason)"
        case .overrideKeyMissing(let key, let text, let source, let suggestion):
            let hint = suggestion.map { "did you mean `\($0)`? " } ?? ""
            return "override '\(text)' (\(source)) sets unknown key '\(key)': \(hint)"
                + "use '+\(key)=VALUE' to add a new key"
        case .overrideKeyExists(let key, let text, let source, let origin):
            let place = origin.map { " (set at \($0))" } ?? ""
            return "override '\(text)' (\(source)) adds key '\(key)', "
                + "which already exists\(place): use '\(key)=VALUE' to change it "
                + "or '++\(key)=VALUE' to set it either way"
        case .typeChanged(let key, let origin, let expected, let actual):
            // YAML reads an unquoted 001 or true as a number or a boolean, never as a string.
            let quoting = expected == "string" ? " (quote it, e.g. '001', to keep it text)" : ""
            return "invalid type for '\(key)' from \(origin): expected \(expected) "
                + "(the type the config declares), got \(actual); give a value of type \(expected)"
                + quoting
        case .unknownGroupOption(let group, let option, let origin, let known):
            return "unknown \(group) '\(option)' (\(origin)): known options are "
                + known.joined(separator: ", ")
        case .invalidDefaults(let file, let entry, let reason):
            return "\(file): invalid defaults entry '\(entry)': \(reason)"
        case .alphaSum(let ce, let ceOrigin, let kd, let kdOrigin):
            return "ce_alpha + kd_alpha must equal 1: ce_alpha \(Python.repr(ce)) (\(ceOrigin)) + "
                + "kd_alpha \(Python.repr(kd)) (\(kdOrigin)) = \(Python.repr(ce + kd)); "
                + "fix one of them or set strict_mode: false"
        default:
            return validationDescription
        }
    }

    /// Messages of the known-key and anchor checks.
    private var validationDescription: String {
        switch self {
        case .unknownKey(let key, let position, let suggestion):
            let hint = suggestion.map { "did you mean `\($0)`? " } ?? ""
            return "\(position): unknown config key '\(key)': \(hint)fix the spelling, or declare "
                + "a new key in the primary config (base.yaml) or in \(KnownKeys.catalogFile) "
                + "of the config folder"
        case .invalidKeyCatalog(let place, let reason):
            return "\(place): invalid key catalog: \(reason)"
        case .invalidAnchor(let place, let reason):
            return "\(place): invalid anchor config: \(reason)"
        case .protectedKeysChanged(let anchor, let changes):
            let list = changes.map(\.description).joined(separator: "; ")
            return "protected keys of the anchor \(anchor) were changed: \(list); "
                + "remove these changes from the method, rung or override, "
                + "or compose without the anchor"
        default:
            return "config error"
        }
    }
}

extension ConfigValue {
    /// A short form for messages: strings as they are, everything else as canonical JSON.
    public var displayText: String {
        if case .string(let text) = self { return text }
        return CanonicalJSON.string(self)
    }
}
