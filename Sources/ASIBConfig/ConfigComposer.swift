import Foundation

/// Composes an effective config from a config folder, a primary config and overrides.
///
/// Merge order, later wins:
/// 1. the primary file's `defaults:` entries in list order: each `group: option` loads
///    `<root>/<group>/<option>.yaml` at the group's package (`DefaultsEntry.resolvedPackage`),
///    and `_self_` is the primary file's own keys (last when the list does not name it);
/// 2. group selections from overrides change the list before anything merges: `group=option`
///    replaces an entry, `+group=option` appends one after all others;
/// 3. key overrides, in the order given (command line and sweep files alike).
///
/// Maps merge key by key; leaves and lists replace. Types are checked against the base
/// composition (step 1 with the list as written, see `ConfigSchema`). Every key a group file
/// sets must be known (`KnownKeys`: the primary file's keys and `keys.yaml`). When the
/// `anchor` group is selected, the keys in its `protected:` list must keep the anchor's values
/// after all layers and overrides. Last, `ce_alpha + kd_alpha` must equal 1 unless
/// `strict_mode` is false.
public struct ConfigComposer {
    public let configRoot: URL
    /// Config group names: folders under the root that contain `.yaml` files.
    public let groups: Set<String>

    public init(configRoot: URL) {
        self.configRoot = configRoot
        groups = Self.findGroups(in: configRoot)
    }

    /// Lists the options of a group: its `.yaml` file names without the extension, sorted.
    public func options(of group: String) -> [String] {
        let folder = configRoot.appendingPathComponent(group)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { $0.hasSuffix(".yaml") }.map { String($0.dropLast(5)) }.sorted()
    }

    /// Parses override texts that were written at `source`.
    public func parseOverrides(_ texts: [String], source: String) throws -> [ConfigOverride] {
        try texts.map { try ConfigOverride.parse($0, origin: source, groups: groups) }
    }

    /// Composes with override texts that were all written at `source`.
    public func compose(
        primary: String,
        overrides: [String],
        source: String
    ) throws -> ComposedConfig {
        try compose(primary: primary, overrides: try parseOverrides(overrides, source: source))
    }

    public func compose(primary: String, overrides: [ConfigOverride]) throws -> ComposedConfig {
        let primaryFile = try loadPrimary(primary)
        let schema = ConfigSchema(try merge(primaryFile.entries, primaryFile, schema: nil).value)
        let entries = try select(overrides, in: primaryFile.entries, file: primaryFile.loaded.file)
        var composed = try merge(entries, primaryFile, schema: schema)
        for override in overrides {
            if case .select = override.action { continue }
            try override.apply(to: &composed, schema: schema, groups: groups)
        }
        try AnchorFile.check(composed)
        try ConfigValidator.checkAlphaSum(composed)
        return composed
    }

    /// Composes the primary config with its default selections and returns the declared types.
    public func schema(primary: String) throws -> ConfigSchema {
        let primaryFile = try loadPrimary(primary)
        return ConfigSchema(try merge(primaryFile.entries, primaryFile, schema: nil).value)
    }

    // MARK: - Steps

    struct PrimaryFile {
        let loaded: LoadedConfig
        let body: ConfigValue
        let entries: [DefaultsEntry]
        let known: KnownKeys
    }

    func loadPrimary(_ name: String) throws -> PrimaryFile {
        let fileName = name.hasSuffix(".yaml") ? name : name + ".yaml"
        let loaded = try loadMap(configRoot.appendingPathComponent(fileName))
        var entries = try DefaultsEntry.parseList(loaded.value[path: "defaults"], file: loaded.file)
        if !entries.contains(where: \.isSelf) {
            entries.append(.selfEntry)
        }
        var body = loaded.value
        body.remove(path: "defaults")
        let known = try KnownKeys(primaryBody: body, configRoot: configRoot)
        return PrimaryFile(loaded: loaded, body: body, entries: entries, known: known)
    }

    /// Merges the entries' files in order. With a nil schema, each layer is checked against
    /// the layers merged before it, which is how the base composition declares its types.
    private func merge(
        _ entries: [DefaultsEntry],
        _ primary: PrimaryFile,
        schema: ConfigSchema?
    ) throws -> ComposedConfig {
        var composed = ComposedConfig(defaults: entries)
        for entry in entries {
            guard var layer = try layerFile(for: entry, primary: primary) else { continue }
            let package = entry.resolvedPackage
            var protected: [String] = []
            if entry.group == AnchorFile.group {
                (layer.value, protected) = try AnchorFile.split(layer)
            }
            if entry.group != nil {
                try checkKnown(layer, at: package, known: primary.known)
            }
            let check = schema ?? ConfigSchema(composed.value)
            let conformed = try check.conform(layer.value, at: package) { path in
                .file(Self.position(of: path, in: layer, package: package))
            }
            composed.merge(conformed, at: package, positions: layer.positions, file: layer.file)
            if entry.group == AnchorFile.group {
                recordAnchor(layer, protected: protected, package: package, in: &composed)
            }
        }
        return composed
    }

    /// Position of a full dotted path inside a layer merged at `package`.
    private static func position(
        of path: String,
        in layer: LoadedConfig,
        package: String
    ) -> SourcePosition {
        let relative = package.isEmpty ? path : String(path.dropFirst(package.count + 1))
        return layer.positions[relative] ?? SourcePosition(file: layer.file, line: 1, column: 1)
    }

    /// Rejects a group file key that neither the primary config nor `keys.yaml` declares.
    private func checkKnown(_ layer: LoadedConfig, at package: String, known: KnownKeys) throws {
        // An empty file merged at a package flattens to the package path itself.
        let leaves = layer.value.flattened(prefix: package).keys.filter { $0 != package }
        for path in leaves.sorted() where !known.contains(path) {
            throw ConfigError.unknownKey(
                key: path, position: Self.position(of: path, in: layer, package: package),
                suggestion: known.closest(to: path)
            )
        }
    }

    /// Stores the anchor's protected keys with the values they have right after the anchor.
    private func recordAnchor(
        _ layer: LoadedConfig,
        protected: [String],
        package: String,
        in composed: inout ComposedConfig
    ) {
        composed.anchorFile = layer.file
        composed.protectedKeys = protected.map { key in
            let path = package.isEmpty ? key : "\(package).\(key)"
            let origin = ConfigOrigin.file(Self.position(of: path, in: layer, package: package))
            let value = composed.value[path: path] ?? .null
            return ProtectedKey(key: path, value: value, origin: origin)
        }
    }

    private func layerFile(for entry: DefaultsEntry, primary: PrimaryFile) throws -> LoadedConfig? {
        guard let group = entry.group else {
            return LoadedConfig(
                value: primary.body, positions: primary.loaded.positions, file: primary.loaded.file
            )
        }
        guard let option = entry.option else { return nil }
        let url = configRoot.appendingPathComponent(group).appendingPathComponent(option + ".yaml")
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw ConfigError.unknownGroupOption(
                group: group, option: option,
                origin: "defaults list of \(primary.loaded.file)", known: options(of: group)
            )
        }
        let loaded = try loadMap(url)
        if loaded.value[path: "defaults"] != nil {
            throw ConfigError.invalidDefaults(
                file: loaded.file, entry: "defaults",
                reason: "only the primary config may have a defaults list"
            )
        }
        return loaded
    }

    /// Applies the group selections among `overrides` to the defaults list.
    private func select(
        _ overrides: [ConfigOverride],
        in entries: [DefaultsEntry],
        file: String
    ) throws -> [DefaultsEntry] {
        var entries = entries
        for override in overrides {
            guard case .select(let group, let package, let option, let mode) = override.action
            else { continue }
            if let option, !options(of: group).contains(option) {
                throw ConfigError.unknownGroupOption(
                    group: group, option: option, origin: override.origin.description,
                    known: options(of: group)
                )
            }
            let entry = DefaultsEntry(group: group, package: package, option: option)
            let index = entries.firstIndex {
                $0.group == group && $0.resolvedPackage == entry.resolvedPackage
            }
            try checkSelection(override, mode: mode, present: index != nil, file: file)
            if let index {
                entries[index].option = option
            } else {
                entries.append(entry)
            }
        }
        return entries
    }

    private func checkSelection(
        _ override: ConfigOverride,
        mode: ConfigOverride.Mode,
        present: Bool,
        file: String
    ) throws {
        if mode == .change && !present {
            throw ConfigError.invalidOverride(
                text: override.text, source: override.source,
                reason: "the group is not in the defaults list of \(file); "
                    + "add it with '+\(override.text)'"
            )
        }
        if mode == .add && present {
            throw ConfigError.invalidOverride(
                text: override.text, source: override.source,
                reason: "the group is already in the defaults list of \(file); "
                    + "change it with '\(override.text.drop { $0 == "+" })'"
            )
        }
    }

    /// Loads a config file whose top level is a map; an empty file is an empty map.
    private func loadMap(_ url: URL) throws -> LoadedConfig {
        var loaded = try YAMLLoader.load(file: url)
        if loaded.value.isNull {
            loaded.value = .map([:])
        }
        guard loaded.value.mapValue != nil else {
            throw ConfigError.notAMap(file: loaded.file)
        }
        return loaded
    }

    private static func findGroups(in root: URL) -> Set<String> {
        let manager = FileManager.default
        // `subpaths` does not descend into a root that is a symbolic link.
        let folder = root.resolvingSymlinksInPath()
        guard let paths = manager.subpaths(atPath: folder.path) else { return [] }
        var groups: Set<String> = []
        for path in paths where path.hasSuffix(".yaml") && path.contains("/") {
            groups.insert(String(path[..<path.lastIndex(of: "/")!]))
        }
        return groups
    }
}
