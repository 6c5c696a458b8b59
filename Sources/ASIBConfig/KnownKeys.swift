import Foundation

/// The config keys that group files may set: the leaves of the primary config's own keys plus
/// the dotted keys listed in `keys.yaml` at the config root.
///
/// A key is known when its dotted path, or one of its ancestors, is such a leaf or entry, so a
/// file may set `teacher_weights: [0.7, 0.3]` where the primary file declares
/// `teacher_weights: null`, but not `dataset.batchsize` where `dataset.batch_size` is declared.
public struct KnownKeys: Equatable, Sendable {
    /// The key catalog file, relative to the config root.
    public static let catalogFile = "keys.yaml"
    /// The list inside the catalog file.
    static let catalogListKey = "keys"

    public private(set) var entries: Set<String>

    public init(entries: Set<String>) {
        self.entries = entries
    }

    /// Collects the primary config's leaves and the catalog entries, when the catalog exists.
    init(primaryBody: ConfigValue, configRoot: URL) throws {
        entries = Set(primaryBody.flattened().keys.filter { !$0.isEmpty })
        let catalog = configRoot.appendingPathComponent(Self.catalogFile)
        guard FileManager.default.fileExists(atPath: catalog.path) else { return }
        entries.formUnion(try Self.loadCatalog(catalog))
    }

    /// Returns whether `path` or one of its ancestors is a known key.
    public func contains(_ path: String) -> Bool {
        var parts = ConfigValue.components(of: path)
        while !parts.isEmpty {
            if entries.contains(parts.joined(separator: ".")) { return true }
            parts.removeLast()
        }
        return false
    }

    /// Returns the known key closest to `path` for a "did you mean" hint, or nil.
    public func closest(to path: String) -> String? {
        EditDistance.closest(to: path, in: entries)
    }

    private static func loadCatalog(_ url: URL) throws -> [String] {
        let loaded = try YAMLLoader.load(file: url)
        let place = loaded.positions[catalogListKey]?.description ?? loaded.file
        guard let items = loaded.value[path: catalogListKey]?.listValue else {
            throw ConfigError.invalidKeyCatalog(
                place: place, reason: "expected a list '\(catalogListKey):' of dotted key names"
            )
        }
        return try items.map { item in
            guard let key = item.stringValue, !key.isEmpty else {
                throw ConfigError.invalidKeyCatalog(
                    place: place, reason: "entry '\(item.displayText)' is not a key name"
                )
            }
            return key
        }
    }
}
