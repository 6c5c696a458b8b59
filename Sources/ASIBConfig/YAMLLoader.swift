import Foundation

/// A parsed YAML or JSON document and the position of every map key in it.
public struct LoadedConfig: Equatable, Sendable {
    public var value: ConfigValue
    /// Position of each map key by dotted path (`dataset.batch_size`); keys inside lists are
    /// not recorded because lists are replaced as a whole.
    public var positions: [String: SourcePosition]
    /// The file name or description used in positions and messages.
    public let file: String
}

/// Loads YAML (and JSON, which is YAML flow syntax) through libyaml into `ConfigValue`.
///
/// Plain scalars are typed by the YAML 1.2 core schema (see `YAMLScalar`), quoted scalars are
/// strings, duplicate keys are an error, anchors and aliases are resolved, and a stream may
/// contain at most one document. Merge keys (`<<`) and custom tags are rejected.
/// NOTE: libyaml rejects `\uD800`-`\uDFFF` escapes. So a JSON text that spells a character
/// above U+FFFF as a surrogate pair (as `CanonicalJSON` does) does not load, while the same
/// character written as UTF-8 does.
public enum YAMLLoader {
    /// Loads a file; an empty file is an empty document (`null`).
    public static func load(file url: URL) throws -> LoadedConfig {
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            let reason = FileManager.default.fileExists(atPath: url.path)
                ? "not readable as UTF-8 text" : "no such file"
            throw ConfigError.unreadableFile(path: url.path, reason: reason)
        }
        return try parse(text: text, origin: url.path)
    }

    /// Parses a text; `origin` names it in positions and messages.
    public static func parse(text: String, origin: String) throws -> LoadedConfig {
        let reader = YAMLEventReader(text: text, file: origin)
        var builder = YAMLTreeBuilder(reader: reader, file: origin)
        let value = try builder.document()
        return LoadedConfig(value: value, positions: builder.positions, file: origin)
    }

    /// Parses one YAML flow value, as written on the right of an override (`[a, b]`, `'x'`, `3`).
    public static func parseValue(_ text: String, origin: String) throws -> ConfigValue {
        try parse(text: text, origin: origin).value
    }
}
