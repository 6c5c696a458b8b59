/// One entry of a primary config's `defaults:` list: `_self_` or `group[@package]: option`.
public struct DefaultsEntry: Equatable, Sendable {
    /// Nil for `_self_`, else the group folder under the config root (`model/teacher`).
    public let group: String?
    /// The explicit `@package`, or nil for the group's default package.
    public let package: String?
    /// The selected option (file name without `.yaml`), or nil when the group is deselected.
    public var option: String?

    public static let selfEntry = DefaultsEntry(group: nil, package: nil, option: nil)

    public init(group: String?, package: String?, option: String?) {
        self.group = group
        self.package = package
        self.option = option
    }

    public var isSelf: Bool { group == nil }

    /// The dotted path where the group's file is merged; empty for the root.
    ///
    /// `method`, `rung` and `anchor` files merge at the root, so their keys are top-level keys
    /// such as `ce_alpha`. Every other group merges at its folder path with `/` read as `.`
    /// (`model/student` at `model.student`). `@package` overrides this, and `@_global_` is
    /// the root.
    public var resolvedPackage: String {
        if let package {
            return package == "_global_" ? "" : package
        }
        guard let group, !Self.rootGroups.contains(group) else { return "" }
        return group.replacingOccurrences(of: "/", with: ".")
    }

    static let rootGroups: Set<String> = ["method", "rung", "anchor"]

    /// `group@package: option` as written in a defaults list.
    public var description: String {
        guard let group else { return "_self_" }
        let key = package.map { "\(group)@\($0)" } ?? group
        return "\(key): \(option ?? "null")"
    }

    /// Parses a `defaults:` list value; `file` names the primary config in messages.
    static func parseList(_ value: ConfigValue?, file: String) throws -> [DefaultsEntry] {
        guard let value, !value.isNull else { return [] }
        guard let items = value.listValue else {
            throw ConfigError.invalidDefaults(
                file: file, entry: value.displayText, reason: "'defaults' must be a list"
            )
        }
        return try items.map { try parseEntry($0, file: file) }
    }

    private static func parseEntry(_ item: ConfigValue, file: String) throws -> DefaultsEntry {
        if item == .string("_self_") { return .selfEntry }
        guard let map = item.mapValue, map.count == 1, let (key, option) = map.first else {
            throw ConfigError.invalidDefaults(
                file: file, entry: item.displayText,
                reason: "expected '_self_' or one 'group: option' pair"
            )
        }
        guard option.isNull || option.stringValue != nil else {
            throw ConfigError.invalidDefaults(
                file: file, entry: item.displayText,
                reason: "the option must be a file name in the group folder or null"
            )
        }
        let parts = key.split(separator: "@", maxSplits: 1).map(String.init)
        return DefaultsEntry(
            group: parts[0], package: parts.count == 2 ? parts[1] : nil, option: option.stringValue
        )
    }
}
