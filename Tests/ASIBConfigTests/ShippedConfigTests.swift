import ASIBConfig
import ASIBPlan
import Foundation
import Testing

/// The config files in configs/ and the specs in sweeps/, composed the way users will.
struct ShippedConfigTests {
    /// Every method file under configs/method, by file name.
    static var methods: [String] {
        let folder = configRoot.appendingPathComponent("method")
        let files = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return files.filter { $0.hasSuffix(".yaml") }.map { String($0.dropLast(5)) }.sorted()
    }

    @Test func everyMethodAndRungComposes() throws {
        let methods = Self.methods.filter { $0 != "teacher" }
        #expect(methods.count >= 8)
        let spec = try temporarySpec("""
            sweep: every-method
            config: base
            teachers:
              teacher1: {model: resnet8, seed: 101}
              teacher2: {model: resnet8, seed: 102}
            students:
              model: resnet8
              axes:
                method: [\(methods.joined(separator: ", "))]
                rung: [none, L0, L1, L2, L3, L4]
                seed: [1]
            """)
        let plan = try Planner.plan(specURL: spec, configRoot: configRoot)
        #expect(plan.runs.count == 2 + methods.count * 6)
        // Different methods and rungs must lock different configs.
        let students = plan.runs.filter { $0.kind == "student" }
        #expect(Set(students.map(\.configSHA256)).count == students.count)
    }

    @Test(arguments: ["smoke.yaml", "quickstart.yaml", "fmnist-asib.yaml"])
    func shippedSweepPlans(name: String) throws {
        let spec = repositoryRoot.appendingPathComponent("sweeps/\(name)")
        let plan = try Planner.plan(specURL: spec, configRoot: configRoot)
        #expect(plan.runs.count >= 8)
    }
}
