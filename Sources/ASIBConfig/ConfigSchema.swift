/// The value types that a base config declares, used to reject overrides and group files that
/// change a key's type.
///
/// A key's type is known when it is a non-null leaf of the base composition (the primary file
/// with its default group selections). An int is accepted where a float is declared and is
/// stored as a float, so `student_lr=1` and `student_lr=1.0` give the same config. A null
/// value is accepted for any key, and a declared null accepts any type.
public struct ConfigSchema: Equatable, Sendable {
    /// Declared leaves by dotted path.
    public private(set) var leaves: [String: ConfigValue]
    /// Dotted paths of maps that contain declared leaves.
    public private(set) var maps: Set<String>

    public init(_ config: ConfigValue) {
        leaves = config.flattened().filter { !$0.key.isEmpty }
        maps = []
        for path in leaves.keys {
            var parts = ConfigValue.components(of: path)
            while parts.count > 1 {
                parts.removeLast()
                maps.insert(parts.joined(separator: "."))
            }
        }
    }

    /// An empty schema that accepts every value.
    public static let empty = ConfigSchema(.map([:]))

    /// Returns `value` (placed at `path`) with ints promoted where floats are declared, or
    /// throws `ConfigError.typeChanged` naming the first leaf whose type differs.
    public func conform(
        _ value: ConfigValue,
        at path: String,
        origin: ConfigOrigin
    ) throws -> ConfigValue {
        try conform(value, at: path) { _ in origin }
    }

    /// `conform` with an origin per leaf path, such as the key positions of a file.
    public func conform(
        _ value: ConfigValue,
        at path: String,
        origin: (String) -> ConfigOrigin
    ) throws -> ConfigValue {
        if case .map(let map) = value {
            if let declared = leaves[path], declared.mapValue == nil, !declared.isNull {
                throw ConfigError.typeChanged(
                    key: path, origin: origin(path), expected: declared.typeName, actual: "map"
                )
            }
            var conformed: [String: ConfigValue] = [:]
            for (key, child) in map {
                let childPath = path.isEmpty ? key : "\(path).\(key)"
                conformed[key] = try conform(child, at: childPath, origin: origin)
            }
            return .map(conformed)
        }
        return try conformLeaf(value, at: path, origin: origin)
    }

    private func conformLeaf(
        _ value: ConfigValue,
        at path: String,
        origin: (String) -> ConfigOrigin
    ) throws -> ConfigValue {
        if value.isNull { return value }
        if maps.contains(path) {
            throw ConfigError.typeChanged(
                key: path, origin: origin(path), expected: "map", actual: value.typeName
            )
        }
        guard let declared = leaves[path], !declared.isNull else { return value }
        if declared.typeName == value.typeName { return value }
        if case .double = declared, case .int(let number) = value {
            return .double(Double(number))
        }
        throw ConfigError.typeChanged(
            key: path, origin: origin(path), expected: declared.typeName, actual: value.typeName
        )
    }
}
