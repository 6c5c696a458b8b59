import ASIBConfig
import ASIBPlan
import Foundation
import Testing

/// The repository root, found from this file's path (Tests/ASIBConfigTests/PlanTests.swift).
let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let configRoot = repositoryRoot.appendingPathComponent("configs")
let smokeSpec = repositoryRoot.appendingPathComponent("sweeps/smoke.yaml")
let quickstartSpec = repositoryRoot.appendingPathComponent("sweeps/quickstart.yaml")

/// Writes a sweep file into a fresh temporary `sweeps/` folder.
func temporarySpec(_ text: String, name: String = "test.yaml") throws -> URL {
    let folder = FileManager.default.temporaryDirectory
        .appendingPathComponent("asib-plan-\(UUID().uuidString)/sweeps")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let url = folder.appendingPathComponent(name)
    try text.write(to: url, atomically: true, encoding: .utf8)
    return url
}

/// Returns the message of the error that `body` throws, or nil when it throws none.
func errorMessage(_ body: () throws -> Void) -> String? {
    do {
        try body()
        return nil
    } catch {
        return "\(error)"
    }
}

struct PlanTests {
    static let smokeIDs = [
        "teacher1-resnet8-s101", "teacher2-resnet8-s102", "ce_only-s1", "ce_only-s2",
        "vanilla_kd-s1", "vanilla_kd-s2", "avg_kd-s1", "avg_kd-s2",
    ]

    @Test func smokePlanIsByteIdenticalTwice() throws {
        let first = try Planner.plan(specURL: smokeSpec, configRoot: configRoot)
        let second = try Planner.plan(specURL: smokeSpec, configRoot: configRoot)
        #expect(first.jsonText() == second.jsonText())
    }

    @Test func smokePlanOrdersTeachersThenAxes() throws {
        let plan = try Planner.plan(specURL: smokeSpec, configRoot: configRoot)
        #expect(plan.runs.map(\.runID) == Self.smokeIDs)
        #expect(plan.runs.map(\.index) == Array(0..<8))
        #expect(plan.sweep == "smoke")
    }

    @Test func distillationRunsDependOnTeachers() throws {
        let plan = try Planner.plan(specURL: smokeSpec, configRoot: configRoot)
        let teachers = ["teacher1-resnet8-s101", "teacher2-resnet8-s102"]
        #expect(plan.runs[2].dependsOn.isEmpty)
        #expect(plan.runs[4].dependsOn == teachers)
        #expect(plan.runs[7].dependsOn == teachers)
    }

    @Test func everyRunRecomposesToItsHash() throws {
        let plan = try Planner.plan(specURL: quickstartSpec, configRoot: configRoot)
        for run in plan.runs {
            let composed = try Planner.effectiveConfig(for: run, configRoot: configRoot)
            #expect(composed.lockHash == run.configSHA256, "run \(run.runID)")
        }
    }

    @Test func seedsGiveDistinctHashes() throws {
        let plan = try Planner.plan(specURL: smokeSpec, configRoot: configRoot)
        #expect(Set(plan.runs.map(\.configSHA256)).count == plan.runs.count)
    }

    @Test func teacherRunTrainsTeacherModel() throws {
        let plan = try Planner.plan(specURL: quickstartSpec, configRoot: configRoot)
        let config = try Planner.effectiveConfig(for: plan.runs[0], configRoot: configRoot).value
        #expect(plan.runs[0].runID == "teacher1-resnet20-s101")
        #expect(plan.runs[0].kind == "teacher")
        #expect(config[path: "model.student.name"] == .string("resnet20"))
        #expect(config[path: "method_name"] == .string("teacher"))
        #expect(config[path: "student_epochs"] == .int(3))
        #expect(config[path: "seed"] == .int(101))
        #expect(config[path: "dataset.train_limit"] == .int(3000))
    }

    @Test func studentRunGetsTeacherNames() throws {
        let plan = try Planner.plan(specURL: quickstartSpec, configRoot: configRoot)
        let run = try #require(plan.runs.first { $0.runID == "vanilla_kd-s2" })
        let config = try Planner.effectiveConfig(for: run, configRoot: configRoot).value
        #expect(config[path: "teacher1.name"] == .string("resnet20"))
        #expect(config[path: "teacher2.name"] == .string("resnet14"))
        #expect(config[path: "kd_target"] == .string("teacher"))
        #expect(config[path: "student_epochs"] == .int(2))
        #expect(config[path: "model.student.name"] == .string("resnet8"))
    }

    @Test func baselineRunHasNoTeacherNames() throws {
        let plan = try Planner.plan(specURL: quickstartSpec, configRoot: configRoot)
        let run = try #require(plan.runs.first { $0.runID == "ce_only-s1" })
        let config = try Planner.effectiveConfig(for: run, configRoot: configRoot).value
        #expect(config[path: "teacher1"] == nil)
    }

    @Test func planJSONHasFixedKeys() throws {
        let plan = try Planner.plan(specURL: smokeSpec, configRoot: configRoot)
        let value = try YAMLLoader.parse(text: plan.jsonText(), origin: "plan.json").value
        #expect(Set(value.mapValue?.keys ?? [:].keys) == ["sweep", "plan_sha256", "runs"])
        let runKeys: Set<String> = [
            "index", "run_id", "kind", "method", "rung", "seed", "config_sha256", "depends_on",
            "overrides",
        ]
        #expect(Set(value[path: "runs"]?.listValue?.first?.mapValue?.keys ?? [:].keys) == runKeys)
    }

    @Test func planHashIsHashOfRunsArray() throws {
        let plan = try Planner.plan(specURL: smokeSpec, configRoot: configRoot)
        let value = try YAMLLoader.parse(text: plan.jsonText(), origin: "plan.json").value
        let runs = try #require(value[path: "runs"])
        #expect(plan.planSHA256 == SHA256.hex(of: CanonicalJSON.string(runs)))
    }

    @Test func planJSONLoadsBack() throws {
        let plan = try Planner.plan(specURL: smokeSpec, configRoot: configRoot)
        #expect(try Plan(jsonData: Data(plan.jsonText().utf8)) == plan)
    }

    @Test func editedPlanJSONIsRejected() throws {
        let plan = try Planner.plan(specURL: smokeSpec, configRoot: configRoot)
        let edited = plan.jsonText().replacingOccurrences(of: "\"seed\": 2", with: "\"seed\": 3")
        #expect(throws: PlanError.self) {
            try Plan(jsonData: Data(edited.utf8))
        }
    }

    @Test func textTableHasOneLinePerRun() throws {
        let plan = try Planner.plan(specURL: smokeSpec, configRoot: configRoot)
        let lines = plan.textTable().split(separator: "\n")
        #expect(lines.count == plan.runs.count + 2)
        #expect(lines[4].contains("ce_only-s1"))
        #expect(lines[4].contains(plan.runs[2].configSHA256))
    }

    @Test func onlyFilterKeepsMethodsAndDropsTeachers() throws {
        let plan = try Planner.plan(
            specURL: smokeSpec, configRoot: configRoot, only: ["method": ["ce_only"]]
        )
        #expect(plan.runs.map(\.runID) == ["ce_only-s1", "ce_only-s2"])
        #expect(plan.runs.map(\.index) == [0, 1])
    }

    @Test func onlyFilterKeepsNeededTeachers() throws {
        let plan = try Planner.plan(
            specURL: smokeSpec, configRoot: configRoot,
            only: ["method": ["vanilla_kd"], "seed": ["2"]]
        )
        let expected = ["teacher1-resnet8-s101", "teacher2-resnet8-s102", "vanilla_kd-s2"]
        #expect(plan.runs.map(\.runID) == expected)
    }

    @Test func onlyFilterRejectsUnknownValue() {
        let message = errorMessage {
            _ = try Planner.plan(
                specURL: smokeSpec, configRoot: configRoot, only: ["method": ["dkd"]]
            )
        }
        #expect(message?.contains("invalid --only filter 'method=dkd'") == true)
        #expect(message?.contains("ce_only, vanilla_kd, avg_kd") == true)
    }

    @Test func onlyFilterRejectsUnknownAxis() {
        #expect(throws: PlanError.self) {
            try Planner.plan(specURL: smokeSpec, configRoot: configRoot, only: ["colour": ["red"]])
        }
    }

    @Test func extraOverridesComeLastAndChangeHashes() throws {
        let base = try Planner.plan(specURL: smokeSpec, configRoot: configRoot)
        let plan = try Planner.plan(
            specURL: smokeSpec, configRoot: configRoot, extraOverrides: ["dataset.batch_size=64"]
        )
        #expect(plan.runs.allSatisfy { $0.overrides.last == "dataset.batch_size=64" })
        #expect(plan.runs[0].configSHA256 != base.runs[0].configSHA256)
        #expect(plan.planSHA256 != base.planSHA256)
    }

    @Test func badExtraOverrideNamesItself() {
        let message = errorMessage {
            _ = try Planner.plan(
                specURL: smokeSpec, configRoot: configRoot, extraOverrides: ["kd_alpah=0.5"]
            )
        }
        #expect(message?.contains("override 'kd_alpah=0.5'") == true)
        #expect(message?.contains("did you mean `kd_alpha`?") == true)
        #expect(message?.contains("(command line)") == true, "\(message ?? "no error")")
    }

    @Test(arguments: ["seed=7", "method=vanilla_kd", "+rung=L2", "model/student=resnet20"])
    func extraOverrideOfAxisKeyIsRejected(text: String) {
        let message = errorMessage {
            _ = try Planner.plan(specURL: smokeSpec, configRoot: configRoot, extraOverrides: [text])
        }
        #expect(message?.contains("override '\(text)'") == true, "\(message ?? "no error")")
        #expect(message?.contains("--only") == true)
    }

    @Test func runsWithEqualConfigsAreRejected() throws {
        // The sweep file's own override hides the seed axis, so both seeds train one config.
        let spec = try temporarySpec("""
            sweep: same
            overrides: [seed=5]
            students:
              model: resnet8
              axes: {method: [ce_only], seed: [1, 2]}
            """)
        let message = errorMessage {
            _ = try Planner.plan(specURL: spec, configRoot: configRoot)
        }
        #expect(message?.contains("'ce_only-s1' and 'ce_only-s2' have the same config") == true,
                "\(message ?? "no error")")
    }

    @Test func rungAxisNamesRuns() throws {
        let spec = try temporarySpec("""
            sweep: ladder
            teachers:
              teacher1: {model: resnet20, seed: 101}
              teacher2: {model: resnet14, seed: 102}
            students:
              axes: {method: [asib], rung: [none, L2], seed: [3]}
            """)
        let plan = try Planner.plan(specURL: spec, configRoot: configRoot)
        #expect(plan.runs.map(\.runID).suffix(2) == ["asib-s3", "asib-L2-s3"])
        let config = try Planner.effectiveConfig(for: plan.runs[3], configRoot: configRoot).value
        #expect(config[path: "use_cccp_in_a"] == .bool(true))
        #expect(config[path: "method_name"] == .string("asib"))
    }

    @Test func methodOverridesApplyToThatMethodOnly() throws {
        let spec = try temporarySpec("""
            sweep: mo
            teachers:
              teacher1: {model: resnet8, seed: 1}
              teacher2: {model: resnet8, seed: 2}
            students:
              axes: {method: [ce_only, avg_kd], seed: [1]}
              method_overrides: {avg_kd: ['teacher_weights=[0.7, 0.3]']}
            """)
        let plan = try Planner.plan(specURL: spec, configRoot: configRoot)
        let avg = try Planner.effectiveConfig(for: plan.runs[3], configRoot: configRoot).value
        let ce = try Planner.effectiveConfig(for: plan.runs[2], configRoot: configRoot).value
        #expect(avg[path: "teacher_weights"] == .list([.double(0.7), .double(0.3)]))
        #expect(ce[path: "teacher_weights"] == .null)
    }

    @Test func unknownMethodListsKnownMethods() throws {
        let spec = try temporarySpec("""
            sweep: bad
            students:
              axes: {method: [ce_onyl], seed: [1]}
            """)
        let message = errorMessage { _ = try Planner.plan(specURL: spec, configRoot: configRoot) }
        #expect(message?.contains("unknown method 'ce_onyl'") == true)
        let known = "asib, asib_ablation_ce, asib_ablation_stage, asib_stage, at, avg_kd, ce_only, "
            + "dkd, fitnet, teacher, vanilla_kd"
        #expect(message?.contains(known) == true)
    }

    @Test func unknownRungIsRejected() throws {
        let spec = try temporarySpec("""
            sweep: bad
            students:
              axes: {method: [ce_only], rung: [L9], seed: [1]}
            """)
        let message = errorMessage { _ = try Planner.plan(specURL: spec, configRoot: configRoot) }
        #expect(message?.contains("unknown rung 'L9'") == true)
        #expect(message?.contains("L0, L1, L2, L3, L4") == true)
    }

    @Test func unknownSpecKeySuggestsClosest() throws {
        let spec = try temporarySpec("""
            sweep: bad
            studnets:
              axes: {method: [ce_only], seed: [1]}
            """)
        let message = errorMessage { _ = try Planner.plan(specURL: spec, configRoot: configRoot) }
        #expect(message?.contains("unknown key 'studnets'") == true)
        #expect(message?.contains("did you mean `students`?") == true)
        #expect(message?.contains("test.yaml:2:1") == true)
    }

    @Test func commaSeparatedAxisIsASweep() throws {
        let spec = try temporarySpec("""
            sweep: comma
            students:
              axes:
                method: ce_only
                seed: 1, 2, 3
            """)
        let listed = try temporarySpec("""
            sweep: comma
            students:
              axes: {method: [ce_only], seed: [1, 2, 3]}
            """)
        let plan = try Planner.plan(specURL: spec, configRoot: configRoot)
        #expect(plan.runs.map(\.runID) == ["ce_only-s1", "ce_only-s2", "ce_only-s3"])
        #expect(plan == (try Planner.plan(specURL: listed, configRoot: configRoot)))
    }

    @Test func commaSeparatedMethodsAreASweep() throws {
        let spec = try temporarySpec("""
            sweep: comma
            students:
              axes:
                method: ce_only,teacher
                seed: [1]
            """)
        let plan = try Planner.plan(specURL: spec, configRoot: configRoot)
        #expect(plan.runs.map(\.method) == ["ce_only", "teacher"])
    }

    @Test func emptyCommaValueIsRejected() throws {
        let spec = try temporarySpec("""
            sweep: comma
            students:
              axes:
                method: ce_only,,teacher
                seed: [1]
            """)
        let message = errorMessage { _ = try Planner.plan(specURL: spec, configRoot: configRoot) }
        #expect(message?.contains("students.axes.method") == true)
        #expect(message?.contains("empty value between commas") == true)
    }

    @Test func emptyAxisIsRejected() throws {
        let spec = try temporarySpec("""
            sweep: bad
            students:
              axes: {method: [ce_only], seed: []}
            """)
        #expect(throws: PlanError.self) {
            try Planner.plan(specURL: spec, configRoot: configRoot)
        }
    }

    @Test func distillationWithoutTeachersIsRejected() throws {
        let spec = try temporarySpec("""
            sweep: bad
            students:
              axes: {method: [vanilla_kd], seed: [1]}
            """)
        let message = errorMessage { _ = try Planner.plan(specURL: spec, configRoot: configRoot) }
        #expect(message?.contains("teacher1, teacher2") == true)
    }

    @Test func missingSpecListsSweepFiles() throws {
        let spec = try temporarySpec("sweep: other\n", name: "other.yaml")
        let missing = spec.deletingLastPathComponent().appendingPathComponent("nope.yaml")
        let message = errorMessage {
            _ = try Planner.plan(specURL: missing, configRoot: configRoot)
        }
        #expect(message?.contains("nope.yaml' not found") == true)
        #expect(message?.contains("other.yaml") == true)
    }

    @Test func specErrorsExitWithUsageCode() throws {
        let spec = try temporarySpec("sweep: bad\nstudents: {axes: {method: [x], seed: [1]}}\n")
        do {
            _ = try Planner.plan(specURL: spec, configRoot: configRoot)
            Issue.record("planned an unknown method")
        } catch let error as PlanError {
            #expect(error.exitCode == 64)
        }
    }
}
