import Foundation

/// The sbatch script template `slurm/array.sbatch.template`, with `{{NAME}}` placeholders.
public struct SbatchTemplate: Equatable, Sendable {
    public static let fileName = "array.sbatch.template"
    /// Variable that overrides where the template is searched.
    public static let pathVariable = "ASIB_SBATCH_TEMPLATE"
    /// Placeholders that must each appear exactly once.
    public static let placeholders = [
        "SBATCH_LINES", "SETUP_LINES", "WORKER", "ENDPOINT", "PLAN", "PLAN_SHA256",
        "RUN_KIND", "ARRAY_OFFSET", "SHARDS",
    ]

    public let text: String
    /// File path of the template, for messages.
    public let path: String

    /// Checks that `text` uses each known placeholder exactly once and no other.
    public init(text: String, path: String) throws {
        var counts: [String: Int] = [:]
        for segment in Self.segments(of: text) {
            if case .placeholder(let name) = segment { counts[name, default: 0] += 1 }
        }
        if let unknown = counts.keys.sorted().first(where: { !Self.placeholders.contains($0) }) {
            throw SlurmError.invalidTemplate(
                path: path, reason: "unknown placeholder '{{\(unknown)}}'")
        }
        if let wrong = Self.placeholders.first(where: { counts[$0] != 1 }) {
            throw SlurmError.invalidTemplate(
                path: path,
                reason: "placeholder '{{\(wrong)}}' appears \(counts[wrong] ?? 0) times; "
                    + "it must appear once")
        }
        self.text = text
        self.path = path
    }

    public static func load(from url: URL) throws -> SbatchTemplate {
        guard let data = FileManager.default.contents(atPath: url.path),
            let text = String(data: data, encoding: .utf8)
        else {
            throw SlurmError.invalidTemplate(
                path: url.path, reason: "the file cannot be read as UTF-8")
        }
        return try SbatchTemplate(text: text, path: url.path)
    }

    /// Finds the template: `$ASIB_SBATCH_TEMPLATE`, then `slurm/` in the package folder of a
    /// build (above `.build/release/`, which links to `.build/<target triple>/release/`, and
    /// above the unresolved path too, for a `.build` that links to a build folder elsewhere),
    /// then `slurm/` in the current folder.
    public static func locate(
        environment: [String: String],
        executableURL: URL,
        currentDirectory: URL
    ) throws -> URL {
        if let path = environment[pathVariable], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        let binaryFolder = executableURL.resolvingSymlinksInPath().deletingLastPathComponent()
        let unresolvedFolder = executableURL.deletingLastPathComponent()
        let candidates = [
            binaryFolder.appendingPathComponent("../../slurm/\(fileName)").standardizedFileURL,
            unresolvedFolder.appendingPathComponent("../../slurm/\(fileName)").standardizedFileURL,
            binaryFolder.appendingPathComponent("../../../slurm/\(fileName)").standardizedFileURL,
            binaryFolder.appendingPathComponent("../share/asib-sweep/\(fileName)")
                .standardizedFileURL,
            currentDirectory.appendingPathComponent("slurm/\(fileName)"),
        ]
        let found = candidates.first { FileManager.default.fileExists(atPath: $0.path) }
        if let found {
            return found
        }
        throw SlurmError.templateNotFound(searched: candidates.map(\.path))
    }

    /// Replaces every placeholder in one pass, so a value that itself contains `{{NAME}}` is
    /// written literally. `values` must contain every placeholder.
    func substitute(_ values: [String: String]) -> String {
        var output = ""
        for segment in Self.segments(of: text) {
            switch segment {
            case .literal(let literal): output += literal
            case .placeholder(let name): output += values[name] ?? ""
            }
        }
        return output
    }

    enum Segment: Equatable {
        case literal(String)
        case placeholder(String)
    }

    /// Splits `text` into literal text and `{{NAME}}` placeholders, NAME being upper-case
    /// letters, digits and underscores. Other braces stay literal.
    static func segments(of text: String) -> [Segment] {
        var segments: [Segment] = []
        var rest = Substring(text)
        while let open = rest.range(of: "{{") {
            let afterOpen = rest[open.upperBound...]
            guard let close = afterOpen.range(of: "}}"),
                case let name = afterOpen[..<close.lowerBound],
                !name.isEmpty,
                name.allSatisfy({ $0.isUppercase || $0.isNumber || $0 == "_" })
            else {
                segments.append(.literal(String(rest[..<open.upperBound])))
                rest = afterOpen
                continue
            }
            segments.append(.literal(String(rest[..<open.lowerBound])))
            segments.append(.placeholder(String(name)))
            rest = afterOpen[close.upperBound...]
        }
        segments.append(.literal(String(rest)))
        return segments
    }
}
