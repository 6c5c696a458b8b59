/// A composed config with the origin of every leaf.
public struct ComposedConfig: Equatable, Sendable {
    public var value: ConfigValue
    /// The file position or override that set each leaf last, by dotted path.
    public var origins: [String: ConfigOrigin]
    /// The defaults list after group overrides, in merge order (`_self_` included).
    public var defaults: [DefaultsEntry]
    /// The anchor file merged into this config, or nil when the `anchor` group is not selected.
    public var anchorFile: String?
    /// The keys the anchor protects, with the anchor's values, in the anchor's list order.
    public var protectedKeys: [ProtectedKey] = []

    public init(
        value: ConfigValue = .map([:]),
        origins: [String: ConfigOrigin] = [:],
        defaults: [DefaultsEntry] = []
    ) {
        self.value = value
        self.origins = origins
        self.defaults = defaults
    }

    /// The config-lock hash of the value (`ConfigLock.lockHash`).
    public var lockHash: String { ConfigLock.lockHash(value) }

    /// Returns the option selected for a group at its default package, or nil when none is.
    public func selection(of group: String) -> String? {
        defaults.first { $0.group == group && $0.package == nil }?.option
    }

    /// Merges one layer at a dotted package path: maps merge key by key, and leaves and lists
    /// replace. `positions` are the layer's key positions relative to the layer root.
    mutating func merge(
        _ layer: ConfigValue,
        at package: String,
        positions: [String: SourcePosition],
        file: String
    ) {
        let current = package.isEmpty ? value : (value[path: package] ?? .null)
        let merged = current.merging(layer)
        if package.isEmpty {
            value = merged
        } else {
            value.set(path: package, to: merged)
        }
        for (path, _) in layer.flattened() where !path.isEmpty {
            let position = positions[path] ?? SourcePosition(file: file, line: 1, column: 1)
            origins[package.isEmpty ? path : "\(package).\(path)"] = .file(position)
        }
        pruneOrigins()
    }

    /// Stores `newValue` at `path` and records `origin` for every leaf under it.
    mutating func set(_ path: String, to newValue: ConfigValue, origin: ConfigOrigin) {
        value.set(path: path, to: newValue)
        origins = origins.filter { $0.key != path && !$0.key.hasPrefix(path + ".") }
        for (leaf, _) in newValue.flattened(prefix: path) {
            origins[leaf] = origin
        }
        pruneOrigins()
    }

    mutating func remove(_ path: String) {
        value.remove(path: path)
        pruneOrigins()
    }

    /// Drops origins of leaves that no longer exist.
    private mutating func pruneOrigins() {
        let leaves = value.flattened()
        origins = origins.filter { leaves[$0.key] != nil }
    }
}

extension ConfigValue {
    /// This value with `layer` merged over it: maps merge key by key, anything else replaces.
    public func merging(_ layer: ConfigValue) -> ConfigValue {
        guard case .map(var base) = self, case .map(let top) = layer else { return layer }
        for (key, child) in top {
            base[key] = (base[key] ?? .null).merging(child)
        }
        return .map(base)
    }
}
