import ASIBPlan
import ASIBSlurm
import ASIBSupport
import ASIBTrainer
import ASIBWorker
import Foundation

// asib-worker: serves a coordinator (`--connect`) or trains one run standalone (`run`).

let usage = """
    USAGE: asib-worker --connect tcp://HOST:PORT [--threads N] [--worker-id ID] [--shard I/N]
                       [--spool DIR] [--keys DIR] [-v]
           asib-worker --connect tcp://HOST:PORT --plan PLAN.json --plan-sha256 HEX
                       [--run-kind all|teacher|student] [--shards K] [--array-offset O]
                       [--spool DIR] [--keys DIR] [-v]
           asib-worker run CONFIG [KEY=VALUE ...] [--out DIR] [--threads N]

    Trains runs for an asib-sweep coordinator until it has no more work, or trains the effective
    config CONFIG (JSON or YAML, e.g. a run's config.json) once without a coordinator.

    With --plan, the worker is one task of a Slurm job array: it reads SLURM_ARRAY_TASK_ID,
    checks that PLAN.json still has the plan_sha256 HEX, and serves only the runs of shard
    SLURM_ARRAY_TASK_ID + O. A task beyond the last shard logs "nothing to do" and exits 0.

    OPTIONS:
      --connect ENDPOINT  Coordinator address printed by 'asib-sweep launch'.
      --threads N         OpenBLAS threads (default: OPENBLAS_NUM_THREADS, else SLURM_CPUS_PER_TASK,
                          else 1).
      --worker-id ID      Name in the coordinator's logs (default: host-pid, or
                          slurm-ARRAYJOB_TASK in an array task).
      --shard I/N         Only runs whose plan index mod N equals I; the worker exits once
                          they have all finished.
      --spool DIR         Folder for metric records until the coordinator acknowledges them
                          (default: asib-spool/<worker id>). Records left there are sent again
                          by the next worker on the folder, or merged by 'asib-sweep ingest'.
      --keys DIR          CURVE keys made by 'asib-sweep keys DIR': connect with worker.secret
                          and accept only the coordinator key in coordinator.pub.
      --plan PLAN.json    Plan file of the sweep (array task mode).
      --plan-sha256 HEX   plan_sha256 the array was submitted with (required with --plan).
      --run-kind KIND     Runs the task IDs count: all (default), teacher or student.
      --shards K          Number of shards among those runs (default: one run per task).
      --array-offset O    Shard of task 0 of this array, for split arrays (default 0).
      --out DIR           Run folder for 'run' (default: runs/standalone).
      -v, --verbose       Log progress at info level.
    """

setvbuf(stdout, nil, _IOLBF, 0)
// launch ignores and blocks these signals to handle them through dispatch sources, and its
// children inherit that disposition and mask. The worker restores both so that it stops on
// them. Threads started later inherit the main thread's mask.
var stopSignals = sigset_t()
sigemptyset(&stopSignals)
for signalNumber in [SIGINT, SIGTERM, SIGHUP] {
    signal(signalNumber, SIG_DFL)
    sigaddset(&stopSignals, signalNumber)
}
pthread_sigmask(SIG_UNBLOCK, &stopSignals, nil)
BLASCore.restartWithDetectedCoreIfNeeded()
Log.setProgram("asib-worker")
var arguments = CommandLineArguments(Array(CommandLine.arguments.dropFirst()))
if arguments.flag("-v", "--verbose") {
    Log.level = .info
}

func defaultThreads() -> Int {
    let environment = ProcessInfo.processInfo.environment
    for name in ["OPENBLAS_NUM_THREADS", "SLURM_CPUS_PER_TASK"] {
        if let text = environment[name], let value = Int(text), value > 0 {
            return value
        }
    }
    return 1
}

do {
    if arguments.flag("-h", "--help") {
        print(usage)
        exit(ExitCode.success)
    }
    let threads = try arguments.integer("--threads", in: 1...256) ?? defaultThreads()
    setBLASThreads(threads)

    if CommandLine.arguments.dropFirst().first == "run" {
        let out = try arguments.value("--out") ?? "runs/standalone"
        var positionals = try arguments.positionals()
        positionals.removeFirst()
        guard let file = positionals.first else {
            throw UsageError("missing CONFIG: give an effective config file, e.g. results/x/runs/y/config.json")
        }
        try StandaloneRun(
            configFile: URL(fileURLWithPath: file), overrides: Array(positionals.dropFirst()),
            runDirectory: URL(fileURLWithPath: out)
        ).run()
        exit(ExitCode.success)
    }

    guard let endpoint = try arguments.value("--connect") else {
        throw UsageError("missing --connect ENDPOINT (or the 'run' subcommand)\n\n" + usage)
    }
    let shard = try arguments.value("--shard")
    if let shard {
        let parts = shard.split(separator: "/", omittingEmptySubsequences: false).map { Int($0) }
        guard parts.count == 2, let index = parts[0], let count = parts[1], count > 0,
              (0..<count).contains(index)
        else {
            throw UsageError(
                "invalid --shard '\(shard)': expected I/N with 0 <= I < N, e.g. --shard 0/2"
            )
        }
    }
    let explicitWorkerID = try arguments.value("--worker-id")
    let spoolOption = try arguments.value("--spool")
    let keys = try arguments.value("--keys").map { URL(fileURLWithPath: $0) }
    let arrayTask = try ArrayTaskOptions(arguments: &arguments)
    let extra = try arguments.positionals()
    guard extra.isEmpty else {
        throw UsageError("unexpected argument '\(extra[0])'\n\n" + usage)
    }
    guard let arrayTask else {
        let workerID = explicitWorkerID ?? "\(ProcessInfo.processInfo.hostName)-\(getpid())"
        let session = try WorkerSession(
            endpoint: endpoint, workerID: workerID, shard: shard,
            spoolDirectory: URL(fileURLWithPath: spoolOption ?? "asib-spool/\(workerID)"),
            keysDirectory: keys
        )
        _ = try session.serve()
        exit(ExitCode.success)
    }
    exit(try arrayTask.serve(
        endpoint: endpoint, workerID: explicitWorkerID, spool: spoolOption, keysDirectory: keys
    ))
} catch let error as ReportableError {
    FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
    exit(error.exitCode)
} catch {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    exit(ExitCode.failure)
}
