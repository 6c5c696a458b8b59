import ASIBConfig
import ASIBCoordinator
import ASIBPlan
import ASIBSupport
import ASIBTrainer
import Foundation

/// `asib-sweep launch --local N`: plans the sweep, serves it to N local workers, writes tables.
/// `launch --array` goes to `ArrayLaunchCommand`.
struct LaunchCommand {
    var arguments: CommandLineArguments

    func run() throws {
        var arguments = self.arguments
        if arguments.flag("-h", "--help") {
            print(Help.launch)
            return
        }
        if arguments.flag("--array") {
            if try arguments.value("--local") != nil {
                throw UsageError(
                    "--local and --array exclude each other: give --local N for local workers "
                        + "or --array for Slurm job arrays")
            }
            try ArrayLaunchCommand(arguments: arguments).run()
            return
        }
        let localWorkers = try arguments.integer("--local", in: 0...64)
        let port = try arguments.integer("--port", in: 0...65535) ?? 0
        let maxAttempts = try arguments.integer("--max-attempts", in: 1...100) ?? 2
        let restarts = try arguments.integer("--worker-restarts", in: 0...1000)
        let keys = try arguments.value("--keys").map { URL(fileURLWithPath: $0).standardizedFileURL }
        let bindAddress = try arguments.value("--bind") ?? "127.0.0.1"
        let allowInsecure = arguments.flag("--allow-insecure-bind")
        try BindPolicy.check(address: bindAddress, keys: keys, allowInsecure: allowInsecure)
        let options = try SweepOptions(arguments: &arguments, subcommand: "launch")
        guard let localWorkers else {
            throw UsageError(
                "missing --local N: give the number of local worker processes, e.g. --local 2 "
                    + "(0 starts none, for workers started by hand with 'asib-worker --connect')"
            )
        }
        let workerExecutable = localWorkers > 0 ? try Self.workerExecutable() : URL(fileURLWithPath: "/")

        let sweep = try PlannedSweep(options: options)
        let (plan, runs, results) = (sweep.plan, sweep.runs, sweep.results)
        let (store, folderLock) = try sweep.register()
        defer { withExtendedLifetime(folderLock) {} }
        let coordinator = try sweep.makeCoordinator(
            endpoint: "tcp://\(bindAddress):\(port == 0 ? "*" : String(port))",
            maxAttempts: maxAttempts, store: store, keysDirectory: keys
        )
        let endpoint = try coordinator.bind()
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let threads = max(1, cores / max(1, localWorkers))
        print("sweep \(plan.sweep): \(runs.count) runs, plan \(plan.planSHA256.prefix(12))")
        print("results: \(results.path)")
        if localWorkers == 0 {
            print("coordinator: \(endpoint), no local workers; start workers with "
                + "'asib-worker --connect \(endpoint)'")
        } else {
            print("coordinator: \(endpoint), \(localWorkers) local workers x \(threads) BLAS threads")
        }

        // By default each local worker may be replaced twice on average, so a few crashes do
        // not shrink the pool while a worker that always crashes stops being restarted.
        let pool = LocalWorkerPool(restarts: restarts ?? 2 * localWorkers)
        InterruptHandler.install(pool: pool)
        if localWorkers > 0 {
            try pool.start(
                count: localWorkers, workerExecutable: workerExecutable, endpoint: endpoint,
                threads: threads, logDirectory: results.appendingPathComponent("logs"),
                extraArguments: keys.map { ["--keys", $0.path] } ?? []
            )
        }
        // Without local workers the coordinator cannot tell a slow worker from a missing one,
        // so it runs until every run has finished or it is interrupted.
        let outcome = try coordinator.serve(pool: localWorkers > 0 ? pool : nil)

        try Reports.write(store: store, to: results)
        print("finished: \(outcome.done) done, \(outcome.failed) failed, \(outcome.cancelled) cancelled")
        for name in ["summary.csv", "epochs.csv", "table.csv"] {
            print("  \(results.appendingPathComponent(name).path)")
        }
        if outcome.failed + outcome.cancelled > 0 {
            throw RuntimeFailure(
                "\(outcome.failed) runs failed and \(outcome.cancelled) were cancelled; "
                    + "see 'asib-sweep status \(results.path)' and the logs in \(results.path)/logs"
            )
        }
    }

    static func coordinatorRun(
        _ run: PlannedRun, configRoot: URL, primary: String
    ) throws -> CoordinatorRun {
        let composed = try Planner.effectiveConfig(for: run, configRoot: configRoot, primary: primary)
        return CoordinatorRun(
            index: run.index, runID: run.runID, kind: run.kind, method: run.method, rung: run.rung,
            seed: run.seed, configSHA256: run.configSHA256, dependsOn: run.dependsOn,
            overrides: run.overrides, configJSON: CanonicalJSON.string(composed.value)
        )
    }

    /// Checks every run's training options and data files before anything is written, so a
    /// bad value or a missing dataset stops the launch instead of failing each run.
    static func preflight(_ runs: [CoordinatorRun], spec: URL) throws {
        for run in runs {
            let config = try YAMLLoader.parse(text: run.configJSON, origin: "run \(run.runID)").value
            let slots = run.dependsOn.indices.map { "teacher\($0 + 1)" }
            do {
                try RunTrainer.preflight(config: config, pendingTeachers: slots)
            } catch let error as ReportableError where error.exitCode == ExitCode.usage {
                var message = "run \(run.runID) (index \(run.index)): \(error.description)"
                if case TrainerError.invalidOption(let key, _, _) = error {
                    message += " (" + origin(of: key, run: run, spec: spec) + ")"
                }
                throw UsageError(message)
            }
        }
    }

    /// Names where a run's value of `key` came from: the last override of the run that sets
    /// it, or else the config files, which `plan --explain INDEX` traces key by key.
    static func origin(of key: String, run: CoordinatorRun, spec: URL) -> String {
        let setting = run.overrides.last { override in
            let name = override.drop { "+~".contains($0) }.prefix { $0 != "=" }
            return name == key
        }
        if let setting {
            return "set by the run's override '\(setting)', from \(spec.path) or the command line"
        }
        return "set in the config files of this run; 'asib-sweep plan --explain \(run.index) "
            + "\(spec.path)' shows which file sets \(key)"
    }

    /// Moves `runs/RUN_ID` to `runs/ARCHIVED_ID`, so the new run starts in an empty folder
    /// and never resumes from the old config's files.
    static func archiveRunFolder(_ archived: SupersededRun, results: URL) throws {
        let from = RunFiles.runDirectory(results: results, runID: archived.runID)
        let to = RunFiles.runDirectory(results: results, runID: archived.archivedID)
        guard FileManager.default.fileExists(atPath: from.path) else { return }
        do {
            try FileManager.default.moveItem(at: from, to: to)
        } catch {
            throw RuntimeFailure(
                "cannot move '\(from.path)' to '\(to.path)': \(error.localizedDescription); "
                    + "move or remove the old run folder by hand"
            )
        }
    }

    static func runRecord(_ run: CoordinatorRun) -> RunRecord {
        RunRecord(
            index: run.index, runID: run.runID, kind: run.kind, method: run.method, rung: run.rung,
            seed: run.seed, configSHA256: run.configSHA256, dependsOn: run.dependsOn
        )
    }

    /// Returns the asib-worker built next to this executable.
    static func workerExecutable() throws -> URL {
        let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let worker = me.deletingLastPathComponent().appendingPathComponent("asib-worker")
        guard FileManager.default.isExecutableFile(atPath: worker.path) else {
            throw RuntimeFailure(
                "asib-worker not found at '\(worker.path)'; build both with 'swift build -c release'"
            )
        }
        return worker
    }
}

/// Stops local workers when the user interrupts `launch`, so no orphan keeps training.
enum InterruptHandler {
    nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []

    static func install(pool: LocalWorkerPool) {
        // A closed stdout (`launch ... | head`) must not kill the coordinator mid-sweep, so
        // writes to it fail quietly instead of raising SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        // SIGHUP arrives when the terminal closes. Like SIGINT and SIGTERM, it stops the local
        // workers, and the exit code follows the shell convention of 128 + signal number.
        for signalNumber in [SIGINT, SIGTERM, SIGHUP] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                Log.warning("interrupted, stopping local workers", ["signal": signalNumber])
                pool.terminateAll()
                pool.waitForExit(timeout: .seconds(5))
                exit(128 + signalNumber)
            }
            source.resume()
            sources.append(source)
        }
    }
}

/// A planned and preflighted sweep, shared by `launch --local` and `launch --array`.
struct PlannedSweep {
    let options: SweepOptions
    let plan: Plan
    let primary: String
    /// The results folder, as an absolute path.
    let results: URL
    let runs: [CoordinatorRun]

    /// Plans the sweep and checks every run's options and data files; writes nothing.
    init(options: SweepOptions) throws {
        self.options = options
        plan = try options.makePlan()
        primary = try SweepSpec.load(from: options.specURL).config
        results = options.resultsDirectory(for: plan).standardizedFileURL
        let configRoot = options.configRoot
        let primary = self.primary
        let runs = try plan.runs.map {
            try LaunchCommand.coordinatorRun($0, configRoot: configRoot, primary: primary)
        }
        try LaunchCommand.preflight(runs, spec: options.specURL)
        self.runs = runs
    }

    var planURL: URL {
        results.appendingPathComponent("plan.json")
    }

    /// Creates and locks the results folder, registers the plan in sweep.db and writes
    /// plan.json. The caller holds the returned lock until the sweep ends, so a second launch
    /// on the same folder stops with exit 64 instead of training the same runs.
    func register() throws -> (SweepStore, FolderLock) {
        let folderLock = try FolderLock(folder: results, purpose: "asib-sweep launch")
        let store = try SweepStore(path: results.appendingPathComponent("sweep.db"))
        // A run whose config changed since the last launch becomes a new run. The old one
        // keeps its results in sweep.db and its folder under the archived id.
        for archived in try store.supersedeChangedRuns(planned: runs.map(LaunchCommand.runRecord)) {
            try LaunchCommand.archiveRunFolder(archived, results: results)
            print("config of \(archived.runID) changed: old results kept as \(archived.archivedID)")
        }
        for archived in try store.supersedeRuns(try doneTeachersWithoutCheckpoint(store)) {
            try LaunchCommand.archiveRunFolder(archived, results: results)
            print(
                "checkpoint of \(archived.runID) is missing: training it again "
                    + "(old results kept as \(archived.archivedID))"
            )
        }
        try store.registerPlan(
            sweep: plan.sweep, planSHA256: plan.planSHA256, runs: runs.map(LaunchCommand.runRecord)
        )
        try AtomicFile.write(plan.jsonText(), to: planURL)
        return (store, folderLock)
    }

    /// Runs that the store lists as done and that an unfinished planned run depends on, but
    /// whose checkpoint file is gone. Their dependents would fail, so they train again.
    private func doneTeachersWithoutCheckpoint(_ store: SweepStore) throws -> [String] {
        let status = Dictionary(
            uniqueKeysWithValues: try store.runs().map { ($0.runID, $0.status) }
        )
        let needed = Set(
            runs.filter { status[$0.runID] != RunStatus.done.rawValue }.flatMap(\.dependsOn)
        )
        return needed.sorted().filter { runID in
            status[runID] == RunStatus.done.rawValue
                && !FileManager.default.fileExists(
                    atPath: RunFiles.checkpoint(results: results, runID: runID).path
                )
        }
    }

    func makeCoordinator(
        endpoint: String, maxAttempts: Int, store: SweepStore, keysDirectory: URL? = nil
    ) throws -> Coordinator {
        try Coordinator(
            runs: runs,
            options: .init(
                endpoint: endpoint, resultsDirectory: results, configRoot: options.configRoot,
                primaryConfig: primary, planSHA256: plan.planSHA256, maxAttempts: maxAttempts,
                keysDirectory: keysDirectory
            ),
            store: store
        )
    }
}
