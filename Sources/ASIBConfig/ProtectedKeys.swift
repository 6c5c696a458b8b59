/// A key that the fairness anchor protects: the anchor's value and where the anchor sets it.
public struct ProtectedKey: Equatable, Sendable {
    public let key: String
    public let value: ConfigValue
    public let origin: ConfigOrigin

    public init(key: String, value: ConfigValue, origin: ConfigOrigin) {
        self.key = key
        self.value = value
        self.origin = origin
    }
}

/// A protected key whose effective value differs from the anchor's value.
public struct ProtectedKeyChange: Equatable, Sendable {
    public let key: String
    public let anchorValue: ConfigValue
    public let anchorOrigin: ConfigOrigin
    /// The effective value, or nil when an override deleted the key.
    public let value: ConfigValue?
    /// The file position or override that set the effective value.
    public let origin: ConfigOrigin?

    public init(
        key: String, anchorValue: ConfigValue, anchorOrigin: ConfigOrigin,
        value: ConfigValue?, origin: ConfigOrigin?
    ) {
        self.key = key
        self.anchorValue = anchorValue
        self.anchorOrigin = anchorOrigin
        self.value = value
        self.origin = origin
    }

    /// `key: anchor VALUE (ORIGIN), effective VALUE (ORIGIN)`.
    public var description: String {
        let effective = value.map { "'\($0.displayText)'" } ?? "deleted"
        let place = origin.map { " (\($0))" } ?? ""
        return "\(key): anchor '\(anchorValue.displayText)' (\(anchorOrigin)), "
            + "effective \(effective)\(place)"
    }
}

/// The `anchor` config group: a file of shared training settings with a `protected:` list of
/// keys that no later layer or override may change.
enum AnchorFile {
    static let group = "anchor"
    static let protectedListKey = "protected"

    /// Splits an anchor file into its values (without the list) and its protected key names.
    static func split(_ loaded: LoadedConfig) throws -> (values: ConfigValue, protected: [String]) {
        var values = loaded.value
        guard let list = values.remove(path: protectedListKey), !list.isNull else {
            return (values, [])
        }
        let place = loaded.positions[protectedListKey]
            ?? SourcePosition(file: loaded.file, line: 1, column: 1)
        guard let items = list.listValue else {
            throw ConfigError.invalidAnchor(
                place: place, reason: "'\(protectedListKey)' must be a list of dotted key names"
            )
        }
        var keys: [String] = []
        for item in items {
            guard let key = item.stringValue else {
                throw ConfigError.invalidAnchor(
                    place: place, reason: "protected entry '\(item.displayText)' is not a key name"
                )
            }
            guard let value = values[path: key], !value.isNull else {
                throw ConfigError.invalidAnchor(
                    place: place,
                    reason: "protected key '\(key)' has no value in the anchor file; set it there"
                )
            }
            keys.append(key)
        }
        return (values, keys)
    }

    /// Compares every protected key with the effective config and throws when any differ.
    static func check(_ composed: ComposedConfig) throws {
        guard let anchor = composed.anchorFile else { return }
        var changes: [ProtectedKeyChange] = []
        for protected in composed.protectedKeys {
            let value = composed.value[path: protected.key]
            if let value, CanonicalJSON.string(value) == CanonicalJSON.string(protected.value) {
                continue
            }
            changes.append(ProtectedKeyChange(
                key: protected.key, anchorValue: protected.value, anchorOrigin: protected.origin,
                value: value, origin: value == nil ? nil : composed.origins[protected.key]
            ))
        }
        guard changes.isEmpty else {
            throw ConfigError.protectedKeysChanged(anchor: anchor, changes: changes)
        }
    }
}
