import ASIBPlan
import ASIBSlurm
import Foundation
import Testing

/// A plan of `teachers` teacher runs followed by `students` student runs.
private func makePlan(teachers: Int, students: Int) -> Plan {
    let kinds = Array(repeating: "teacher", count: teachers)
        + Array(repeating: "student", count: students)
    let runs = kinds.enumerated().map { index, kind in
        PlannedRun(
            index: index, runID: "\(kind)-\(index)", kind: kind,
            method: kind == "teacher" ? "teacher" : "vanilla_kd", rung: "none", seed: index,
            configSHA256: String(repeating: String(index % 10), count: 64),
            dependsOn: kind == "teacher" ? [] : ["teacher-0"], overrides: ["seed=\(index)"])
    }
    return Plan(sweep: "unit", runs: runs)
}

@Suite("Array task runs")
struct ArrayTaskRunsTests {
    private let plan = makePlan(teachers: 2, students: 5)

    @Test("one run per task counts runs of its kind")
    func oneRunPerTask() throws {
        let teacher = try ArrayTaskRuns(taskID: 1, plan: plan, kind: .teacher, offset: 0, shards: nil)
        #expect(teacher.runIndices == [1])
        let student = try ArrayTaskRuns(taskID: 0, plan: plan, kind: .student, offset: 0, shards: nil)
        #expect(student.runIndices == [2])
        let last = try ArrayTaskRuns(taskID: 4, plan: plan, kind: .student, offset: 0, shards: nil)
        #expect(last.runIndices == [6])
        let all = try ArrayTaskRuns(taskID: 5, plan: plan, kind: .all, offset: 0, shards: nil)
        #expect(all.runIndices == [5])
    }

    @Test("split array adds its offset")
    func splitArrayOffset() throws {
        // MaxArraySize 4: student tasks 0-3 in one array, task 0 of the next has offset 4.
        let task = try ArrayTaskRuns(taskID: 0, plan: plan, kind: .student, offset: 4, shards: nil)
        #expect(task.runIndices == [6])
        #expect(task.assignment == .shard(index: 4, count: 5))
    }

    @Test("shards take every K-th run of their kind")
    func shardedRuns() throws {
        let expected = [[2, 5], [3, 6], [4]]
        for shard in 0..<3 {
            let task = try ArrayTaskRuns(
                taskID: shard, plan: plan, kind: .student, offset: 0, shards: 3)
            #expect(task.runIndices == expected[shard], "shard \(shard)")
        }
    }

    @Test("every run maps to exactly one task")
    func coverEveryRunOnce() throws {
        let plan = makePlan(teachers: 3, students: 23)
        for shards in [nil, 1, 2, 5, 23] as [Int?] {
            for maxArraySize in [1, 4, 1001] {
                var served: [Int] = []
                for kind in [ArrayRunKind.teacher, .student] {
                    let count = kind.runs(of: plan).count
                    let taskCount = shards.map { min($0, count) } ?? count
                    let chunks = try ArrayChunk.split(
                        taskCount: taskCount, maxArraySize: maxArraySize, throttle: nil)
                    for chunk in chunks {
                        for taskID in 0..<chunk.count {
                            served += try ArrayTaskRuns(
                                taskID: taskID, plan: plan, kind: kind, offset: chunk.offset,
                                shards: shards.map { min($0, count) }
                            ).runIndices
                        }
                    }
                }
                #expect(
                    served.sorted() == Array(0..<26),
                    "shards \(String(describing: shards)), MaxArraySize \(maxArraySize)")
            }
        }
    }

    @Test("task beyond the plan has nothing to do")
    func beyondPlan() throws {
        let task = try ArrayTaskRuns(taskID: 5, plan: plan, kind: .student, offset: 0, shards: nil)
        #expect(task.runIndices.isEmpty)
        #expect(task.assignment == .nothingToDo(taskID: 5, offset: 0, count: 5))
        let emptyShard = try ArrayTaskRuns(
            taskID: 6, plan: plan, kind: .student, offset: 0, shards: 8)
        #expect(emptyShard.runIndices.isEmpty)
        let noTeachers = try ArrayTaskRuns(
            taskID: 0, plan: makePlan(teachers: 0, students: 2), kind: .teacher, offset: 0,
            shards: nil)
        #expect(noTeachers.runIndices.isEmpty)
    }

    @Test("task ID comes from SLURM_ARRAY_TASK_ID")
    func taskIDFromEnvironment() throws {
        let task = try ArrayTaskRuns(
            environment: ["SLURM_ARRAY_TASK_ID": "3"], plan: plan, kind: .all, offset: 0,
            shards: nil)
        #expect(task.taskID == 3)
        #expect(task.runIndices == [3])
    }

    @Test("missing task ID is an error, not task 0")
    func missingTaskID() {
        let error = #expect(throws: SlurmError.self) {
            try ArrayTaskRuns(environment: [:], plan: plan, kind: .all, offset: 0, shards: nil)
        }
        #expect(error == .missingTaskID(variable: "SLURM_ARRAY_TASK_ID"))
        #expect(error?.exitCode == 64)
    }

    @Test("garbage task IDs are errors", arguments: ["", "abc", "-1", "+3", " 3", "3.0", "0x1"])
    func garbageTaskID(value: String) {
        let error = #expect(throws: SlurmError.self) {
            try ArrayTaskRuns(
                environment: ["SLURM_ARRAY_TASK_ID": value], plan: plan, kind: .all, offset: 0,
                shards: nil)
        }
        #expect(error == .invalidTaskID(variable: "SLURM_ARRAY_TASK_ID", value: value))
        #expect(error?.exitCode == 64)
    }

    @Test("unknown run kind is rejected")
    func unknownRunKind() throws {
        #expect(throws: SlurmError.self) { try ArrayRunKind.parse("teachers") }
        #expect(try ArrayRunKind.parse("student") == .student)
    }
}

@Suite("Plan pinning")
struct PlanPinningTests {
    private func writePlan(_ plan: Plan) throws -> URL {
        let url = try TestFiles.makeScratchFolder("pin").appendingPathComponent("plan.json")
        try plan.jsonText().write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    @Test("plan with the submitted hash loads")
    func matchingHash() throws {
        let plan = makePlan(teachers: 1, students: 2)
        let url = try writePlan(plan)
        let loaded = try ArrayTaskRuns.loadPinnedPlan(path: url.path, expectedSHA256: plan.planSHA256)
        #expect(loaded == plan)
    }

    @Test("plan planned again after submission is rejected")
    func changedPlan() throws {
        let submitted = makePlan(teachers: 1, students: 2)
        let url = try writePlan(makePlan(teachers: 1, students: 3))
        let error = #expect(throws: SlurmError.self) {
            try ArrayTaskRuns.loadPinnedPlan(path: url.path, expectedSHA256: submitted.planSHA256)
        }
        #expect(error?.exitCode == 64)
        #expect(error?.description.contains(submitted.planSHA256) == true)
    }

    @Test("edited plan file is rejected")
    func editedRuns() throws {
        let plan = makePlan(teachers: 1, students: 2)
        let url = try writePlan(plan)
        let edited = plan.jsonText().replacingOccurrences(of: "\"seed=1\"", with: "\"seed=9\"")
        #expect(edited != plan.jsonText())
        try edited.write(to: url, atomically: true, encoding: .utf8)
        let error = #expect(throws: SlurmError.self) {
            try ArrayTaskRuns.loadPinnedPlan(path: url.path, expectedSHA256: plan.planSHA256)
        }
        #expect(error?.description.contains("cannot use plan file") == true)
    }

    @Test("missing plan file and malformed hash are rejected")
    func missingFileAndBadHash() throws {
        let plan = makePlan(teachers: 1, students: 1)
        #expect(throws: SlurmError.self) {
            try ArrayTaskRuns.loadPinnedPlan(path: "/nonexistent/plan.json", expectedSHA256: plan.planSHA256)
        }
        let url = try writePlan(plan)
        #expect(throws: SlurmError.self) {
            try ArrayTaskRuns.loadPinnedPlan(path: url.path, expectedSHA256: plan.planSHA256.uppercased())
        }
    }
}
