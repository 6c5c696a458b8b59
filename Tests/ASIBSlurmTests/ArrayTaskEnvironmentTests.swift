import ASIBSlurm
import Testing

@Suite("Array task ID")
struct ArrayTaskEnvironmentTests {
    @Test("task ID is read from SLURM_ARRAY_TASK_ID")
    func readsTaskID() throws {
        let id = try ArrayTaskEnvironment.taskID(in: ["SLURM_ARRAY_TASK_ID": "17"])
        #expect(id == 17)
    }

    @Test("missing task ID is an error, not task 0")
    func missingTaskID() {
        #expect(throws: SlurmError.missingTaskID(variable: "SLURM_ARRAY_TASK_ID")) {
            try ArrayTaskEnvironment.taskID(in: ["SLURM_JOB_ID": "5"])
        }
    }

    @Test(
        "garbage task IDs are errors",
        arguments: ["", "abc", "-1", "+3", " 3", "3 ", "3.0", "0x1", "٣", "99999999999999999999"]
    )
    func garbageTaskID(text: String) {
        #expect(throws: SlurmError.invalidTaskID(variable: "SLURM_ARRAY_TASK_ID", value: text)) {
            try ArrayTaskEnvironment.taskID(in: ["SLURM_ARRAY_TASK_ID": text])
        }
    }

    @Test("missing task ID exits with the usage code")
    func missingTaskIDExitCode() {
        #expect(SlurmError.missingTaskID(variable: "SLURM_ARRAY_TASK_ID").exitCode == 64)
    }
}
