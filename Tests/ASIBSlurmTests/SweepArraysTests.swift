import ASIBPlan
import ASIBSlurm
import Foundation
import Testing

@Suite("Sweep arrays")
struct SweepArraysTests {
    private func plan(teachers: Int, students: Int) -> Plan {
        let kinds = Array(repeating: "teacher", count: teachers)
            + Array(repeating: "student", count: students)
        return Plan(
            sweep: "unit",
            runs: kinds.enumerated().map { index, kind in
                PlannedRun(
                    index: index, runID: "\(kind)-\(index)", kind: kind, method: kind,
                    rung: "none", seed: index,
                    configSHA256: String(repeating: "a", count: 64), dependsOn: [],
                    overrides: [])
            })
    }

    private func arrays(
        plan: Plan, folder: URL, shards: Int? = nil, maxArraySize: Int = 1001
    ) throws -> SweepArrays {
        var options = SlurmOptions(jobName: "asib-unit", outputFolder: folder.path)
        options.shards = shards
        options.throttle = 2
        return try SweepArrays(
            plan: plan, options: options,
            worker: WorkerInvocation(
                workerPath: "/opt/asib-worker", endpoint: "tcp://127.0.0.1:5555",
                planPath: "/r/plan.json", planSHA256: TestFiles.planSHA256),
            maxArraySize: maxArraySize,
            template: try SbatchTemplate.load(from: TestFiles.templateURL))
    }

    /// A fake sbatch that logs its arguments, one call per line, and prints job IDs from 41
    /// on. It rejects a call whose arguments contain `rejectPattern`.
    private func fakeClient(in folder: URL, rejectPattern: String) throws -> (SlurmClient, URL) {
        let calls = folder.appendingPathComponent("calls.txt")
        let counter = folder.appendingPathComponent("counter")
        try TestFiles.writeExecutable(
            "sbatch", in: folder,
            body: """
                echo "$*" >> \(ShellQuoting.quote(calls.path))
                case "$*" in
                  *\(rejectPattern)*)
                    echo "sbatch: error: Batch job submission failed: Invalid job array specification" >&2
                    exit 1;;
                esac
                n=$(cat \(ShellQuoting.quote(counter.path)) 2>/dev/null || echo 41)
                echo $((n + 1)) > \(ShellQuoting.quote(counter.path))
                echo "$n"
                """)
        var runner = CommandRunner(timeout: 20)
        runner.environment["PATH"] = folder.path + ":/usr/bin:/bin"
        return (SlurmClient(runner: runner), calls)
    }

    @Test("teachers and students get arrays of their own")
    func groups() throws {
        let folder = try TestFiles.makeScratchFolder("groups")
        let both = try arrays(plan: plan(teachers: 2, students: 5), folder: folder)
        #expect(both.groups.map(\.kind) == [.teacher, .student])
        #expect(both.groups.map(\.runCount) == [2, 5])
        let studentsOnly = try arrays(plan: plan(teachers: 0, students: 3), folder: folder)
        #expect(studentsOnly.groups.map(\.kind) == [.student])
    }

    @Test("shards are capped at the runs of each kind")
    func shardCap() throws {
        let folder = try TestFiles.makeScratchFolder("cap")
        let sweep = try arrays(plan: plan(teachers: 2, students: 5), folder: folder, shards: 3)
        #expect(sweep.submission(kind: .teacher, runCount: 2).shardCount == 2)
        #expect(sweep.submission(kind: .student, runCount: 5).shardCount == 3)
    }

    @Test("dry run shows the dependency placeholder")
    func dryRun() throws {
        let folder = try TestFiles.makeScratchFolder("dry")
        let text = try arrays(plan: plan(teachers: 2, students: 5), folder: folder).dryRunText()
        #expect(text.contains("--array=0-1%2 --job-name=asib-unit"))
        #expect(text.contains("--array=0-4%2"))
        #expect(text.contains("--dependency=afterok:TEACHER_JOB_IDS"))
        #expect(text.contains("ASIB_RUN_KIND=teacher\n"))
        #expect(text.contains("ASIB_RUN_KIND=student\n"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).isEmpty)
    }

    @Test("students depend on every teacher array")
    func studentDependencies() throws {
        let folder = try TestFiles.makeScratchFolder("depend")
        let (client, calls) = try fakeClient(in: folder, rejectPattern: "never-rejected")
        let sweep = try arrays(
            plan: plan(teachers: 3, students: 3), folder: folder, maxArraySize: 2)
        var recorded: [Int] = []
        let submitted = try sweep.submit(with: client) { _, array in recorded.append(array.jobID) }

        #expect(submitted.map(\.array.jobID) == [41, 42, 43, 44])
        #expect(submitted.map(\.kind) == [.teacher, .teacher, .student, .student])
        #expect(recorded == [41, 42, 43, 44])
        let lines = try String(contentsOf: calls, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 4)
        #expect(!lines[0].contains("--dependency"))
        #expect(!lines[1].contains("--dependency"))
        #expect(lines[2].contains("--array=0-1%2 "))
        #expect(lines[2].contains("--dependency=afterok:41:42 "))
        #expect(lines[3].contains("--array=0%2 "))
        #expect(lines[3].contains("--dependency=afterok:41:42 "))
        #expect(lines[3].hasSuffix("array-student-offset2.sbatch"))
    }

    @Test("rejected student array lists the teacher jobs")
    func failingSbatch() throws {
        let folder = try TestFiles.makeScratchFolder("reject")
        let (client, _) = try fakeClient(in: folder, rejectPattern: "--dependency")
        let sweep = try arrays(plan: plan(teachers: 2, students: 5), folder: folder)
        var recorded: [Int] = []

        let error = #expect(throws: SlurmError.self) {
            try sweep.submit(with: client) { _, array in recorded.append(array.jobID) }
        }
        #expect(recorded == [41])
        guard case .submissionRejected(let range, let output, let jobIDs) = error else {
            Issue.record("expected submissionRejected, got \(String(describing: error))")
            return
        }
        #expect(range.hasPrefix("student runs 0-4"))
        #expect(output.contains("Invalid job array specification"))
        #expect(jobIDs == [41])
        #expect(error?.description.contains("cancel them with: scancel 41") == true)
        #expect(error?.exitCode == 1)
    }

    @Test("rejected first array reports that nothing was submitted")
    func failingFirstSbatch() throws {
        let folder = try TestFiles.makeScratchFolder("reject-first")
        let (client, _) = try fakeClient(in: folder, rejectPattern: "--array")
        let sweep = try arrays(plan: plan(teachers: 2, students: 5), folder: folder)
        let error = #expect(throws: SlurmError.self) {
            try sweep.submit(with: client) { _, _ in }
        }
        #expect(error?.description.contains("teacher runs 0-1") == true)
        #expect(error?.description.contains("no job was submitted") == true)
    }
}

@Suite("Slurm jobs file")
struct SlurmJobsFileTests {
    @Test("jobs file survives write and load")
    func roundTrip() throws {
        let folder = try TestFiles.makeScratchFolder("jobs")
        var jobs = SlurmJobsFile(
            sweep: "s", planSHA256: TestFiles.planSHA256, jobName: "asib-s",
            coordinatorEndpoint: "tcp://127.0.0.1:5", coordinatorPID: 7, coordinatorHost: "vm")
        jobs.arrays.append(
            .init(jobID: 12, runKind: "teacher", array: "0-1%2", offset: 0, shards: 2, script: "/a"))
        try jobs.write(to: folder)
        #expect(try SlurmJobsFile.load(from: folder) == jobs)
        let text = try String(contentsOf: SlurmJobsFile.url(in: folder), encoding: .utf8)
        #expect(text.contains("\"job_id\" : 12"))
        #expect(try SlurmJobsFile.load(from: folder.appendingPathComponent("none")) == nil)
    }
}
