/// The flattened keys that differ between two configs, for lock-mismatch reports.
public struct ConfigDiff: Equatable, Sendable, CustomStringConvertible {
    public struct Change: Equatable, Sendable {
        public let key: String
        public let old: ConfigValue
        public let new: ConfigValue
    }

    /// Keys present only in the new config, sorted.
    public let added: [String]
    /// Keys present only in the old config, sorted.
    public let removed: [String]
    /// Keys whose values differ, sorted by key.
    public let changed: [Change]

    /// Compares the leaves of two configs (dotted paths; lists are compared as a whole).
    public init(from old: ConfigValue, to new: ConfigValue) {
        let oldLeaves = old.flattened()
        let newLeaves = new.flattened()
        added = newLeaves.keys.filter { oldLeaves[$0] == nil }.sorted()
        removed = oldLeaves.keys.filter { newLeaves[$0] == nil }.sorted()
        changed = oldLeaves.keys.sorted().compactMap { key in
            guard let before = oldLeaves[key], let after = newLeaves[key] else { return nil }
            // Canonical text compares NaN equal to NaN, unlike `==` on doubles.
            guard CanonicalJSON.string(before) != CanonicalJSON.string(after) else { return nil }
            return Change(key: key, old: before, new: after)
        }
    }

    public var isEmpty: Bool { added.isEmpty && removed.isEmpty && changed.isEmpty }

    /// Formats a one-line summary that lists at most `limit` keys of each kind.
    public func summary(listing limit: Int) -> String {
        if isEmpty { return "no keys differ" }
        var parts: [String] = []
        if !added.isEmpty {
            parts.append("added: " + listed(added, limit: limit))
        }
        if !removed.isEmpty {
            parts.append("removed: " + listed(removed, limit: limit))
        }
        if !changed.isEmpty {
            let texts = changed.map { change in
                "\(change.key) '\(change.old.displayText)' -> '\(change.new.displayText)'"
            }
            parts.append("changed: " + listed(texts, limit: limit))
        }
        return parts.joined(separator: "; ")
    }

    /// The summary with the default limit of 20 keys per kind.
    public var summary: String { summary(listing: 20) }

    public var description: String { summary }

    private func listed(_ items: [String], limit: Int) -> String {
        let firstItems = items.prefix(limit).joined(separator: ", ")
        return items.count > limit ? firstItems + " and \(items.count - limit) more" : firstItems
    }
}
