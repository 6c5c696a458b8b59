import ASIBPlan
import ASIBSlurm
import ASIBSupport
import ASIBWorker
import Foundation

/// The array task mode of asib-worker (`--plan`): which runs this Slurm array task serves.
struct ArrayTaskOptions {
    let planPath: String
    let planSHA256: String
    let runKind: ArrayRunKind
    let shards: Int?
    let offset: Int

    /// Takes the array task options out of `arguments`; returns nil without `--plan`.
    init?(arguments: inout CommandLineArguments) throws {
        let planPath = try arguments.value("--plan")
        let planSHA256 = try arguments.value("--plan-sha256")
        let runKind = try arguments.value("--run-kind").map(ArrayRunKind.parse) ?? .all
        let shards = try arguments.integer("--shards", in: 1...Int(Int32.max))
        let offset = try arguments.integer("--array-offset", in: 0...Int(Int32.max))
        guard let planPath else {
            if planSHA256 != nil || shards != nil || offset != nil {
                throw UsageError(
                    "--plan-sha256, --shards and --array-offset need --plan PLAN.json, the plan "
                        + "file of the sweep whose array task this worker runs")
            }
            return nil
        }
        guard let planSHA256 else {
            throw UsageError(
                "missing --plan-sha256 HEX: give the plan_sha256 of '\(planPath)' that the job "
                    + "array was submitted with")
        }
        self.planPath = planPath
        self.planSHA256 = planSHA256
        self.runKind = runKind
        self.shards = shards
        self.offset = offset ?? 0
    }

    /// Serves this task's runs and returns the exit status: 0 when every run it trained ended
    /// done or it had nothing to do, 1 when a run's latest attempt failed, so that jobs
    /// submitted with `--dependency=afterok` on this array do not start.
    func serve(
        endpoint: String, workerID explicitWorkerID: String?, spool: String?, keysDirectory: URL?
    ) throws -> Int32 {
        let environment = ProcessInfo.processInfo.environment
        let plan = try ArrayTaskRuns.loadPinnedPlan(path: planPath, expectedSHA256: planSHA256)
        let task = try ArrayTaskRuns(
            environment: environment, plan: plan, kind: runKind, offset: offset, shards: shards)
        let arrayJob = environment["SLURM_ARRAY_JOB_ID"] ?? "?"
        if task.runIndices.isEmpty {
            Log.notice(
                "nothing to do: no run of this plan maps to this array task",
                [
                    "task": task.taskID, "offset": offset, "run_kind": runKind.rawValue,
                    "shards": shards.map(String.init) ?? "one run per task",
                    "plan_runs": plan.runs.count,
                ])
            return ExitCode.success
        }
        let workerID = explicitWorkerID ?? "slurm-\(arrayJob)_\(task.taskID)"
        let runIDs = task.runIndices.map { plan.runs[$0].runID }
        Log.notice(
            "array task serves runs",
            ["task": task.taskID, "runs": runIDs.joined(separator: ","), "worker": workerID])
        let session = try WorkerSession(
            endpoint: endpoint, workerID: workerID, shard: nil,
            spoolDirectory: URL(fileURLWithPath: spool ?? "asib-spool/\(workerID)"),
            keysDirectory: keysDirectory, runIndices: task.runIndices)
        let trained = try session.serve()
        let failed = session.failedRuns
        guard failed.isEmpty else {
            Log.error(
                "array task ends with failed runs",
                ["failed": failed.joined(separator: ","), "runs_trained": trained])
            return ExitCode.failure
        }
        return ExitCode.success
    }
}
