import Foundation
import Testing

/// Whether the Slurm client commands are installed. scripts/test.sh starts the one-node
/// cluster of slurm/local/start.sh before the tests, so there they always run.
private let sbatchOnPath: Bool = {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
    return path.split(separator: ":").contains {
        FileManager.default.isExecutableFile(atPath: "\($0)/sbatch")
    }
}()

/// The sweep of these tests: 2 teacher runs and 5 student runs of one epoch on 200 images.
private let tinySweep = "sweeps/slurm-tiny.yaml"
private let teacherRuns = 2
private let studentRuns = 5

/// One array task's time span, from the start and end lines the sbatch script writes.
private struct TaskSpan {
    let arrayJobID: Int
    let taskID: Int
    let start: Double
    let end: Double
    let status: Int
}

/// A finished `launch --array` with what it left in its results folder.
private struct ArrayLaunch {
    let out: URL
    let result: ExecutableRunner.Result
    let summary: CSVTable
    /// The `arrays` entries of slurm-jobs.json.
    let arrays: [[String: Any]]
    let spans: [TaskSpan]

    init(_ extraArguments: [String]) throws {
        out = try ExecutableRunner.temporaryDirectory("slurm-array")
        result = try ExecutableRunner.run(
            "asib-sweep",
            ["launch", "--array", "--time", "10", "--out", out.path] + extraArguments + [tinySweep],
            timeout: 300)
        summary = try CSVTable(url: out.appendingPathComponent("summary.csv"))
        let jobsData = try Data(contentsOf: out.appendingPathComponent("slurm-jobs.json"))
        let jobs = try #require(try JSONSerialization.jsonObject(with: jobsData) as? [String: Any])
        arrays = try #require(jobs["arrays"] as? [[String: Any]])
        spans = try Self.readSpans(in: out.appendingPathComponent("logs/slurm"))
    }

    var transcript: String {
        "stdout:\n\(result.output)\nstderr:\n\(result.error)"
    }

    /// Job IDs of the arrays of one run kind, in submission order.
    func jobIDs(kind: String) -> [Int] {
        arrays.filter { $0["run_kind"] as? String == kind }.compactMap { $0["job_id"] as? Int }
    }

    /// Number of `started RUN` lines per run id in the coordinator's output.
    var startsPerRun: [String: Int] {
        var counts: [String: Int] = [:]
        for line in result.output.split(separator: "\n") where line.hasPrefix("started ") {
            let runID = String(line.dropFirst("started ".count).prefix { $0 != " " })
            counts[runID, default: 0] += 1
        }
        return counts
    }

    /// Reads `asib-array-task start|end EPOCH JOB_TASK [status=N]` lines from the tasks'
    /// `.err` files.
    static func readSpans(in folder: URL) throws -> [TaskSpan] {
        var spans: [TaskSpan] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path)
        where name.hasSuffix(".err") {
            let text = try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
            var start: Double?
            var end: Double?
            var status = -1
            var ids: [Int] = []
            for line in text.split(separator: "\n") where line.hasPrefix("asib-array-task ") {
                let words = line.split(separator: " ")
                guard words.count >= 4 else { continue }
                ids = words[3].split(separator: "_").compactMap { Int($0) }
                if words[1] == "start" { start = Double(words[2]) }
                if words[1] == "end" {
                    end = Double(words[2])
                    status = words.count > 4 ? Int(words[4].dropFirst("status=".count)) ?? -1 : -1
                }
            }
            if let start, let end, ids.count == 2 {
                spans.append(
                    TaskSpan(arrayJobID: ids[0], taskID: ids[1], start: start, end: end, status: status))
            }
        }
        return spans
    }

    /// Most tasks of `spans` whose time spans overlap at one moment.
    static func maxConcurrent(_ spans: [TaskSpan]) -> Int {
        var events: [(time: Double, change: Int)] = []
        for span in spans {
            events.append((span.start, 1))
            events.append((span.end, -1))
        }
        // At equal times an end comes before a start, so touching spans do not overlap.
        events.sort { $0.time == $1.time ? $0.change < $1.change : $0.time < $1.time }
        var running = 0
        var maximum = 0
        for (_, change) in events {
            running += change
            maximum = max(maximum, running)
        }
        return maximum
    }
}

/// MaxArraySize of the running cluster, from `scontrol show config`.
private func clusterMaxArraySize() throws -> Int {
    let result = try ExecutableRunner.run("/usr/bin/scontrol", ["show", "config"], timeout: 30)
    let line = try #require(
        result.output.split(separator: "\n").first { $0.hasPrefix("MaxArraySize") })
    return try #require(Int(line.split(separator: "=").last?.trimmingCharacters(in: .whitespaces) ?? ""))
}

/// Checks that every planned run of `launch` is done, once, with one attempt.
private func expectEveryRunDoneOnce(_ launch: ArrayLaunch) {
    let rows = launch.summary.rows
    #expect(rows.count == teacherRuns + studentRuns, "\(launch.transcript)")
    let runIDs = rows.compactMap { launch.summary.value($0, "run_id") }
    #expect(Set(runIDs).count == teacherRuns + studentRuns)
    for row in rows {
        let runID = launch.summary.value(row, "run_id") ?? "?"
        #expect(launch.summary.value(row, "status") == "done", "run \(runID)")
        #expect(launch.summary.value(row, "attempts") == "1", "run \(runID)")
        #expect(launch.startsPerRun[runID] == 1, "run \(runID) started \(launch.startsPerRun[runID] ?? 0) times")
    }
    #expect(launch.result.status == 0, "\(launch.transcript)")
}

@Suite(
    "Slurm job arrays",
    .serialized,
    .enabled(if: sbatchOnPath, "sbatch is not on PATH; scripts/test.sh installs and starts Slurm")
)
struct SlurmArrayTests {
    /// One launch with one run per task, shared by the checks on its results.
    nonisolated(unsafe) private static var oneRunPerTaskLaunch: ArrayLaunch?

    private static func oneRunPerTask() throws -> ArrayLaunch {
        if let launch = oneRunPerTaskLaunch { return launch }
        let launch = try ArrayLaunch([])
        oneRunPerTaskLaunch = launch
        return launch
    }

    @Test("one run per task finishes every run once")
    func oneRunPerTaskRuns() throws {
        let launch = try Self.oneRunPerTask()
        expectEveryRunDoneOnce(launch)
        #expect(launch.spans.count == teacherRuns + studentRuns)
        #expect(launch.spans.allSatisfy { $0.status == 0 })
    }

    @Test("arrays above MaxArraySize are split")
    func splitArrays() throws {
        let maxArraySize = try clusterMaxArraySize()
        let launch = try Self.oneRunPerTask()
        let expectedOffsets = { (count: Int) in Array(stride(from: 0, to: count, by: maxArraySize)) }
        let offsets = { (kind: String) in
            launch.arrays.filter { $0["run_kind"] as? String == kind }.compactMap { $0["offset"] as? Int }
        }
        #expect(offsets("teacher") == expectedOffsets(teacherRuns))
        #expect(offsets("student") == expectedOffsets(studentRuns))
        // scripts/test.sh sets MaxArraySize 4, so the 5 student runs need two arrays.
        if maxArraySize < studentRuns {
            #expect(launch.jobIDs(kind: "student").count >= 2)
        }
        for span in launch.spans {
            #expect(span.taskID < maxArraySize, "task \(span.arrayJobID)_\(span.taskID)")
        }
    }

    @Test("teacher array ends before students start")
    func dependencyOrder() throws {
        let launch = try Self.oneRunPerTask()
        let teacherJobs = Set(launch.jobIDs(kind: "teacher"))
        let teachers = launch.spans.filter { teacherJobs.contains($0.arrayJobID) }
        let students = launch.spans.filter { !teacherJobs.contains($0.arrayJobID) }
        #expect(teachers.count == teacherRuns)
        #expect(students.count == studentRuns)
        let lastTeacherEnd = try #require(teachers.map(\.end).max())
        let firstStudentStart = try #require(students.map(\.start).min())
        #expect(lastTeacherEnd <= firstStudentStart)
    }

    @Test("second launch of a done sweep submits nothing")
    func relaunchDoneSweep() throws {
        let launch = try Self.oneRunPerTask()
        let jobsBefore = try Data(contentsOf: launch.out.appendingPathComponent("slurm-jobs.json"))
        let again = try ExecutableRunner.run(
            "asib-sweep", ["launch", "--array", "--out", launch.out.path, tinySweep], timeout: 120)
        #expect(again.status == 0, "stderr: \(again.error)")
        #expect(again.output.contains("every run is already done; no job array submitted"))
        #expect(!again.output.contains("submitted teacher job array"))
        #expect(!again.output.contains("submitted student job array"))
        let jobsAfter = try Data(contentsOf: launch.out.appendingPathComponent("slurm-jobs.json"))
        #expect(jobsAfter == jobsBefore)
    }

    @Test("3 shards finish every run once")
    func threeShards() throws {
        let launch = try ArrayLaunch(["--shards", "3"])
        expectEveryRunDoneOnce(launch)
        let teacherJobs = Set(launch.jobIDs(kind: "teacher"))
        #expect(launch.spans.filter { teacherJobs.contains($0.arrayJobID) }.count == teacherRuns)
        #expect(launch.spans.filter { !teacherJobs.contains($0.arrayJobID) }.count == 3)
        #expect(launch.arrays.compactMap { $0["shards"] as? Int }.allSatisfy { $0 <= 3 })
    }

    @Test("throttle 2 caps running tasks")
    func throttle() throws {
        let launch = try ArrayLaunch(["--throttle", "2"])
        expectEveryRunDoneOnce(launch)
        #expect(launch.arrays.allSatisfy { ($0["array"] as? String)?.hasSuffix("%2") == true })
        for jobID in launch.arrays.compactMap({ $0["job_id"] as? Int }) {
            let spans = launch.spans.filter { $0.arrayJobID == jobID }
            #expect(ArrayLaunch.maxConcurrent(spans) <= 2, "array \(jobID)")
        }
    }

    @Test("failed teacher cancels the student arrays")
    func failedTeacher() throws {
        let folder = try ExecutableRunner.temporaryDirectory("slurm-fail")
        // A learning rate of 1e30 makes the teachers' loss non-finite in their second step.
        let spec = folder.appendingPathComponent("failing-teachers.yaml")
        try """
            sweep: failing-teachers
            config: base
            overrides: [dataset.train_limit=200, dataset.test_limit=100, dataset.batch_size=50,
                        student_epochs=1]
            teachers:
              teacher1: {model: resnet8, seed: 101}
              teacher2: {model: resnet8, seed: 102}
            teacher_overrides: [student_lr=1.0e+30]
            students:
              model: resnet8
              axes: {method: [vanilla_kd], rung: [none], seed: [1, 2]}
            """.write(to: spec, atomically: true, encoding: .utf8)
        let out = folder.appendingPathComponent("results")
        let result = try ExecutableRunner.run(
            "asib-sweep",
            [
                "launch", "--array", "--max-attempts", "1", "--configs", "configs", "--out",
                out.path, spec.path,
            ],
            timeout: 120)
        #expect(result.status == 1, "stdout: \(result.output)\nstderr: \(result.error)")
        #expect(result.output.contains("cancelled 2 array tasks that no run needs any more"))

        let summary = try CSVTable(url: out.appendingPathComponent("summary.csv"))
        for row in summary.rows {
            let expected = summary.value(row, "kind") == "teacher" ? "failed" : "cancelled"
            #expect(summary.value(row, "status") == expected, "run \(row[1])")
        }
        let spans = try ArrayLaunch.readSpans(in: out.appendingPathComponent("logs/slurm"))
        #expect(spans.count == 2, "only the teacher tasks start")
        #expect(spans.allSatisfy { $0.status == 1 })

        let jobsData = try Data(contentsOf: out.appendingPathComponent("slurm-jobs.json"))
        let jobs = try #require(try JSONSerialization.jsonObject(with: jobsData) as? [String: Any])
        let jobIDs = try #require(jobs["arrays"] as? [[String: Any]]).compactMap { $0["job_id"] as? Int }
        let squeue = try ExecutableRunner.run(
            "/usr/bin/squeue", ["-h", "-j", jobIDs.map(String.init).joined(separator: ","), "-o", "%i %T"],
            timeout: 30)
        #expect(squeue.output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
    }

    @Test("status and cancel act on the sweep's jobs")
    func statusAndCancel() throws {
        let out = try ExecutableRunner.temporaryDirectory("slurm-cancel")
        // Three epochs per run and one task at a time keep the arrays busy for about 30 s.
        let launch = try ExecutableRunner.run(
            "asib-sweep",
            [
                "launch", "--array", "--detach", "--throttle", "1", "--out", out.path, tinySweep,
                "student_epochs=3",
            ],
            timeout: 120)
        #expect(launch.status == 0, "stdout: \(launch.output)\nstderr: \(launch.error)")
        #expect(launch.output.contains("coordinator running in the background"))
        let jobsData = try Data(contentsOf: out.appendingPathComponent("slurm-jobs.json"))
        let jobs = try #require(try JSONSerialization.jsonObject(with: jobsData) as? [String: Any])
        let pid = try #require(jobs["coordinator_pid"] as? Int)
        let jobIDs = try #require(jobs["arrays"] as? [[String: Any]]).compactMap { $0["job_id"] as? Int }
        #expect(!jobIDs.isEmpty)

        let status = try ExecutableRunner.run("asib-sweep", ["status", out.path])
        #expect(status.status == 0)
        #expect(!status.output.contains("0 queued, 0 running, 7 done"), "status output: \(status.output)")
        for jobID in jobIDs {
            #expect(status.output.contains("  \(jobID)  "), "status output: \(status.output)")
        }

        let cancel = try ExecutableRunner.run("asib-sweep", ["cancel", out.path])
        #expect(cancel.status == 0, "stderr: \(cancel.error)")
        #expect(cancel.output.contains("cancelled job arrays"))

        // The background coordinator notices that no task is left and exits.
        let deadline = Date().addingTimeInterval(60)
        while kill(Int32(pid), 0) == 0 && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.5)
        }
        #expect(kill(Int32(pid), 0) != 0, "coordinator pid \(pid) still runs after cancel")

        let squeue = try ExecutableRunner.run(
            "/usr/bin/squeue", ["-h", "-j", jobIDs.map(String.init).joined(separator: ","), "-o", "%i %T"],
            timeout: 30)
        #expect(squeue.output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
        let summary = try CSVTable(url: out.appendingPathComponent("summary.csv"))
        let statuses = summary.rows.compactMap { summary.value($0, "status") }
        #expect(statuses.count == teacherRuns + studentRuns)
        #expect(statuses.contains { $0 != "done" }, "statuses \(statuses)")
        let log = try String(contentsOf: out.appendingPathComponent("logs/coordinator.log"), encoding: .utf8)
        #expect(log.contains("no task of job arrays"), "coordinator log: \(log)")
    }
}

@Suite("asib-worker array task guards")
struct ArrayTaskGuardTests {
    /// Writes plan.json of the tiny sweep into a new folder; returns its path and plan_sha256.
    private func writePlan() throws -> (path: String, sha256: String) {
        let out = try ExecutableRunner.temporaryDirectory("array-guard")
        let result = try ExecutableRunner.run("asib-sweep", ["plan", "--out", out.path, tinySweep])
        #expect(result.status == 0, "stderr: \(result.error)")
        let url = out.appendingPathComponent("plan.json")
        let plan = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        return (url.path, try #require(plan["plan_sha256"] as? String))
    }

    private func worker(
        taskID: String?, plan: (path: String, sha256: String), extra: [String] = []
    ) throws -> ExecutableRunner.Result {
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("SLURM_") }
        environment["SLURM_ARRAY_TASK_ID"] = taskID
        return try ExecutableRunner.run(
            "asib-worker",
            ["--connect", "tcp://127.0.0.1:9", "--plan", plan.path, "--plan-sha256", plan.sha256]
                + extra,
            timeout: 60, environment: environment)
    }

    @Test("missing task ID exits 64")
    func missingTaskID() throws {
        let result = try worker(taskID: nil, plan: writePlan())
        #expect(result.status == 64)
        #expect(result.error.contains("SLURM_ARRAY_TASK_ID is not set"))
    }

    @Test("garbage task ID exits 64", arguments: ["", "x1", "-2", "1.5"])
    func garbageTaskID(value: String) throws {
        let result = try worker(taskID: value, plan: writePlan())
        #expect(result.status == 64)
        #expect(result.error.contains("invalid SLURM_ARRAY_TASK_ID '\(value)'"))
    }

    @Test("task beyond the plan has nothing to do")
    func beyondPlan() throws {
        let plan = try writePlan()
        let result = try worker(taskID: "5", plan: plan, extra: ["--run-kind", "student"])
        #expect(result.status == 0, "stderr: \(result.error)")
        #expect(result.error.contains("nothing to do"))
        let offset = try worker(taskID: "1", plan: plan, extra: ["--array-offset", "6"])
        #expect(offset.status == 0, "stderr: \(offset.error)")
        #expect(offset.error.contains("nothing to do"))
    }

    @Test("changed plan hash exits 64")
    func changedPlan() throws {
        let plan = try writePlan()
        let other = String(repeating: "0", count: 64)
        let result = try worker(taskID: "0", plan: (plan.path, other))
        #expect(result.status == 64)
        #expect(result.error.contains("submitted for \(other)"))
    }

    @Test("dry run prints scripts and submits nothing")
    func dryRun() throws {
        let out = try ExecutableRunner.temporaryDirectory("array-dry")
        let target = out.appendingPathComponent("results")
        let result = try ExecutableRunner.run(
            "asib-sweep",
            ["launch", "--array", "--dry-run", "--shards", "3", "--throttle", "2", "--out", target.path, tinySweep])
        #expect(result.status == 0, "stderr: \(result.error)")
        #expect(result.output.contains("#SBATCH --cpus-per-task=1"))
        #expect(result.output.contains("ASIB_RUN_KIND=teacher"))
        #expect(result.output.contains("--dependency=afterok:TEACHER_JOB_IDS"))
        #expect(result.output.contains("sbatch --parsable --array=0-1%2"))
        #expect(!FileManager.default.fileExists(atPath: target.path))
    }

    @Test("invalid throttle and bind address exit 64")
    func invalidOptions() throws {
        let throttle = try ExecutableRunner.run(
            "asib-sweep", ["launch", "--array", "--dry-run", "--throttle", "0", tinySweep])
        #expect(throttle.status == 64)
        #expect(throttle.error.contains("invalid array throttle '0'"))
        let bind = try ExecutableRunner.run(
            "asib-sweep", ["launch", "--array", "--dry-run", "--bind", "tcp://x", tinySweep])
        #expect(bind.status == 64)
        #expect(bind.error.contains("invalid --bind"))
        let wildcard = try ExecutableRunner.run(
            "asib-sweep", ["launch", "--array", "--dry-run", "--bind", "0.0.0.0", tinySweep])
        #expect(wildcard.status == 64)
        #expect(wildcard.error.contains("not a wildcard"))
    }
}
