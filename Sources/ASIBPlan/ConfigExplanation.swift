import ASIBConfig
import Foundation

/// Every key of one planned run's effective config with its value and the file position or
/// override that set it, as `asib-sweep plan --explain INDEX` prints it.
public struct ConfigExplanation {
    public let run: PlannedRun
    public let composed: ComposedConfig

    /// Recomposes `run` with the origins of its overrides: the last `extraOverrides.count`
    /// overrides came from the command line, every other one from the sweep file.
    public init(
        run: PlannedRun,
        spec: SweepSpec,
        configRoot: URL,
        extraOverrides: [String]
    ) throws {
        let composer = ConfigComposer(configRoot: configRoot)
        let fromSpec = run.overrides.count - extraOverrides.count
        var overrides: [ConfigOverride] = []
        for (position, text) in run.overrides.enumerated() {
            let source = position < fromSpec ? "sweep \(spec.file)" : "command line"
            overrides += try composer.parseOverrides([text], source: source)
        }
        self.run = run
        composed = try composer.compose(primary: spec.config, overrides: overrides)
    }

    /// Renders a title, then one line per leaf in key order: key, value, origin. Keys that the
    /// config lock drops are marked, and paths under `directory` are shown relative to it.
    public func text(relativeTo directory: String) -> String {
        let leaves = composed.value.flattened().filter { !$0.key.isEmpty }
        let keys = leaves.keys.sorted {
            $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) { $0.value < $1.value }
        }
        let prefix = directory.hasSuffix("/") ? directory : directory + "/"
        var rows = [["KEY", "VALUE", "SET BY"]]
        for key in keys {
            var origin = composed.origins[key]?.description ?? "-"
            origin = origin.replacingOccurrences(of: prefix, with: "")
            let topLevel = ConfigValue.components(of: key)[0]
            if ConfigLock.isDropped(topLevel) {
                origin += "  (not in the lock)"
            }
            rows.append([key, leaves[key]!.displayText, origin])
        }
        let keyWidth = rows.map { $0[0].count }.max() ?? 0
        let valueWidth = min(rows.map { $0[1].count }.max() ?? 0, 40)
        let lines = rows.map { row in
            row[0].padding(toLength: keyWidth, withPad: " ", startingAt: 0) + "  "
                + padded(row[1], to: valueWidth) + "  " + row[2]
        }
        let title = "run \(run.index) \(run.runID) (\(run.kind), method \(run.method), "
            + "rung \(run.rung), seed \(run.seed)), config_sha256 \(run.configSHA256)"
        return ([title] + lines).joined(separator: "\n") + "\n"
    }

    /// Pads `text` to `width`; a longer value keeps its full text.
    private func padded(_ text: String, to width: Int) -> String {
        text.count >= width ? text : text.padding(toLength: width, withPad: " ", startingAt: 0)
    }
}
