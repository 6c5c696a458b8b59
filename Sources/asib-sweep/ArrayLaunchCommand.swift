import ASIBCoordinator
import ASIBPlan
import ASIBSlurm
import ASIBSupport
import Foundation

/// `asib-sweep launch --array`: plans the sweep like `launch --local`, submits Slurm job arrays
/// whose tasks run asib-worker, and stays in the foreground as their coordinator until every
/// run has finished (in the background with `--detach`).
struct ArrayLaunchCommand {
    var arguments: CommandLineArguments

    /// Environment variable that `--detach` sets for its background coordinator.
    static let launchTokenVariable = "ASIB_LAUNCH_TOKEN"

    func run() throws {
        var arguments = self.arguments
        let dryRun = arguments.flag("--dry-run")
        let detach = arguments.flag("--detach")
        let bind = try arguments.value("--bind") ?? "127.0.0.1"
        let port = try arguments.integer("--port", in: 0...65535) ?? 0
        let maxAttempts = try arguments.integer("--max-attempts", in: 1...100) ?? 2
        var slurm = try SlurmOptions.parse(&arguments, jobName: "asib", outputFolder: "logs")
        let options = try SweepOptions(arguments: &arguments, subcommand: "launch")
        try Self.validateBindAddress(bind)

        let sweep = try PlannedSweep(options: options)
        slurm.jobName = "asib-\(sweep.plan.sweep)"
        slurm.outputFolder = sweep.results.appendingPathComponent("logs/slurm").path
        try slurm.validate()
        let environment = ProcessInfo.processInfo.environment
        let template = try SbatchTemplate.load(
            from: SbatchTemplate.locate(
                environment: environment,
                executableURL: URL(fileURLWithPath: "/proc/self/exe"),
                currentDirectory: URL(fileURLWithPath: FileManager.default.currentDirectoryPath)))
        let workerPath = try LaunchCommand.workerExecutable().path
        let client = SlurmClient()

        if dryRun {
            try printDryRun(
                sweep: sweep, slurm: slurm, template: template, workerPath: workerPath,
                endpoint: "tcp://\(bind):\(port == 0 ? "PORT" : String(port))", client: client)
            return
        }
        if detach {
            try DetachedLaunch.start(results: sweep.results)
            return
        }

        let (store, folderLock) = try sweep.register()
        defer { withExtendedLifetime(folderLock) {} }
        let maxArraySize = try client.maxArraySize()
        let coordinator = try sweep.makeCoordinator(
            endpoint: "tcp://\(bind):\(port == 0 ? "*" : String(port))", maxAttempts: maxAttempts,
            store: store)
        let endpoint = try coordinator.bind()
        let plan = sweep.plan
        print("sweep \(plan.sweep): \(plan.runs.count) runs, plan \(plan.planSHA256.prefix(12))")
        print("results: \(sweep.results.path)")
        print("coordinator: \(endpoint), Slurm job arrays named \(slurm.jobName)")

        let unfinished = try store.runs().filter { $0.status != RunStatus.done.rawValue }.count
        guard unfinished > 0 else {
            print("every run is already done; no job array submitted")
            try writeReports(store: store, results: sweep.results)
            return
        }

        let arrays = try SweepArrays(
            plan: plan, options: slurm,
            worker: WorkerInvocation(
                workerPath: workerPath, endpoint: endpoint, planPath: sweep.planURL.path,
                planSHA256: plan.planSHA256),
            maxArraySize: maxArraySize, template: template)
        var jobs = SlurmJobsFile(
            sweep: plan.sweep, planSHA256: plan.planSHA256, jobName: slurm.jobName,
            coordinatorEndpoint: endpoint, coordinatorPID: getpid(),
            coordinatorHost: ProcessInfo.processInfo.hostName,
            launchToken: environment[Self.launchTokenVariable])
        try jobs.write(to: sweep.results)
        let submittedJobs = SubmittedJobs(client: client, jobName: slurm.jobName)
        ArrayInterruptHandler.install(jobs: submittedJobs)

        _ = try arrays.submit(with: client) { submission, array in
            let kind = submission.worker.runKind.rawValue
            jobs.arrays.append(
                SlurmJobsFile.Array(
                    jobID: array.jobID, runKind: kind, array: array.chunk.arraySpec,
                    offset: array.chunk.offset, shards: submission.shardCount,
                    script: submission.scriptURL(for: array.chunk).path))
            try jobs.write(to: sweep.results)
            submittedJobs.add(array.jobID)
            print(
                "submitted \(kind) job array \(array.jobID): --array=\(array.chunk.arraySpec), "
                    + "offset \(array.chunk.offset) of \(submission.shardCount) tasks")
        }
        jobs.submissionComplete = true
        try jobs.write(to: sweep.results)
        print("cancel with: asib-sweep cancel \(ShellQuoting.commandLine([sweep.results.path]))")

        let monitor = SlurmArrayMonitor(
            client: client, jobIDs: jobs.jobIDs, jobName: slurm.jobName,
            logFolder: slurm.outputFolder)
        let outcome = try coordinator.serve(pool: nil, external: monitor)
        submittedJobs.cancelLeftovers()
        try writeReports(store: store, results: sweep.results)
        print("finished: \(outcome.done) done, \(outcome.failed) failed, \(outcome.cancelled) cancelled")
        if outcome.failed + outcome.cancelled > 0 {
            throw RuntimeFailure(
                "\(outcome.failed) runs failed and \(outcome.cancelled) were cancelled; see "
                    + "'asib-sweep status \(sweep.results.path)' and the task logs in "
                    + "\(slurm.outputFolder)")
        }
    }

    private func writeReports(store: SweepStore, results: URL) throws {
        try Reports.write(store: store, to: results)
        for name in ["summary.csv", "epochs.csv", "table.csv"] {
            print("  \(results.appendingPathComponent(name).path)")
        }
    }

    private func printDryRun(
        sweep: PlannedSweep, slurm: SlurmOptions, template: SbatchTemplate, workerPath: String,
        endpoint: String, client: SlurmClient
    ) throws {
        let maxArraySize: Int
        do {
            maxArraySize = try client.maxArraySize()
            print("# MaxArraySize \(maxArraySize), from 'scontrol show config'")
        } catch let error as SlurmError {
            maxArraySize = 1001
            print("# MaxArraySize 1001 assumed (Slurm's default): \(error.description)")
        }
        let plan = sweep.plan
        print("# sweep \(plan.sweep): \(plan.runs.count) runs, plan_sha256 \(plan.planSHA256)")
        print("# nothing is written or submitted; the coordinator's port is chosen at launch")
        let arrays = try SweepArrays(
            plan: plan, options: slurm,
            worker: WorkerInvocation(
                workerPath: workerPath, endpoint: endpoint, planPath: sweep.planURL.path,
                planSHA256: plan.planSHA256),
            maxArraySize: maxArraySize, template: template)
        print(try arrays.dryRunText(), terminator: "")
    }

    /// Rejects bind addresses that cannot form `tcp://ADDRESS:PORT`, and wildcard addresses,
    /// because the tasks connect to the bound address and cannot connect to a wildcard.
    static func validateBindAddress(_ address: String) throws {
        if ["*", "0.0.0.0", "::", "[::]"].contains(address) {
            throw UsageError(
                "invalid --bind '\(address)': the array tasks connect to this address, so give "
                    + "one address of this machine that the compute nodes can reach, such as "
                    + "10.0.0.5, not a wildcard")
        }
        let invalid = address.isEmpty || address.contains("://")
            || address.contains(where: { $0.isWhitespace || $0 == "/" })
        if invalid {
            throw UsageError(
                "invalid --bind '\(address)': expected an IP address or host name of this "
                    + "machine that the compute nodes can reach, such as 10.0.0.5 (default "
                    + "127.0.0.1, reachable from this machine only)")
        }
    }
}

/// The job IDs submitted so far, for cancelling them on interrupt and at the end.
final class SubmittedJobs: @unchecked Sendable {
    private let lock = NSLock()
    private var jobIDs: [Int] = []
    let client: SlurmClient
    let jobName: String

    init(client: SlurmClient, jobName: String) {
        self.client = client
        self.jobName = jobName
    }

    func add(_ jobID: Int) {
        lock.lock()
        jobIDs.append(jobID)
        lock.unlock()
    }

    var all: [Int] {
        lock.lock()
        defer { lock.unlock() }
        return jobIDs
    }

    /// Cancels every submitted job of this launch; errors are logged, not thrown.
    func cancelAll() {
        let ids = all
        guard !ids.isEmpty else { return }
        do {
            try client.cancel(jobIDs: ids, jobName: jobName)
            print("cancelled job arrays \(ids.map(String.init).joined(separator: " "))")
        } catch {
            Log.error("cannot cancel the job arrays", ["jobs": ids, "error": error])
        }
    }

    /// Cancels tasks that are still pending or running after every run has finished, such as
    /// student tasks whose teacher array failed (they would wait for ever on their
    /// `afterok` dependency). Tasks that are running get up to 10 s to end on their own first,
    /// because they received SHUTDOWN and are exiting.
    func cancelLeftovers() {
        let ids = all
        do {
            var left = try client.status(jobIDs: ids, jobName: jobName)
            let deadline = Date().addingTimeInterval(10)
            while left.contains(where: { $0.state != "PENDING" }), Date() < deadline {
                Thread.sleep(forTimeInterval: 0.5)
                left = try client.status(jobIDs: ids, jobName: jobName)
            }
            guard !left.isEmpty else { return }
            let arrays = Set(left.map(\.arrayJobID)).sorted()
            try client.cancel(jobIDs: arrays, jobName: jobName)
            print("cancelled \(left.count) array tasks that no run needs any more")
        } catch {
            Log.error("cannot cancel the remaining array tasks", ["jobs": ids, "error": error])
        }
    }
}

/// Cancels the sweep's job arrays when the user interrupts `launch --array`, because the tasks
/// cannot get runs without the coordinator.
enum ArrayInterruptHandler {
    nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []

    static func install(jobs: SubmittedJobs) {
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                Log.warning("interrupted, cancelling the job arrays", ["signal": signalNumber])
                jobs.cancelAll()
                exit(130)
            }
            source.resume()
            sources.append(source)
        }
    }
}
