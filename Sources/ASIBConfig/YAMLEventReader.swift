import CYAML

/// One libyaml parser event, copied out of the C structure.
struct YAMLEvent {
    enum Kind: Equatable {
        case streamStart, streamEnd, documentStart, documentEnd
        case alias(name: String)
        /// `plain` is true for unquoted scalars, the only ones that get a resolved type.
        case scalar(text: String, plain: Bool, tag: String?)
        case sequenceStart(tag: String?)
        case sequenceEnd
        case mappingStart(tag: String?)
        case mappingEnd
    }

    let kind: Kind
    let anchor: String?
    /// 1-based line and column of the event's first character.
    let line: Int
    let column: Int
}

/// A libyaml event parser over an in-memory text, closed in `deinit`.
final class YAMLEventReader {
    private let parser: UnsafeMutablePointer<yaml_parser_t>
    private let input: UnsafeMutableBufferPointer<UInt8>
    private let file: String

    init(text: String, file: String) {
        self.file = file
        input = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(1, text.utf8.count))
        _ = input.initialize(from: text.utf8)
        parser = UnsafeMutablePointer<yaml_parser_t>.allocate(capacity: 1)
        let status = yaml_parser_initialize(parser)
        precondition(status == 1, "yaml_parser_initialize failed: out of memory")
        yaml_parser_set_input_string(parser, input.baseAddress, text.utf8.count)
    }

    deinit {
        yaml_parser_delete(parser)
        parser.deallocate()
        input.deallocate()
    }

    /// Parses the next event; a syntax error names the file, line and column libyaml reports.
    func next() throws -> YAMLEvent {
        var event = yaml_event_t()
        guard yaml_parser_parse(parser, &event) == 1 else {
            throw syntaxError()
        }
        defer { yaml_event_delete(&event) }
        return YAMLEvent(
            kind: Self.kind(of: event),
            anchor: Self.anchor(of: event),
            line: Int(event.start_mark.line) + 1,
            column: Int(event.start_mark.column) + 1
        )
    }

    private func syntaxError() -> ConfigError {
        let state = parser.pointee
        let problem = state.problem.map { String(cString: $0) } ?? "unknown libyaml error"
        let context = state.context.map { String(cString: $0) }
        // libyaml names the construct it was reading and where it began, e.g. an unclosed
        // flow sequence, which is usually the place to fix.
        let text = context.map {
            "\(problem) \($0) started at line \(state.context_mark.line + 1), "
                + "column \(state.context_mark.column + 1)"
        } ?? problem
        return ConfigError.yamlSyntax(
            file: file,
            line: Int(state.problem_mark.line) + 1,
            column: Int(state.problem_mark.column) + 1,
            problem: text
        )
    }

    private static func kind(of event: yaml_event_t) -> YAMLEvent.Kind {
        switch event.type {
        case YAML_STREAM_START_EVENT: return .streamStart
        case YAML_DOCUMENT_START_EVENT: return .documentStart
        case YAML_DOCUMENT_END_EVENT: return .documentEnd
        case YAML_ALIAS_EVENT: return .alias(name: text(event.data.alias.anchor) ?? "")
        case YAML_SCALAR_EVENT: return scalarKind(of: event)
        case YAML_SEQUENCE_START_EVENT:
            return .sequenceStart(tag: text(event.data.sequence_start.tag))
        case YAML_SEQUENCE_END_EVENT: return .sequenceEnd
        case YAML_MAPPING_START_EVENT: return .mappingStart(tag: text(event.data.mapping_start.tag))
        case YAML_MAPPING_END_EVENT: return .mappingEnd
        default: return .streamEnd
        }
    }

    private static func scalarKind(of event: yaml_event_t) -> YAMLEvent.Kind {
        let scalar = event.data.scalar
        let bytes = UnsafeBufferPointer(start: scalar.value, count: scalar.length)
        return .scalar(
            text: String(decoding: bytes, as: UTF8.self),
            plain: scalar.style == YAML_PLAIN_SCALAR_STYLE,
            tag: text(scalar.tag)
        )
    }

    private static func anchor(of event: yaml_event_t) -> String? {
        switch event.type {
        case YAML_SCALAR_EVENT: return text(event.data.scalar.anchor)
        case YAML_SEQUENCE_START_EVENT: return text(event.data.sequence_start.anchor)
        case YAML_MAPPING_START_EVENT: return text(event.data.mapping_start.anchor)
        default: return nil
        }
    }

    private static func text(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        pointer.map { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
    }
}
