import ASIBSlurm
import Foundation
import Testing

/// Tests with fake sbatch, squeue and scancel executables placed first in PATH.
@Suite("Slurm client with fake commands")
struct SlurmClientTests {
    /// Returns a client whose PATH starts with `folder`.
    private func client(_ folder: URL, timeout: Double = 20) -> SlurmClient {
        var environment = CommandRunner.environmentWithoutSlurmVariables()
        environment["PATH"] = folder.path + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
        return SlurmClient(runner: CommandRunner(environment: environment, timeout: timeout))
    }

    private func submission(
        outputFolder: URL, runCount: Int, maxArraySize: Int
    ) throws -> ArraySubmission {
        ArraySubmission(
            options: SlurmOptions(throttle: 2, jobName: "fake", outputFolder: outputFolder.path),
            worker: WorkerInvocation(
                workerPath: "/bin/true", endpoint: "tcp://127.0.0.1:9", planPath: "/p.json",
                planSHA256: TestFiles.planSHA256),
            runCount: runCount, maxArraySize: maxArraySize,
            template: try SbatchTemplate.load(from: TestFiles.templateURL))
    }

    @Test(
        "parsable output gives the job ID",
        arguments: [("42\n", 42), ("7;cluster\n", 7), ("  9  ", 9)])
    func parseJobID(output: String, expected: Int) throws {
        #expect(try SlurmClient.parseJobID(output) == expected)
    }

    @Test(
        "unexpected sbatch output is an error",
        arguments: ["", "Submitted batch job 4", "4\n5\n", "x;y"])
    func unexpectedSbatchOutput(output: String) {
        #expect(throws: SlurmError.self) { try SlurmClient.parseJobID(output) }
    }

    @Test("failing sbatch names the rejected range and the submitted jobs")
    func failingSbatch() throws {
        let bin = try TestFiles.makeScratchFolder("fake-bin")
        try TestFiles.writeExecutable(
            "sbatch", in: bin,
            body: """
                count_file="$(dirname "$0")/count"
                count=$(cat "$count_file" 2>/dev/null || echo 0)
                count=$((count + 1))
                echo "$count" > "$count_file"
                if [ "$count" -ge 2 ]; then
                    echo 'sbatch: error: Batch job submission failed:' \\
                        'Invalid job array specification' >&2
                    exit 1
                fi
                echo 41
                """)
        let logs = try TestFiles.makeScratchFolder("fake-logs").appendingPathComponent("new folder")
        let arrays = try submission(outputFolder: logs, runCount: 5, maxArraySize: 2)

        let error = #expect(throws: SlurmError.self) { try arrays.submit(with: client(bin)) }
        let message = error?.description ?? ""
        #expect(message.contains("runs 2-3 (--array=0-1%2, offset 2)"))
        #expect(message.contains("Invalid job array specification"))
        #expect(message.contains("scancel 41"))
        #expect(error?.exitCode == 1)
        #expect(FileManager.default.fileExists(atPath: logs.path))
    }

    @Test("first rejected array reports that nothing was submitted")
    func firstArrayRejected() throws {
        let bin = try TestFiles.makeScratchFolder("fake-bin")
        try TestFiles.writeExecutable(
            "sbatch", in: bin, body: "echo 'sbatch: error: bad' >&2\nexit 1\n")
        let logs = try TestFiles.makeScratchFolder("fake-logs")
        let arrays = try submission(outputFolder: logs, runCount: 3, maxArraySize: 10)
        let error = #expect(throws: SlurmError.self) { try arrays.submit(with: client(bin)) }
        #expect(
            error
                == .submissionRejected(
                    range: "runs 0-2 (--array=0-2%2, offset 0)", output: "sbatch: error: bad",
                    submittedJobIDs: []))
    }

    @Test("sbatch receives the array, logs, dependency and script")
    func sbatchArguments() throws {
        let bin = try TestFiles.makeScratchFolder("fake-bin")
        let record = bin.appendingPathComponent("arguments")
        try TestFiles.writeExecutable(
            "sbatch", in: bin, body: "printf '%s\\n' \"$@\" > '\(record.path)'\necho 12\n")
        let logs = try TestFiles.makeScratchFolder("fake-logs")
        var arrays = try submission(outputFolder: logs, runCount: 3, maxArraySize: 10)
        arrays.dependencies = [5, 6]
        let submitted = try arrays.submit(with: client(bin))
        let words = try String(contentsOf: record, encoding: .utf8).split(separator: "\n").map(
            String.init)
        #expect(submitted.map(\.jobID) == [12])
        #expect(
            words == [
                "--parsable", "--array=0-2%2", "--job-name=fake", "--output=\(logs.path)/%A_%a.out",
                "--error=\(logs.path)/%A_%a.err", "--dependency=afterok:5:6",
                logs.appendingPathComponent("array-all-offset0.sbatch").path,
            ])
    }

    @Test("sbatch does not see the submitter's SLURM variables")
    func slurmVariablesRemoved() {
        let environment = CommandRunner.environmentWithoutSlurmVariables(
            ["SLURM_JOB_ID": "3", "SLURM_ARRAY_TASK_ID": "1", "PATH": "/bin", "SBATCH_X": "y"])
        #expect(environment == ["PATH": "/bin", "SBATCH_X": "y"])
    }

    @Test("hanging command is killed at the time limit")
    func timeout() throws {
        let bin = try TestFiles.makeScratchFolder("fake-bin")
        try TestFiles.writeExecutable("squeue", in: bin, body: "exec sleep 30\n")
        let started = Date()
        #expect(throws: SlurmError.self) { try client(bin, timeout: 0.5).status(jobIDs: [1]) }
        #expect(Date().timeIntervalSince(started) < 10)
    }

    @Test("squeue lines become tasks")
    func squeueParsing() throws {
        let output = """
            12_0|13|12|0|RUNNING|None
            12_1|12|12|1|PENDING|JobArrayTaskLimit
            7|7|7|N/A|PENDING|Dependency

            """
        let tasks = try SqueueTask.parse(output)
        #expect(tasks.count == 3)
        #expect(
            tasks[0]
                == SqueueTask(
                    displayID: "12_0", jobID: 13, arrayJobID: 12, taskID: 0, state: "RUNNING",
                    reason: "None"))
        #expect(tasks[1].reason == "JobArrayTaskLimit")
        #expect(tasks[2].taskID == nil)
    }

    @Test(
        "malformed squeue line is an error",
        arguments: ["12_0|13|12|0|RUNNING", "a|b|c|d|e|f", "1|2|3|2-5%2|PENDING|x"]
    )
    func malformedSqueueLine(line: String) {
        #expect(throws: SlurmError.self) { try SqueueTask.parse(line) }
    }

    @Test("squeue for forgotten jobs gives an empty list")
    func forgottenJobs() throws {
        let bin = try TestFiles.makeScratchFolder("fake-bin")
        try TestFiles.writeExecutable(
            "squeue", in: bin,
            body: "echo 'slurm_load_jobs error: Invalid job id specified' >&2\nexit 1\n")
        #expect(try client(bin).status(jobIDs: [99]).isEmpty)
    }

    @Test("missing command is reported with the PATH searched")
    func missingCommand() {
        let runner = CommandRunner(environment: ["PATH": "/nonexistent"], timeout: 5)
        #expect(throws: SlurmError.commandNotFound(command: "sbatch", path: "/nonexistent")) {
            try runner.run("sbatch", [])
        }
    }
}
