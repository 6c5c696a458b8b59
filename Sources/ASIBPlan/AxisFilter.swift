/// The `--only AXIS=VALUE,...` filters of a plan, checked against the sweep file's axes.
struct AxisFilter {
    private var methods: Set<String>?
    private var rungs: Set<String>?
    private var seeds: Set<Int>?

    static let axes = ["method", "rung", "seed"]

    init(only: [String: [String]], spec: SweepSpec) throws {
        for (axis, values) in only.sorted(by: { $0.key < $1.key }) {
            guard !values.isEmpty else {
                throw PlanError.invalidOnlyFilter(
                    axis: axis, values: values, reason: "no values given"
                )
            }
            switch axis {
            case "method":
                methods = try Self.check(values, axis: axis, allowed: spec.methods)
            case "rung":
                rungs = try Self.check(values, axis: axis, allowed: spec.rungs)
            case "seed":
                let allowed = spec.seeds.map(String.init)
                let seedTexts = try Self.check(values, axis: axis, allowed: allowed)
                seeds = Set(seedTexts.compactMap { Int($0) })
            default:
                throw PlanError.invalidOnlyFilter(
                    axis: axis, values: values,
                    reason: "unknown axis; filter by \(Self.axes.joined(separator: ", "))"
                )
            }
        }
    }

    private static func check(
        _ values: [String],
        axis: String,
        allowed: [String]
    ) throws -> Set<String> {
        let list = allowed.joined(separator: ", ")
        for value in values where !allowed.contains(value) {
            throw PlanError.invalidOnlyFilter(
                axis: axis, values: values,
                reason: "'\(value)' is not in the sweep file's \(axis) axis (\(list))"
            )
        }
        return Set(values)
    }

    func keeps(method: String) -> Bool { methods?.contains(method) ?? true }
    func keeps(rung: String) -> Bool { rungs?.contains(rung) ?? true }
    func keeps(seed: Int) -> Bool { seeds?.contains(seed) ?? true }
}
