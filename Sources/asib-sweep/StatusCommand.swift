import ASIBCoordinator
import ASIBSlurm
import ASIBSupport
import Foundation

/// `asib-sweep status DIR`: one line per run from the results folder's store.
struct StatusCommand {
    var arguments: CommandLineArguments

    func run() throws {
        var arguments = self.arguments
        if arguments.flag("-h", "--help") {
            print(Help.status)
            return
        }
        let store = try openStore(arguments: arguments, subcommand: "status")
        let runs = try store.runs()
        var counts: [String: Int] = [:]
        print("index  run_id                         status     attempts  final_acc  best_acc")
        for run in runs {
            counts[run.status, default: 0] += 1
            let final = run.finalAccuracy.map { String(format: "%.2f", $0) } ?? "-"
            let best = run.bestAccuracy.map { String(format: "%.2f", $0) } ?? "-"
            print(
                run.index.description.padding(toLength: 7, withPad: " ", startingAt: 0)
                    + run.runID.padding(toLength: 31, withPad: " ", startingAt: 0)
                    + run.status.padding(toLength: 11, withPad: " ", startingAt: 0)
                    + run.attempts.description.padding(toLength: 10, withPad: " ", startingAt: 0)
                    + final.padding(toLength: 11, withPad: " ", startingAt: 0)
                    + best
            )
            if let reason = run.failureReason, run.status != "done" {
                print("       reason: \(reason)")
            }
        }
        let order = ["queued", "running", "done", "failed", "cancelled"]
        print(order.map { "\(counts[$0, default: 0]) \($0)" }.joined(separator: ", "))
        let directory = try resultsDirectory(arguments: arguments, subcommand: "status")
        if let jobs = try SlurmJobsFile.load(from: directory) {
            printSlurmState(jobs)
        }
    }

    /// Prints one line per job array of the sweep with the squeue state of its tasks.
    private func printSlurmState(_ jobs: SlurmJobsFile) {
        print("slurm job arrays (\(jobs.jobName), coordinator pid \(jobs.coordinatorPID) on "
            + "\(jobs.coordinatorHost)):")
        let tasks: [SqueueTask]
        do {
            tasks = try SlurmClient().status(jobIDs: jobs.jobIDs, jobName: jobs.jobName)
        } catch {
            for array in jobs.arrays {
                print("  \(array.jobID)  \(array.runKind)  --array=\(array.array)")
            }
            print("  squeue failed: \(error)")
            return
        }
        for array in jobs.arrays {
            let own = tasks.filter { $0.arrayJobID == array.jobID }
            var states: [String: Int] = [:]
            for task in own {
                let reason = task.state == "PENDING" && task.reason != "None"
                    ? "\(task.state) (\(task.reason))" : task.state
                states[reason, default: 0] += 1
            }
            let summary = states.isEmpty
                ? "no task pending or running"
                : states.keys.sorted().map { "\(states[$0]!) \($0)" }.joined(separator: ", ")
            print("  \(array.jobID)  \(array.runKind)  --array=\(array.array)  \(summary)")
        }
    }
}

/// `asib-sweep cancel DIR`: cancels exactly the job arrays that `launch --array` submitted for
/// the results folder DIR, as listed in DIR/slurm-jobs.json.
struct CancelCommand {
    var arguments: CommandLineArguments

    func run() throws {
        var arguments = self.arguments
        if arguments.flag("-h", "--help") {
            print(Help.cancel)
            return
        }
        let directory = try resultsDirectory(arguments: arguments, subcommand: "cancel")
        guard let jobs = try SlurmJobsFile.load(from: directory) else {
            throw UsageError(
                "no '\(SlurmJobsFile.url(in: directory).path)': the sweep in '\(directory.path)' "
                    + "was not launched with 'asib-sweep launch --array', so it has no Slurm jobs")
        }
        guard !jobs.jobIDs.isEmpty else {
            print("no job array was submitted for \(directory.path)")
            return
        }
        let client = SlurmClient()
        let ids = jobs.jobIDs.map(String.init).joined(separator: " ")
        try client.cancel(jobIDs: jobs.jobIDs, jobName: jobs.jobName)
        print("cancelled job arrays \(ids) (\(jobs.jobName))")
        print("the coordinator (pid \(jobs.coordinatorPID) on \(jobs.coordinatorHost)) marks the "
            + "unfinished runs failed once no task is left")
    }
}

/// `asib-sweep report DIR`: rewrites the tables and plots from the store.
struct ReportCommand {
    var arguments: CommandLineArguments

    func run() throws {
        var arguments = self.arguments
        if arguments.flag("-h", "--help") {
            print(Help.report)
            return
        }
        let store = try openStore(arguments: arguments, subcommand: "report")
        let directory = try resultsDirectory(arguments: arguments, subcommand: "report")
        try Reports.write(store: store, to: directory)
        for name in ["summary.csv", "epochs.csv", "table.csv", "plots/accuracy.svg"] {
            print(directory.appendingPathComponent(name).path)
        }
    }
}

private func resultsDirectory(arguments: CommandLineArguments, subcommand: String) throws -> URL {
    var positionals = try arguments.positionals()
    if positionals.first == subcommand {
        positionals.removeFirst()
    }
    guard positionals.count == 1 else {
        throw UsageError("expected one results folder, for example 'asib-sweep \(subcommand) results/quickstart'")
    }
    return URL(fileURLWithPath: positionals[0])
}

private func openStore(arguments: CommandLineArguments, subcommand: String) throws -> SweepStore {
    let directory = try resultsDirectory(arguments: arguments, subcommand: subcommand)
    let database = directory.appendingPathComponent("sweep.db")
    guard FileManager.default.fileExists(atPath: database.path) else {
        throw UsageError(
            "no sweep store at '\(database.path)'; give the results folder that "
                + "'asib-sweep launch' printed, for example results/quickstart"
        )
    }
    // Opening creates the schema in an empty file, so an empty or foreign file is reported
    // here instead of being turned into an empty store.
    let size = (try? FileManager.default.attributesOfItem(atPath: database.path)[.size] as? Int) ?? 0
    guard size > 0 else {
        throw UsageError(
            "sweep store '\(database.path)' is empty; give a results folder that "
                + "'asib-sweep launch' wrote, or launch the sweep again"
        )
    }
    do {
        return try SweepStore(path: database)
    } catch {
        throw UsageError(
            "cannot read '\(database.path)' as a sweep store: \(error); give a results folder "
                + "that 'asib-sweep launch' wrote"
        )
    }
}
