import ASIBConfig
import Foundation

/// Expands a sweep spec into a plan and recomposes the config of a planned run.
///
/// Plan order: teachers first (slot order), then students in axis order (method, rung,
/// seed), with the last axis varying fastest. A student run whose composed config has
/// `kd_alpha > 0` depends on all teacher runs and gets `teacher1.name` / `teacher2.name`
/// through `model/teacher@teacherN=MODEL` selections.
///
/// A run's overrides are, in order: the planner's own selections (method, rung, model,
/// seed, teachers), the sweep file's `overrides`, the teacher or student overrides
/// (`teacher_overrides` and the slot's own, or `students.overrides` and `method_overrides`),
/// then `extraOverrides`. Composing the primary config with exactly this list gives the
/// run's config hash.
public enum Planner {
    /// Plans a sweep file. `only` keeps the listed values of the axes method, rung and seed
    /// (`--only method=ce_only,vanilla_kd`); teachers that no remaining student needs are
    /// dropped. `extraOverrides` apply to every run after the sweep file's own.
    public static func plan(
        specURL: URL,
        configRoot: URL,
        only: [String: [String]] = [:],
        extraOverrides: [String] = []
    ) throws -> Plan {
        let spec = try SweepSpec.load(from: specURL)
        let builder = PlanBuilder(
            spec: spec, composer: ConfigComposer(configRoot: configRoot), extra: extraOverrides
        )
        return try builder.plan(only: only)
    }

    /// Recomposes the config of a planned run from its overrides.
    public static func effectiveConfig(
        for run: PlannedRun,
        configRoot: URL,
        primary: String = "base"
    ) throws -> ComposedConfig {
        try recompose(configRoot: configRoot, primary: primary, overrides: run.overrides)
    }

    /// Composes `primary` with `overrides`, exactly as planning did.
    public static func recompose(
        configRoot: URL,
        primary: String = "base",
        overrides: [String]
    ) throws -> ComposedConfig {
        try ConfigComposer(configRoot: configRoot)
            .compose(primary: primary, overrides: overrides, source: "planned run")
    }
}
