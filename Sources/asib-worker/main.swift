import ASIBSupport
import ASIBTrainer
import ASIBWorker
import Foundation

// asib-worker: serves a coordinator (`--connect`) or trains one run standalone (`run`).

let usage = """
    USAGE: asib-worker --connect tcp://HOST:PORT [--threads N] [--worker-id ID] [--shard I/N]
                       [--spool DIR] [--keys DIR] [-v]
           asib-worker run CONFIG [KEY=VALUE ...] [--out DIR] [--threads N]

    Trains runs for an asib-sweep coordinator until it has no more work, or trains the effective
    config CONFIG (JSON or YAML, e.g. a run's config.json) once without a coordinator.

    OPTIONS:
      --connect ENDPOINT  Coordinator address printed by 'asib-sweep launch'.
      --threads N         OpenBLAS threads (default: OPENBLAS_NUM_THREADS, else SLURM_CPUS_PER_TASK,
                          else 1).
      --worker-id ID      Name in the coordinator's logs (default: host-pid).
      --shard I/N         Only runs whose index mod N equals I (Slurm sharding).
      --spool DIR         Folder for metric records until the coordinator acknowledges them
                          (default: asib-spool/<worker id>). Records left there are sent again
                          by the next worker on the folder, or merged by 'asib-sweep ingest'.
      --keys DIR          CURVE keys made by 'asib-sweep keys DIR': connect with worker.secret
                          and accept only the coordinator key in coordinator.pub.
      --out DIR           Run folder for 'run' (default: runs/standalone).
      -v, --verbose       Log progress at info level.
    """

setvbuf(stdout, nil, _IOLBF, 0)
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
    let workerID = try arguments.value("--worker-id")
        ?? "\(ProcessInfo.processInfo.hostName)-\(getpid())"
    let spool = try arguments.value("--spool") ?? "asib-spool/\(workerID)"
    let keys = try arguments.value("--keys")
    let extra = try arguments.positionals()
    guard extra.isEmpty else {
        throw UsageError("unexpected argument '\(extra[0])'\n\n" + usage)
    }
    let session = try WorkerSession(
        endpoint: endpoint, workerID: workerID, shard: shard,
        spoolDirectory: URL(fileURLWithPath: spool),
        keysDirectory: keys.map { URL(fileURLWithPath: $0) }
    )
    _ = try session.serve()
} catch let error as ReportableError {
    FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
    exit(error.exitCode)
} catch {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    exit(ExitCode.failure)
}
