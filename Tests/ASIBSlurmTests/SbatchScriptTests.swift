import ASIBSlurm
import Foundation
import Testing

@Suite("sbatch script rendering")
struct SbatchScriptTests {
    private let hostileName = "a b 'single' \"double\" $HOME `date` \\ ;&\nsecond line"

    private func template() throws -> SbatchTemplate {
        try SbatchTemplate.load(from: TestFiles.templateURL)
    }

    private func render(
        worker: WorkerInvocation,
        options: SlurmOptions = SlurmOptions(jobName: "n", outputFolder: "/tmp/logs"),
        chunk: ArrayChunk = ArrayChunk(offset: 0, count: 4, throttle: nil),
        shardCount: Int = 4
    ) throws -> String {
        try SbatchScript.render(
            template: template(), options: options, worker: worker, chunk: chunk,
            shardCount: shardCount)
    }

    /// Runs `bash ARGUMENTS` and returns its result.
    private func bash(_ arguments: [String]) throws -> CommandResult {
        try CommandRunner(timeout: 20).run("/bin/bash", arguments)
    }

    @Test("project template passes validation")
    func templateLoads() throws {
        let loaded = try template()
        #expect(loaded.text.hasPrefix("#!/bin/bash\n"))
    }

    @Test("SBATCH lines come right after the shebang")
    func directivesFirst() throws {
        var options = SlurmOptions(jobName: "n", outputFolder: "/tmp/logs")
        options.partition = "cpu"
        options.memory = "2G"
        let worker = WorkerInvocation(
            workerPath: "/opt/asib-worker", endpoint: "tcp://10.0.0.1:5555",
            planPath: "/r/plan.json", planSHA256: TestFiles.planSHA256)
        let lines = try render(worker: worker, options: options).split(separator: "\n")
        #expect(lines[0] == "#!/bin/bash")
        #expect(lines[1] == "#SBATCH --partition=cpu")
        #expect(lines[2] == "#SBATCH --cpus-per-task=1")
        #expect(lines[3] == "#SBATCH --mem=2G")
        #expect(!lines[4].hasPrefix("#SBATCH"))
    }

    @Test("values are assigned as quoted words")
    func quotedAssignments() throws {
        let worker = WorkerInvocation(
            workerPath: "/opt/asib-worker", endpoint: "tcp://10.0.0.1:5555",
            planPath: "/r/plan.json", planSHA256: TestFiles.planSHA256)
        let script = try render(
            worker: worker, chunk: ArrayChunk(offset: 1000, count: 5, throttle: 2), shardCount: 1005
        )
        #expect(script.contains("\nASIB_WORKER='/opt/asib-worker'\n"))
        #expect(script.contains("\nASIB_ENDPOINT='tcp://10.0.0.1:5555'\n"))
        #expect(script.contains("\nASIB_PLAN='/r/plan.json'\n"))
        #expect(script.contains("\nASIB_PLAN_SHA256='\(TestFiles.planSHA256)'\n"))
        #expect(script.contains("\nASIB_ARRAY_OFFSET=1000\n"))
        #expect(script.contains("\nASIB_SHARDS=1005\n"))
    }

    @Test("setup lines are written verbatim")
    func setupLines() throws {
        var options = SlurmOptions(jobName: "n", outputFolder: "/tmp/logs")
        options.setupLines = ["module load openblas", "export OMP_NUM_THREADS=1"]
        let worker = WorkerInvocation(
            workerPath: "/w", endpoint: "tcp://h:1", planPath: "/p",
            planSHA256: TestFiles.planSHA256)
        let script = try render(worker: worker, options: options)
        #expect(script.contains("\nmodule load openblas\nexport OMP_NUM_THREADS=1\n"))
    }

    @Test("hostile paths pass bash syntax check")
    func hostileSyntax() throws {
        let folder = try TestFiles.makeScratchFolder("syntax")
        let worker = WorkerInvocation(
            workerPath: "/x/\(hostileName)/asib-worker", endpoint: "tcp://127.0.0.1:1",
            planPath: "/x/\(hostileName)/plan.json", planSHA256: TestFiles.planSHA256)
        let scriptURL = folder.appendingPathComponent("array.sbatch")
        try render(worker: worker).write(to: scriptURL, atomically: true, encoding: .utf8)
        let result = try bash(["-n", scriptURL.path])
        #expect(result.status == 0, "bash -n: \(result.standardError)")
    }

    @Test("hostile paths reach the worker unchanged")
    func hostileRoundTrip() throws {
        let scratch = try TestFiles.makeScratchFolder("roundtrip")
        let hostileFolder = scratch.appendingPathComponent(hostileName)
        try FileManager.default.createDirectory(
            at: hostileFolder, withIntermediateDirectories: true)
        let fakeWorker = try TestFiles.writeExecutable(
            "asib-worker", in: hostileFolder,
            body: "for word in \"$@\"; do printf '%s\\0' \"$word\"; done\n")
        let planPath = hostileFolder.appendingPathComponent("plan '{{PLAN}}'.json").path
        let endpoint = "tcp://127.0.0.1:5555"
        let worker = WorkerInvocation(
            workerPath: fakeWorker.path, endpoint: endpoint, planPath: planPath,
            planSHA256: TestFiles.planSHA256)
        let scriptURL = scratch.appendingPathComponent("array.sbatch")
        try render(
            worker: worker, chunk: ArrayChunk(offset: 3, count: 2, throttle: nil), shardCount: 5
        )
        .write(to: scriptURL, atomically: true, encoding: .utf8)

        let result = try bash([scriptURL.path])
        let words = result.standardOutput.split(separator: "\0", omittingEmptySubsequences: false)
            .dropLast().map(String.init)
        #expect(result.status == 0, "script failed: \(result.standardError)")
        #expect(
            words == [
                "--connect", endpoint, "--plan", planPath, "--plan-sha256", TestFiles.planSHA256,
                "--run-kind", "all", "--array-offset", "3", "--shards", "5",
            ])
    }

    @Test("script ignores the submitter's SLURM and ASIB variables")
    func ignoresEnvironment() throws {
        let scratch = try TestFiles.makeScratchFolder("environment")
        let fakeWorker = try TestFiles.writeExecutable(
            "asib-worker", in: scratch, body: "printf '%s ' \"$@\"\n")
        let worker = WorkerInvocation(
            workerPath: fakeWorker.path, endpoint: "tcp://127.0.0.1:7", planPath: "/p.json",
            planSHA256: TestFiles.planSHA256)
        let scriptURL = scratch.appendingPathComponent("array.sbatch")
        try render(worker: worker).write(to: scriptURL, atomically: true, encoding: .utf8)
        var runner = CommandRunner(timeout: 20)
        runner.environment["ASIB_PLAN"] = "/elsewhere.json"
        runner.environment["SLURM_ARRAY_TASK_ID"] = "9"
        let result = try runner.run("/bin/bash", [scriptURL.path])
        #expect(result.standardOutput.contains("--plan /p.json "))
    }

    @Test("template without a placeholder is rejected")
    func missingPlaceholder() throws {
        let text = try template().text.replacingOccurrences(of: "{{SHARDS}}", with: "1")
        #expect(throws: SlurmError.self) { try SbatchTemplate(text: text, path: "t") }
    }

    @Test("template with an unknown placeholder is rejected")
    func unknownPlaceholder() throws {
        let text = try template().text + "\n{{NODES}}\n"
        #expect(throws: SlurmError.self) { try SbatchTemplate(text: text, path: "t") }
    }

    @Test("template with a repeated placeholder is rejected")
    func repeatedPlaceholder() throws {
        let text = try template().text + "\n{{PLAN}}\n"
        #expect(throws: SlurmError.self) { try SbatchTemplate(text: text, path: "t") }
    }

    @Test("malformed plan hash is rejected")
    func malformedHash() {
        let worker = WorkerInvocation(
            workerPath: "/w", endpoint: "tcp://h:1", planPath: "/p", planSHA256: "ABC'")
        #expect(throws: SlurmError.self) { try render(worker: worker) }
    }

    @Test("template is found through ASIB_SBATCH_TEMPLATE")
    func locateFromVariable() throws {
        let url = try SbatchTemplate.locate(
            environment: ["ASIB_SBATCH_TEMPLATE": "/etc/custom.template"],
            executableURL: URL(fileURLWithPath: "/nonexistent/bin/asib-sweep"),
            currentDirectory: URL(fileURLWithPath: "/nonexistent"))
        #expect(url.path == "/etc/custom.template")
    }

    @Test("template is found in the package of a build")
    func locateFromBuild() throws {
        let packageFolder = TestFiles.templateURL.deletingLastPathComponent()
            .deletingLastPathComponent()
        let url = try SbatchTemplate.locate(
            environment: [:],
            executableURL: packageFolder.appendingPathComponent(".build/release/asib-sweep"),
            currentDirectory: URL(fileURLWithPath: "/nonexistent"))
        #expect(url.path == TestFiles.templateURL.path)
    }

    @Test("shell quoting escapes single quotes")
    func quoting() {
        #expect(ShellQuoting.quote("it's") == "'it'\\''s'")
        #expect(
            ShellQuoting.commandLine(["sbatch", "--array=0-3%2", "a b"])
                == "sbatch --array=0-3%2 'a b'")
    }
}
