import ASIBPlan
import ASIBSupport
import Foundation

/// Options that `plan` and `launch` share: which spec, which config tree, which runs.
struct SweepOptions {
    var specURL: URL
    var configRoot: URL
    var only: [String: [String]]
    var overrides: [String]
    var outDirectory: URL?

    /// Takes the shared options out of `arguments`; the positionals are SPEC then overrides.
    init(arguments: inout CommandLineArguments, subcommand: String) throws {
        var only: [String: [String]] = [:]
        for filter in try arguments.values("--only") {
            let parts = filter.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw UsageError(
                    "invalid --only filter '\(filter)': expected AXIS=VALUE[,VALUE...], "
                        + "for example --only method=ce_only,vanilla_kd"
                )
            }
            only[parts[0], default: []] += parts[1].split(separator: ",").map(String.init)
        }
        self.only = only

        let configs = try arguments.value("--configs")
        outDirectory = try arguments.value("--out").map { URL(fileURLWithPath: $0) }

        var positionals = try arguments.positionals()
        if positionals.first == subcommand {
            positionals.removeFirst()
        }
        guard let spec = positionals.first else {
            throw UsageError("missing SPEC: give a sweep file, for example sweeps/quickstart.yaml")
        }
        specURL = URL(fileURLWithPath: spec).standardizedFileURL
        overrides = Array(positionals.dropFirst())
        for override in overrides where !override.contains("=") && !override.hasPrefix("~") {
            throw UsageError(
                "invalid override '\(override)': expected KEY=VALUE, +KEY=VALUE, ++KEY=VALUE or ~KEY"
            )
        }

        if let configs {
            configRoot = URL(fileURLWithPath: configs).standardizedFileURL
        } else {
            // sweeps/NAME.yaml -> configs/ in the same project folder.
            configRoot = specURL.deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("configs")
        }
        var isDirectory: ObjCBool = false
        let methods = configRoot.appendingPathComponent("method").path
        guard FileManager.default.fileExists(atPath: methods, isDirectory: &isDirectory),
              isDirectory.boolValue
        else {
            throw UsageError(
                "config folder '\(configRoot.path)' has no method/ folder"
                    + (configs == nil ? " (found from the sweep file's location)" : " (from --configs)")
                    + "; give the folder that holds base.yaml and method/ with --configs DIR"
            )
        }
    }

    func makePlan() throws -> Plan {
        try Planner.plan(specURL: specURL, configRoot: configRoot, only: only, extraOverrides: overrides)
    }

    func resultsDirectory(for plan: Plan) -> URL {
        outDirectory ?? URL(fileURLWithPath: "results").appendingPathComponent(plan.sweep)
    }
}
