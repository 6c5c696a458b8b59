/// One command-line or sweep override, parsed; `text` keeps the original spelling.
///
/// Grammar (Hydra's, simplified):
/// - `key=value`    change an existing key (dotted paths reach nested keys)
/// - `+key=value`   add a key that does not exist yet
/// - `++key=value`  set a key whether it exists or not
/// - `~key`         delete an existing key
/// - `group=option`, `group@package=option`  select a config group option. A group is a folder
///   under the config root (`method`, `model/student`). With `+` or `++` the selection may
///   add a group that the defaults list lacks.
///
/// A key that names a config group (`dataset=cifar10`) is a group selection; set keys inside
/// it with a dotted path (`dataset.batch_size=64`). Values are YAML flow values: `0.5`,
/// `[0.7, 0.3]`, `'quoted text'`, `null`; an empty value is null. A comma outside brackets and
/// quotes (`seed=1,2`) is rejected, because Hydra would read it as a sweep.
public struct ConfigOverride: Equatable, Sendable {
    public enum Mode: Equatable, Sendable {
        /// `key=value`: the key must exist.
        case change
        /// `+key=value`: the key must not exist.
        case add
        /// `++key=value`: set either way.
        case force
    }

    public enum Action: Equatable, Sendable {
        case set(key: String, value: ConfigValue, mode: Mode)
        case delete(key: String)
        /// `option` nil deselects the group (`group=null`).
        case select(group: String, package: String?, option: String?, mode: Mode)
    }

    public let action: Action
    /// The override as written.
    public let text: String
    /// The place where the override was written, e.g. `command line` or a sweep file.
    public let source: String

    public init(action: Action, text: String, source: String) {
        self.action = action
        self.text = text
        self.source = source
    }

    /// The origin that provenance records for values this override sets.
    public var origin: ConfigOrigin { .override(text: text, source: source) }
}

extension ConfigOverride {
    /// Parses one override. `groups` are the config group names (folders under the config
    /// root); a key equal to one of them is a group selection.
    public static func parse(
        _ text: String,
        origin source: String,
        groups: Set<String> = []
    ) throws -> ConfigOverride {
        let parser = OverrideParser(text: text, source: source, groups: groups)
        return ConfigOverride(action: try parser.action(), text: text, source: source)
    }
}

/// The parsing steps of `ConfigOverride.parse`.
private struct OverrideParser {
    let text: String
    let source: String
    let groups: Set<String>

    func action() throws -> ConfigOverride.Action {
        if text.hasPrefix("~") {
            return try deletion()
        }
        let (mode, body) = try splitMode()
        guard let equals = body.firstIndex(of: "=") else {
            throw invalid("expected KEY=VALUE, +KEY=VALUE, ++KEY=VALUE or ~KEY")
        }
        let key = String(body[..<equals])
        let valueText = String(body[body.index(after: equals)...])
        if key.contains("/") || key.contains("@") || groups.contains(key) {
            return try selection(key, valueText, mode: mode)
        }
        try checkKey(key)
        return .set(key: key, value: try value(valueText), mode: mode)
    }

    private func splitMode() throws -> (ConfigOverride.Mode, Substring) {
        if text.hasPrefix("+++") {
            throw invalid("at most two '+' may precede the key")
        }
        if text.hasPrefix("++") { return (.force, text.dropFirst(2)) }
        if text.hasPrefix("+") { return (.add, text.dropFirst(1)) }
        return (.change, Substring(text))
    }

    private func deletion() throws -> ConfigOverride.Action {
        let key = String(text.dropFirst())
        guard !key.contains("=") else {
            let name = key.prefix { $0 != "=" }
            throw invalid("'~KEY' deletes a key and takes no value; write '~\(name)'")
        }
        guard !key.contains("/"), !key.contains("@"), !groups.contains(key) else {
            throw invalid("'\(key)' is a config group; deselect it with '\(key)=null'")
        }
        try checkKey(key)
        return .delete(key: key)
    }

    private func selection(
        _ key: String,
        _ valueText: String,
        mode: ConfigOverride.Mode
    ) throws -> ConfigOverride.Action {
        let parts = key.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false)
        let group = String(parts[0])
        let package = parts.count == 2 ? String(parts[1]) : nil
        guard groups.contains(group) else {
            let known = groups.sorted().joined(separator: ", ")
            throw invalid("unknown config group '\(group)'; known groups: \(known)")
        }
        if let package, package != "_global_" {
            try checkKey(package)
        }
        let option = valueText.trimmingSpaces
        if option == "null" || option.isEmpty {
            return .select(group: group, package: package, option: nil, mode: mode)
        }
        guard option.allSatisfy(Self.isNameCharacter) else {
            throw invalid(
                "'\(group)' is a config group, so the value must be an option name such as "
                    + "a file name without '.yaml'; set keys inside it as \(group).KEY=VALUE"
            )
        }
        return .select(group: group, package: package, option: option, mode: mode)
    }

    /// Accepts dotted keys whose parts are identifiers: `kd_alpha`, `dataset.batch_size`.
    private func checkKey(_ key: String) throws {
        guard !key.isEmpty else { throw invalid("the key is empty") }
        for part in key.split(separator: ".", omittingEmptySubsequences: false) {
            guard let first = part.first, first == "_" || first.isLetter,
                part.allSatisfy(Self.isNameCharacter)
            else {
                throw invalid(
                    "invalid key '\(key)': each dot-separated part must start with a letter or '_' "
                        + "and contain only letters, digits, '_' and '-'"
                )
            }
        }
    }

    private func value(_ valueText: String) throws -> ConfigValue {
        // Hydra reads `key=a,b` as a sweep over two values, YAML as the text "a,b". A sweep
        // belongs on an axis of a sweep file, so the unbracketed, unquoted form is rejected.
        let start = valueText.trimmingSpaces.first
        if valueText.contains(","), let start, !"[{'\"".contains(start) {
            throw invalid(
                "a comma-separated value reads as a sweep of several values, which only an axis "
                    + "of a sweep file takes; write [a,b] for one list or quote 'a,b' for a string"
            )
        }
        let parsed: ConfigValue
        do {
            parsed = try YAMLLoader.parseValue(valueText, origin: "override '\(text)'")
        } catch let error as ConfigError {
            guard case .yamlSyntax(_, _, let column, let problem) = error else { throw error }
            throw invalid("the value is not valid YAML (column \(column): \(problem)); quote it")
        }
        let trimmed = valueText.trimmingSpaces
        if case .map = parsed, !trimmed.hasPrefix("{") {
            throw invalid("the value reads as a YAML map; quote it or write a map as {KEY: VALUE}")
        }
        return parsed
    }

    private func invalid(_ reason: String) -> ConfigError {
        ConfigError.invalidOverride(text: text, source: source, reason: reason)
    }

    private static func isNameCharacter(_ character: Character) -> Bool {
        character.isLetter || character.isNumber || character == "_" || character == "-"
    }
}

extension String {
    var trimmingSpaces: String {
        var text = Substring(self)
        while text.first == " " { text = text.dropFirst() }
        while text.last == " " { text = text.dropLast() }
        return String(text)
    }
}
