import ASIBConfig
import Foundation

/// The index map of a sweep: every run in order, with its config hash and dependencies.
///
/// plan.json is the canonical JSON (sorted keys, see `CanonicalJSON`) of
/// `{"sweep", "plan_sha256", "runs"}` plus a newline, so the same plan is the same bytes.
/// `plan_sha256` is the SHA-256 of the canonical JSON of the `runs` array.
public struct Plan: Equatable, Sendable {
    public let sweep: String
    public let planSHA256: String
    public let runs: [PlannedRun]

    public init(sweep: String, runs: [PlannedRun]) {
        self.sweep = sweep
        self.runs = runs
        planSHA256 = Self.hash(of: runs)
    }

    /// Loads plan.json, checking that its runs still hash to its `plan_sha256`.
    public init(jsonData: Data) throws {
        let text = String(decoding: jsonData, as: UTF8.self)
        let value: ConfigValue
        do {
            value = try YAMLLoader.parse(text: text, origin: "plan.json").value
        } catch let error as ConfigError {
            throw PlanError.invalidPlanFile(reason: error.description)
        }
        guard let sweep = value[path: "sweep"]?.stringValue,
            let stored = value[path: "plan_sha256"]?.stringValue,
            let items = value[path: "runs"]?.listValue
        else {
            throw PlanError.invalidPlanFile(reason: "expected keys sweep, plan_sha256 and runs")
        }
        let runs = try items.enumerated().map { try PlannedRun(jsonValue: $1, position: $0) }
        self.init(sweep: sweep, runs: runs)
        guard planSHA256 == stored else {
            throw PlanError.planHashMismatch(stored: stored, computed: planSHA256)
        }
    }

    /// SHA-256 of the canonical JSON of the runs array.
    public static func hash(of runs: [PlannedRun]) -> String {
        SHA256.hex(of: CanonicalJSON.string(.list(runs.map(\.jsonValue))))
    }

    /// plan.json: one canonical JSON object and a newline.
    public func jsonText() -> String {
        let object = ConfigValue.map([
            "sweep": .string(sweep),
            "plan_sha256": .string(planSHA256),
            "runs": .list(runs.map(\.jsonValue)),
        ])
        return CanonicalJSON.string(object) + "\n"
    }

    /// Renders a title, a header line and one aligned line per run with the plan.json fields.
    public func textTable() -> String {
        let header = ["index", "run_id", "kind", "method", "rung", "seed", "config_sha256",
                      "depends_on", "overrides"]
        let rows = runs.map { run in
            [
                String(run.index), run.runID, run.kind, run.method, run.rung, String(run.seed),
                run.configSHA256,
                run.dependsOn.isEmpty ? "-" : run.dependsOn.joined(separator: ","),
                run.overrides.joined(separator: " "),
            ]
        }
        let widths = header.indices.map { column in
            ([header] + rows).map { $0[column].count }.max() ?? 0
        }
        let lines = ([header] + rows).map { cells in
            cells.enumerated().map { column, cell in
                column == cells.count - 1
                    ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        let title = "sweep \(sweep): \(runs.count) runs, plan_sha256 \(planSHA256)"
        return ([title] + lines).joined(separator: "\n") + "\n"
    }
}
