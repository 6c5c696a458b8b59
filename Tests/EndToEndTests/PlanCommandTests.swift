import Foundation
import Testing

@Suite("plan command")
struct PlanCommandTests {
    @Test("dry run prints the same plan twice and writes nothing")
    func dryRunIsDeterministic() throws {
        let out = try ExecutableRunner.temporaryDirectory("plan").appendingPathComponent("results")
        let arguments = ["plan", "--dry-run", "--format", "json", "--out", out.path, "sweeps/smoke.yaml"]
        let first = try ExecutableRunner.run("asib-sweep", arguments)
        let second = try ExecutableRunner.run("asib-sweep", arguments)

        #expect(first.status == 0, "stderr: \(first.error)")
        #expect(second.status == 0)
        #expect(first.output == second.output)
        #expect(!FileManager.default.fileExists(atPath: out.path))
    }

    @Test("json plan has the fixed fields and indices in order")
    func jsonPlanShape() throws {
        let result = try ExecutableRunner.run("asib-sweep", ["plan", "--dry-run", "--format", "json", "sweeps/smoke.yaml"])
        #expect(result.status == 0, "stderr: \(result.error)")
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any]
        )
        #expect(object["sweep"] as? String == "smoke")
        #expect((object["plan_sha256"] as? String)?.count == 64)
        let runs = try #require(object["runs"] as? [[String: Any]])
        #expect(runs.count >= 8)
        for (position, run) in runs.enumerated() {
            #expect(run["index"] as? Int == position)
            #expect((run["config_sha256"] as? String)?.count == 64)
            #expect(run["run_id"] is String)
            #expect(["teacher", "student"].contains(run["kind"] as? String ?? ""))
            #expect(run["depends_on"] is [Any])
            #expect(run["overrides"] is [Any])
        }
        let ids = runs.compactMap { $0["run_id"] as? String }
        #expect(Set(ids).count == ids.count)
    }

    @Test("plan without dry run writes plan.json")
    func planWritesFile() throws {
        let out = try ExecutableRunner.temporaryDirectory("plan-write")
        let result = try ExecutableRunner.run("asib-sweep", ["plan", "--out", out.path, "sweeps/smoke.yaml"])
        #expect(result.status == 0, "stderr: \(result.error)")
        let written = try String(contentsOf: out.appendingPathComponent("plan.json"), encoding: .utf8)
        let printed = try ExecutableRunner.run("asib-sweep", ["plan", "--dry-run", "--format", "json", "sweeps/smoke.yaml"])
        #expect(written == printed.output)
    }
}

@Suite("plan --explain")
struct ExplainCommandTests {
    /// The line of `key` in the explain output, found by its first column.
    static func line(_ key: String, in output: String) -> String? {
        output.split(separator: "\n").map(String.init).first { $0.hasPrefix(key + " ") }
    }

    @Test("explain prints every key with its origin")
    func explainNamesOrigins() throws {
        let arguments = ["sweeps/smoke.yaml", "student_lr=0.05"]
        let result = try ExecutableRunner.run("asib-sweep", ["plan", "--explain", "4"] + arguments)
        #expect(result.status == 0, "stderr: \(result.error)")
        let output = result.output

        let plan = try ExecutableRunner.run(
            "asib-sweep", ["plan", "--dry-run", "--format", "json"] + arguments
        )
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(plan.output.utf8)) as? [String: Any]
        )
        let run = try #require((object["runs"] as? [[String: Any]])?[4])
        let hash = try #require(run["config_sha256"] as? String)
        let runID = try #require(run["run_id"] as? String)
        let method = try #require(run["method"] as? String)
        #expect(output.hasPrefix("run 4 \(runID) "), "\(output)")
        #expect(output.contains("config_sha256 \(hash)"))

        let studentLR = try #require(Self.line("student_lr", in: output))
        #expect(studentLR.contains(" 0.05 "))
        #expect(studentLR.hasSuffix("override 'student_lr=0.05' (command line)"))
        let batch = try #require(Self.line("dataset.batch_size", in: output))
        #expect(batch.contains(" 50 "))
        #expect(batch.hasSuffix("override 'dataset.batch_size=50' (sweep sweeps/smoke.yaml)"))
        let ceAlpha = try #require(Self.line("ce_alpha", in: output))
        #expect(ceAlpha.contains("configs/method/\(method).yaml:"), "\(ceAlpha)")
        let teacher = try #require(Self.line("teacher1.name", in: output))
        #expect(teacher.contains("configs/model/teacher/resnet8.yaml:2:1"), "\(teacher)")
        let amp = try #require(Self.line("use_amp", in: output))
        #expect(amp.contains("configs/base.yaml:"))
        #expect(amp.hasSuffix("(not in the lock)"))
        let momentum = try #require(Self.line("momentum", in: output))
        #expect(!momentum.contains("not in the lock"))
    }

    @Test("explain index outside the plan exits 64")
    func explainRejectsBadIndex() throws {
        let result = try ExecutableRunner.run(
            "asib-sweep", ["plan", "--explain", "99", "sweeps/smoke.yaml"]
        )
        #expect(result.status == 64)
        #expect(result.error.contains("--explain 99"))
        #expect(result.error.contains("indices 0-"))
    }
}

@Suite("bad input")
struct BadInputTests {
    @Test(arguments: ["status", "report"])
    func emptyOrForeignStoreIsRejected(subcommand: String) throws {
        for (name, bytes) in [("empty", Data()), ("garbage", Data("not a database\n".utf8))] {
            let folder = try ExecutableRunner.temporaryDirectory("store-\(name)")
            let database = folder.appendingPathComponent("sweep.db")
            try bytes.write(to: database)
            let result = try ExecutableRunner.run("asib-sweep", [subcommand, folder.path])
            #expect(result.status == 64, "\(name): \(result.error)")
            #expect(result.error.contains(database.path), "\(name): \(result.error)")
            #expect(
                !FileManager.default.fileExists(atPath: folder.appendingPathComponent("summary.csv").path),
                "\(name): report wrote tables"
            )
        }
    }

    @Test("missing sweep file exits 64 naming the path")
    func missingSpec() throws {
        let result = try ExecutableRunner.run("asib-sweep", ["plan", "--dry-run", "sweeps/nope.yaml"])
        #expect(result.status == 64)
        #expect(result.error.contains("sweeps/nope.yaml"))
    }

    @Test("yaml syntax error names file, line and column")
    func yamlSyntaxError() throws {
        let folder = try ExecutableRunner.temporaryDirectory("badyaml")
        let spec = folder.appendingPathComponent("broken.yaml")
        try "sweep: broken\nstudents:\n  axes: {method: [ce_only\n".write(to: spec, atomically: true, encoding: .utf8)
        let configs = ExecutableRunner.repositoryRoot.appendingPathComponent("configs").path
        let result = try ExecutableRunner.run("asib-sweep", ["plan", "--dry-run", "--configs", configs, spec.path])
        #expect(result.status == 64)
        // libyaml detects the problem at the end of the text (line 4) and names the flow
        // sequence opened at line 3, column 18.
        #expect(result.error.contains("broken.yaml:4:1:"), "\(result.error)")
        #expect(result.error.contains("line 3, column 18"), "\(result.error)")
    }

    @Test("unknown method lists the known ones")
    func unknownMethod() throws {
        let result = try ExecutableRunner.run(
            "asib-sweep", ["plan", "--dry-run", "--only", "method=no_such_method", "sweeps/smoke.yaml"]
        )
        #expect(result.status == 64)
        #expect(result.error.contains("no_such_method"))
        #expect(result.error.contains("vanilla_kd"))
    }

    @Test("missing dataset files name the paths and the package")
    func missingDataset() throws {
        let out = try ExecutableRunner.temporaryDirectory("nodata")
        let result = try ExecutableRunner.run(
            "asib-sweep",
            ["launch", "--local", "1", "--out", out.path, "sweeps/smoke.yaml", "dataset.root=/nonexistent/fmnist"]
        )
        #expect(result.status == 64)
        #expect(result.error.contains("/nonexistent/fmnist/train-images-idx3-ubyte.gz"))
        #expect(result.error.contains("dataset-fashion-mnist"))
        #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("sweep.db").path))
    }

    @Test("invalid trainer value names its override")
    func invalidTrainerValueNamesOverride() throws {
        let out = try ExecutableRunner.temporaryDirectory("badmix")
        let result = try ExecutableRunner.run(
            "asib-sweep",
            ["launch", "--local", "1", "--out", out.path, "sweeps/smoke.yaml", "++mixup_alpha=-1"]
        )
        #expect(result.status == 64)
        #expect(result.error.contains("mixup_alpha"), "\(result.error)")
        #expect(result.error.contains("'++mixup_alpha=-1'"), "\(result.error)")
        #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("sweep.db").path))
    }

    @Test("invalid value from a config file points to explain")
    func invalidConfigFileValuePointsToExplain() throws {
        // A bad value from a config file rather than an override: a copy of the config tree
        // adds an unknown loss_clamp_mode to the ce_only method file.
        let directory = try ExecutableRunner.temporaryDirectory("badconfig")
        let configs = directory.appendingPathComponent("configs")
        try FileManager.default.copyItem(
            at: ExecutableRunner.repositoryRoot.appendingPathComponent("configs"), to: configs
        )
        let method = configs.appendingPathComponent("method/ce_only.yaml")
        let text = try String(contentsOf: method, encoding: .utf8)
        try (text + "loss_clamp_mode: hardd\n").write(to: method, atomically: true, encoding: .utf8)
        let out = directory.appendingPathComponent("out")
        let result = try ExecutableRunner.run(
            "asib-sweep",
            ["launch", "--local", "1", "--configs", configs.path, "--out", out.path,
             "--only", "method=ce_only", "sweeps/smoke.yaml"]
        )
        #expect(result.status == 64)
        #expect(result.error.contains("loss_clamp_mode"), "\(result.error)")
        #expect(result.error.contains("hardd"), "\(result.error)")
        #expect(result.error.contains("plan --explain"), "\(result.error)")
    }

    @Test("unknown option exits 64")
    func unknownOption() throws {
        let result = try ExecutableRunner.run("asib-sweep", ["plan", "--dry-rn", "sweeps/smoke.yaml"])
        #expect(result.status == 64)
        #expect(result.error.contains("--dry-rn"))
    }
}
