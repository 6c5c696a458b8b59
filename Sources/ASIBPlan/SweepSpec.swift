import ASIBConfig
import Foundation

/// A sweep file (`sweeps/NAME.yaml`): which teachers to train and which student grid to run.
///
///     sweep: quickstart                 # name of the sweep and of its results folder
///     config: base                      # primary config under the config root (default base)
///     overrides: [dataset.train_limit=3000]   # every run, teachers and students
///     teachers:                         # slots teacher1 and teacher2; method `teacher`
///       teacher1: {model: resnet20, seed: 101, overrides: [student_epochs=3]}
///     teacher_overrides: [student_epochs=3]   # every teacher run
///     students:
///       model: resnet8                  # optional; default is the primary config's
///       axes: {method: [ce_only, vanilla_kd], rung: [none, L2], seed: [1, 2]}
///       overrides: [student_epochs=2]   # every student run
///       method_overrides: {vanilla_kd: [kd_teacher_index=1]}
///
/// An axis is a list or a comma-separated scalar: `seed: 1, 2` is the sweep `seed: [1, 2]`.
public struct SweepSpec: Equatable, Sendable {
    public struct Teacher: Equatable, Sendable {
        public let slot: String
        public let model: String
        public let seed: Int
        public let overrides: [String]
    }

    /// The sweep name.
    public let name: String
    /// The primary config name under the config root.
    public let config: String
    public let overrides: [String]
    /// Teachers in slot order (teacher1, teacher2).
    public let teachers: [Teacher]
    public let teacherOverrides: [String]
    public let studentModel: String?
    public let methods: [String]
    /// Rung names; `none` means no rung file.
    public let rungs: [String]
    public let seeds: [Int]
    public let studentOverrides: [String]
    public let methodOverrides: [String: [String]]
    /// The spec file path, for messages and override sources.
    public let file: String

    /// The teacher slots a distillation run needs, in order.
    public static let teacherSlots = ["teacher1", "teacher2"]
    /// The value of the rung axis that selects no rung file.
    public static let noRung = "none"
}

extension SweepSpec {
    /// Loads and checks a sweep file; a missing file lists the sweep files beside it.
    public static func load(from url: URL) throws -> SweepSpec {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw PlanError.specNotFound(path: url.path, available: sweepFiles(near: url))
        }
        let loaded = try YAMLLoader.load(file: url)
        return try SpecReader(loaded: loaded).spec()
    }

    private static func sweepFiles(near url: URL) -> [String] {
        let folder = url.deletingLastPathComponent()
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
            .map { folder.appendingPathComponent($0).path }
    }
}

/// Reads the keys of a loaded sweep file, rejecting unknown keys and wrong types.
struct SpecReader {
    let loaded: LoadedConfig

    static let topKeys = [
        "sweep", "config", "overrides", "teachers", "teacher_overrides", "students",
    ]
    static let teacherKeys = ["model", "seed", "overrides"]
    static let studentKeys = ["model", "axes", "overrides", "method_overrides"]
    static let axisKeys = ["method", "rung", "seed"]

    func spec() throws -> SweepSpec {
        let root = loaded.value.isNull ? ConfigValue.map([:]) : loaded.value
        try checkKeys(of: root, at: "", allowed: Self.topKeys)
        let students = try map(root, "students") ?? [:]
        try checkKeys(of: .map(students), at: "students", allowed: Self.studentKeys)
        let axes = try map(root, "students.axes") ?? [:]
        try checkKeys(of: .map(axes), at: "students.axes", allowed: Self.axisKeys)

        return SweepSpec(
            name: try sweepName(root),
            config: try string(root, "config") ?? "base",
            overrides: try strings(root, "overrides"),
            teachers: try teachers(root),
            teacherOverrides: try strings(root, "teacher_overrides"),
            studentModel: try string(root, "students.model"),
            methods: try axis(root, "method") { $0.stringValue },
            rungs: try axis(root, "rung", default: [SweepSpec.noRung]) { $0.stringValue },
            seeds: try axis(root, "seed") { $0.intValue },
            studentOverrides: try strings(root, "students.overrides"),
            methodOverrides: try methodOverrides(root),
            file: loaded.file
        )
    }

    private func sweepName(_ root: ConfigValue) throws -> String {
        guard let name = try string(root, "sweep") else {
            throw PlanError.invalidSpec(
                place: loaded.file, key: "sweep",
                reason: "missing; name the sweep, e.g. 'sweep: quickstart'"
            )
        }
        let allowed = name.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }
        guard !name.isEmpty, allowed else {
            throw invalid("sweep", "'\(name)' must contain only letters, digits, '_' and '-'")
        }
        return name
    }

    private func teachers(_ root: ConfigValue) throws -> [SweepSpec.Teacher] {
        let slots = try map(root, "teachers") ?? [:]
        try checkKeys(of: .map(slots), at: "teachers", allowed: SweepSpec.teacherSlots)
        return try SweepSpec.teacherSlots.filter { slots[$0] != nil }.map { slot in
            let path = "teachers.\(slot)"
            _ = try map(root, path)
            try checkKeys(of: root[path: path]!, at: path, allowed: Self.teacherKeys)
            guard let model = try string(root, "\(path).model") else {
                throw invalid(path, "missing 'model', e.g. {model: resnet20, seed: 101}")
            }
            guard let seed = root[path: "\(path).seed"]?.intValue else {
                throw invalid("\(path).seed", "expected an integer seed, e.g. seed: 101")
            }
            return SweepSpec.Teacher(
                slot: slot, model: model, seed: seed,
                overrides: try strings(root, "\(path).overrides")
            )
        }
    }

    private func methodOverrides(_ root: ConfigValue) throws -> [String: [String]] {
        let entries = try map(root, "students.method_overrides") ?? [:]
        var result: [String: [String]] = [:]
        for key in entries.keys {
            result[key] = try strings(root, "students.method_overrides.\(key)")
        }
        return result
    }

    private func axis<T: Hashable>(
        _ root: ConfigValue,
        _ name: String,
        default fallback: [T]? = nil,
        convert: (ConfigValue) -> T?
    ) throws -> [T] {
        let path = "students.axes.\(name)"
        guard let value = root[path: path] else {
            if let fallback { return fallback }
            throw invalid(path, "missing; list the values, e.g. \(name): [...]")
        }
        let items = try value.listValue ?? commaSeparated(value, path: path)
        guard !items.isEmpty else { throw PlanError.emptyAxis(axis: name, place: place(path)) }
        var seen: Set<T> = []
        return try items.map { item in
            guard let converted = convert(item) else {
                throw invalid(path, "'\(item.displayText)' is a \(item.typeName)")
            }
            guard seen.insert(converted).inserted else {
                throw PlanError.duplicateAxisValue(
                    axis: name, value: item.displayText, place: place(path)
                )
            }
            return converted
        }
    }

    /// Splits a scalar axis value such as `ce_only,vanilla_kd` or `1, 2` into one value per
    /// comma, each typed as a YAML scalar, because a comma-separated value on an axis means a
    /// sweep over several values.
    private func commaSeparated(_ value: ConfigValue, path: String) throws -> [ConfigValue] {
        guard let text = value.stringValue, text.contains(",") else { return [value] }
        return try text.split(separator: ",", omittingEmptySubsequences: false).map { part in
            let item = part.trimmingCharacters(in: .whitespaces)
            guard !item.isEmpty else {
                throw invalid(path, "'\(text)' has an empty value between commas")
            }
            return try YAMLLoader.parseValue(item, origin: place(path))
        }
    }

    // MARK: - Typed access

    private func map(_ root: ConfigValue, _ path: String) throws -> [String: ConfigValue]? {
        guard let value = root[path: path], !value.isNull else { return nil }
        guard let map = value.mapValue else {
            throw invalid(path, "expected a map, got \(value.typeName)")
        }
        return map
    }

    private func string(_ root: ConfigValue, _ path: String) throws -> String? {
        guard let value = root[path: path], !value.isNull else { return nil }
        guard let text = value.stringValue else {
            throw invalid(path, "expected a string, got \(value.typeName) '\(value.displayText)'")
        }
        return text
    }

    private func strings(_ root: ConfigValue, _ path: String) throws -> [String] {
        guard let value = root[path: path], !value.isNull else { return [] }
        guard let items = value.listValue, items.allSatisfy({ $0.stringValue != nil }) else {
            throw invalid(path, "expected a list of override strings such as [student_epochs=2]")
        }
        return items.compactMap(\.stringValue)
    }

    private func checkKeys(of value: ConfigValue, at path: String, allowed: [String]) throws {
        guard let map = value.mapValue else {
            let name = path.isEmpty ? "(top level)" : path
            throw invalid(name, "expected a map, got \(value.typeName)")
        }
        for key in map.keys.sorted() where !allowed.contains(key) {
            let full = path.isEmpty ? key : "\(path).\(key)"
            throw PlanError.unknownSpecKey(
                place: place(full), key: full,
                suggestion: EditDistance.closest(to: key, in: allowed), allowed: allowed
            )
        }
    }

    private func invalid(_ path: String, _ reason: String) -> PlanError {
        PlanError.invalidSpec(place: place(path), key: path, reason: reason)
    }

    /// `file:line:column` of a key, or the file name when the key has no position.
    func place(_ path: String) -> String {
        loaded.positions[path]?.description ?? loaded.file
    }
}
