/// The origin of a config value: a file position or an override.
public enum ConfigOrigin: Equatable, Hashable, Sendable, CustomStringConvertible {
    case file(SourcePosition)
    /// An override's text and where the override itself was written (command line, sweep file).
    case override(text: String, source: String)

    public var description: String {
        switch self {
        case .file(let position):
            return position.description
        case .override(let text, let source):
            return "override '\(text)' (\(source))"
        }
    }
}
