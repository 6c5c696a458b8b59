/// Builds a `ConfigValue` tree from libyaml events, recording key positions.
struct YAMLTreeBuilder {
    let reader: YAMLEventReader
    let file: String
    var positions: [String: SourcePosition] = [:]
    private var anchors: [String: ConfigValue] = [:]

    init(reader: YAMLEventReader, file: String) {
        self.reader = reader
        self.file = file
    }

    /// Reads the whole stream: nothing (null) or exactly one document.
    mutating func document() throws -> ConfigValue {
        _ = try reader.next()  // stream start
        let first = try reader.next()
        guard first.kind == .documentStart else { return .null }

        let value = try node(try reader.next(), path: "")
        _ = try reader.next()  // document end
        let after = try reader.next()
        guard after.kind == .streamEnd else {
            throw ConfigError.unsupportedYAML(
                position: position(of: after),
                feature: "more than one document; keep one document per file"
            )
        }
        return value
    }

    private mutating func node(_ event: YAMLEvent, path: String) throws -> ConfigValue {
        let value: ConfigValue
        switch event.kind {
        case .scalar(let text, let plain, let tag):
            value = try scalar(text, plain: plain, tag: tag, event: event)
        case .alias(let name):
            guard let target = anchors[name] else {
                throw ConfigError.unsupportedYAML(
                    position: position(of: event), feature: "alias '*\(name)' to an unknown anchor"
                )
            }
            value = target
        case .sequenceStart(let tag):
            try rejectTag(tag, event: event)
            value = try sequence()
        case .mappingStart(let tag):
            try rejectTag(tag, event: event)
            value = try mapping(path: path)
        default:
            throw ConfigError.unsupportedYAML(
                position: position(of: event), feature: "unexpected event"
            )
        }
        if let anchor = event.anchor {
            anchors[anchor] = value
        }
        return value
    }

    private func scalar(
        _ text: String,
        plain: Bool,
        tag: String?,
        event: YAMLEvent
    ) throws -> ConfigValue {
        guard let tag, tag != "!" else {
            return plain ? YAMLScalar.resolve(plain: text) : .string(text)
        }
        guard let value = YAMLScalar.resolve(text: text, tag: tag) else {
            throw ConfigError.unsupportedYAML(
                position: position(of: event),
                feature: "tag '\(tag)' on value '\(text)'; only !!str, !!int, !!float, !!bool "
                    + "and !!null are allowed"
            )
        }
        return value
    }

    private func rejectTag(_ tag: String?, event: YAMLEvent) throws {
        let allowed = ["tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"]
        guard let tag, !allowed.contains(tag) else { return }
        throw ConfigError.unsupportedYAML(position: position(of: event), feature: "tag '\(tag)'")
    }

    private mutating func sequence() throws -> ConfigValue {
        var items: [ConfigValue] = []
        while true {
            let event = try reader.next()
            if event.kind == .sequenceEnd { return .list(items) }
            items.append(try node(event, path: ""))
        }
    }

    private mutating func mapping(path: String) throws -> ConfigValue {
        var map: [String: ConfigValue] = [:]
        var keyPositions: [String: SourcePosition] = [:]
        while true {
            let keyEvent = try reader.next()
            if keyEvent.kind == .mappingEnd { return .map(map) }
            let key = try mapKey(keyEvent)
            let keyPosition = position(of: keyEvent)
            if let first = keyPositions[key] {
                throw ConfigError.duplicateKey(key: key, first: first, second: keyPosition)
            }
            keyPositions[key] = keyPosition

            let childPath = path.isEmpty ? key : "\(path).\(key)"
            positions[childPath] = keyPosition
            map[key] = try node(try reader.next(), path: childPath)
        }
    }

    /// A map key must be a scalar; it is used as text whatever its type (`1: x` has key "1").
    private func mapKey(_ event: YAMLEvent) throws -> String {
        guard case .scalar(let text, let plain, _) = event.kind else {
            throw ConfigError.unsupportedYAML(
                position: position(of: event), feature: "a list or map used as a map key"
            )
        }
        if plain && text == "<<" {
            throw ConfigError.unsupportedYAML(
                position: position(of: event), feature: "merge key '<<'; repeat the keys instead"
            )
        }
        return text
    }

    private func position(of event: YAMLEvent) -> SourcePosition {
        SourcePosition(file: file, line: event.line, column: event.column)
    }
}
