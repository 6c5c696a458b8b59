/// A configuration value: the tree that YAML files, overrides, plans and the trainer share.
///
/// Maps are unordered; every writer that needs a stable byte order (the config lock, plan.json)
/// sorts keys itself.
public indirect enum ConfigValue: Equatable, Sendable {
    case null, bool(Bool), int(Int), double(Double), string(String)
    case list([ConfigValue]), map([String: ConfigValue])
}

// MARK: - Plain accessors

extension ConfigValue {
    /// The integer stored here, or nil for any other case (a double is never truncated).
    public var intValue: Int? {
        if case .int(let value) = self { return value }
        return nil
    }

    /// The number stored here; an integer is promoted to a double.
    public var doubleValue: Double? {
        switch self {
        case .double(let value): return value
        case .int(let value): return Double(value)
        default: return nil
        }
    }

    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    public var listValue: [ConfigValue]? {
        if case .list(let value) = self { return value }
        return nil
    }

    public var mapValue: [String: ConfigValue]? {
        if case .map(let value) = self { return value }
        return nil
    }

    public var isNull: Bool { self == .null }

    /// The YAML name of this value's type, as error messages print it.
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "bool"
        case .int: return "int"
        case .double: return "float"
        case .string: return "string"
        case .list: return "list"
        case .map: return "map"
        }
    }
}

// MARK: - Dotted paths

extension ConfigValue {
    /// Splits a dotted key path such as `dataset.batch_size` into its components.
    public static func components(of path: String) -> [String] {
        path.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
    }

    /// The value at a dotted path (`dataset.batch_size`), or nil when any component is missing.
    ///
    /// Setting a value creates missing intermediate maps and replaces a non-map on the way;
    /// setting nil removes the key.
    public subscript(path path: String) -> ConfigValue? {
        get { value(at: Self.components(of: path)[...]) }
        set {
            if let newValue {
                set(Self.components(of: path)[...], to: newValue)
            } else {
                remove(Self.components(of: path)[...])
            }
        }
    }

    /// Stores `value` at a dotted path, creating intermediate maps.
    public mutating func set(path: String, to value: ConfigValue) {
        set(Self.components(of: path)[...], to: value)
    }

    /// Removes the key at a dotted path and returns its old value, or nil when it was absent.
    @discardableResult
    public mutating func remove(path: String) -> ConfigValue? {
        let old = self[path: path]
        remove(Self.components(of: path)[...])
        return old
    }

    private func value(at keys: ArraySlice<String>) -> ConfigValue? {
        guard let first = keys.first else { return self }
        guard case .map(let map) = self, let child = map[first] else { return nil }
        return child.value(at: keys.dropFirst())
    }

    private mutating func set(_ keys: ArraySlice<String>, to value: ConfigValue) {
        guard let first = keys.first else {
            self = value
            return
        }
        var map = mapValue ?? [:]
        var child = map[first] ?? .map([:])
        child.set(keys.dropFirst(), to: value)
        map[first] = child
        self = .map(map)
    }

    private mutating func remove(_ keys: ArraySlice<String>) {
        guard let first = keys.first, case .map(var map) = self else { return }
        if keys.count == 1 {
            map.removeValue(forKey: first)
        } else if var child = map[first] {
            child.remove(keys.dropFirst())
            map[first] = child
        }
        self = .map(map)
    }
}

// MARK: - Flattening

extension ConfigValue {
    /// Every leaf as a dotted path; lists and empty maps are leaves.
    ///
    /// The root itself is returned under the empty path when it is not a map.
    public func flattened(prefix: String = "") -> [String: ConfigValue] {
        guard case .map(let map) = self, !map.isEmpty || prefix.isEmpty else {
            return [prefix: self]
        }
        var leaves: [String: ConfigValue] = [:]
        for (key, child) in map {
            let path = prefix.isEmpty ? key : "\(prefix).\(key)"
            leaves.merge(child.flattened(prefix: path)) { _, new in new }
        }
        return leaves
    }
}
