import ASIBConfig
import Foundation

/// The steps of `Planner.plan` for one spec.
struct PlanBuilder {
    let spec: SweepSpec
    let composer: ConfigComposer
    let extra: [String]

    /// A run before it gets its index.
    private struct Draft {
        let runID: String
        let kind: String
        let method: String
        let rung: String
        let seed: Int
        let hash: String
        let dependsOn: [String]
        let overrides: [String]
    }

    /// Keys that the planner sets per run from the sweep's axes and teacher slots. An extra
    /// override of one of them would give every run, teachers included, the same value while
    /// run ids still name the axis values.
    static let plannedKeys = ["method", "rung", "seed", "model/student", "method_name"]

    func plan(only: [String: [String]]) throws -> Plan {
        try checkNames()
        try checkExtraOverrides()
        let filter = try AxisFilter(only: only, spec: spec)
        let teacherDrafts = try spec.teachers.map(teacherDraft)
        let teacherIDs = teacherDrafts.map(\.runID)

        var students: [Draft] = []
        for method in spec.methods where filter.keeps(method: method) {
            for rung in spec.rungs where filter.keeps(rung: rung) {
                for seed in spec.seeds where filter.keeps(seed: seed) {
                    let draft = try studentDraft(
                        method: method, rung: rung, seed: seed, teachers: teacherIDs
                    )
                    students.append(draft)
                }
            }
        }
        let needed = students.contains { !$0.dependsOn.isEmpty }
        let drafts = (needed ? teacherDrafts : []) + students
        return Plan(sweep: spec.name, runs: try index(drafts))
    }

    private func checkExtraOverrides() throws {
        for text in extra {
            let body = text.drop { $0 == "+" || $0 == "~" }
            let key = body.prefix { $0 != "=" && $0 != "@" }
            if Self.plannedKeys.contains(String(key)) {
                throw PlanError.plannedKeyOverride(text: text, key: String(key))
            }
        }
    }

    private func index(_ drafts: [Draft]) throws -> [PlannedRun] {
        var seen: Set<String> = []
        var runByHash: [String: String] = [:]
        return try drafts.enumerated().map { position, draft in
            guard seen.insert(draft.runID).inserted else {
                throw PlanError.duplicateRunID(runID: draft.runID)
            }
            // Two runs that train the same config would count one result twice in table.csv.
            if let first = runByHash[draft.hash] {
                throw PlanError.duplicateConfig(first: first, second: draft.runID, hash: draft.hash)
            }
            runByHash[draft.hash] = draft.runID
            return PlannedRun(
                index: position, runID: draft.runID, kind: draft.kind, method: draft.method,
                rung: draft.rung, seed: draft.seed, configSHA256: draft.hash,
                dependsOn: draft.dependsOn, overrides: draft.overrides
            )
        }
    }

    // MARK: - Runs

    private func teacherDraft(_ teacher: SweepSpec.Teacher) throws -> Draft {
        let own = ["method=teacher", "model/student=\(teacher.model)", "seed=\(teacher.seed)"]
        let overrides = own + spec.overrides + spec.teacherOverrides + teacher.overrides + extra
        let composed = try compose(overrides)
        return Draft(
            runID: "\(teacher.slot)-\(teacher.model)-s\(teacher.seed)", kind: "teacher",
            method: "teacher", rung: SweepSpec.noRung, seed: teacher.seed,
            hash: composed.lockHash, dependsOn: [], overrides: overrides
        )
    }

    private func studentDraft(
        method: String,
        rung: String,
        seed: Int,
        teachers: [String]
    ) throws -> Draft {
        var own = ["method=\(method)"]
        if rung != SweepSpec.noRung {
            own.append("rung=\(rung)")
        }
        if let model = spec.studentModel {
            own.append("model/student=\(model)")
        }
        own.append("seed=\(seed)")
        let methodOverrides = spec.methodOverrides[method] ?? []
        let rest = spec.overrides + spec.studentOverrides + methodOverrides + extra

        var overrides = own + rest
        var dependsOn: [String] = []
        let kdAlpha = try compose(overrides).value.double("kd_alpha", default: 0)
        if kdAlpha > 0 {
            try requireTeachers(method: method, kdAlpha: kdAlpha)
            let selections = spec.teachers.map { "model/teacher@\($0.slot)=\($0.model)" }
            overrides = own + selections + rest
            dependsOn = teachers
        }
        let rungPart = rung == SweepSpec.noRung ? "" : "-\(rung)"
        return Draft(
            runID: "\(method)\(rungPart)-s\(seed)", kind: "student", method: method, rung: rung,
            seed: seed, hash: try compose(overrides).lockHash, dependsOn: dependsOn,
            overrides: overrides
        )
    }

    private func requireTeachers(method: String, kdAlpha: Double) throws {
        let defined = Set(spec.teachers.map(\.slot))
        let missing = SweepSpec.teacherSlots.filter { !defined.contains($0) }
        guard missing.isEmpty else {
            throw PlanError.missingTeachers(method: method, kdAlpha: kdAlpha, needed: missing)
        }
    }

    /// Composes a run's overrides. Every list ends with `extra`, so those come from the
    /// command line and the rest from the sweep file, which error messages name.
    private func compose(_ overrides: [String]) throws -> ComposedConfig {
        let fromSpec = overrides.dropLast(extra.count)
        let parsed = try composer.parseOverrides(Array(fromSpec), source: "sweep \(spec.file)")
            + composer.parseOverrides(Array(overrides.suffix(extra.count)), source: "command line")
        return try composer.compose(primary: spec.config, overrides: parsed)
    }

    // MARK: - Checks

    /// Rejects methods and rungs that have no file, before any composition.
    private func checkNames() throws {
        let methods = composer.options(of: "method")
        for method in spec.methods where !methods.contains(method) {
            throw PlanError.unknownMethod(name: method, place: spec.file, known: methods)
        }
        for method in spec.methodOverrides.keys.sorted() where !spec.methods.contains(method) {
            throw PlanError.invalidSpec(
                place: spec.file, key: "students.method_overrides.\(method)",
                reason: "'\(method)' is not in the method axis "
                    + "(\(spec.methods.joined(separator: ", ")))"
            )
        }
        let rungs = composer.options(of: "rung")
        for rung in spec.rungs where rung != SweepSpec.noRung && !rungs.contains(rung) {
            throw PlanError.unknownRung(name: rung, place: spec.file, known: rungs)
        }
    }
}
