import ASIBCoordinator
import ASIBSlurm
import ASIBSupport
import Foundation

/// Tells the coordinator when no task of the sweep's job arrays is left, by polling squeue.
///
/// A task pending with reason `DependencyNeverSatisfied` (its teacher array failed) never
/// starts, so it does not count as left. The answer turns positive only after two polls in a
/// row found no task, so that the DONE a task sent just before it ended is read first.
final class SlurmArrayMonitor: ExternalWorkers {
    private let client: SlurmClient
    private let jobIDs: [Int]
    private let jobName: String
    private let logFolder: String
    /// Seconds between squeue calls.
    private let interval: TimeInterval
    private var lastPoll = Date.distantPast
    private var emptyPolls = 0
    private var failedPolls = 0

    init(
        client: SlurmClient, jobIDs: [Int], jobName: String, logFolder: String,
        interval: TimeInterval = 3
    ) {
        self.client = client
        self.jobIDs = jobIDs
        self.jobName = jobName
        self.logFolder = logFolder
        self.interval = interval
    }

    func reasonNoWorkerIsLeft() -> String? {
        guard Date().timeIntervalSince(lastPoll) >= interval else { return nil }
        lastPoll = Date()
        let tasks: [SqueueTask]
        do {
            tasks = try client.status(jobIDs: jobIDs, jobName: jobName)
        } catch {
            // A controller that is briefly unreachable must not fail the sweep; keep waiting.
            failedPolls += 1
            if failedPolls <= 5 || failedPolls % 100 == 0 {
                Log.warning("squeue failed", ["error": error, "failed_polls": failedPolls])
            }
            return nil
        }
        let waiting = tasks.filter {
            !($0.state == "PENDING" && $0.reason == "DependencyNeverSatisfied")
        }
        emptyPolls = waiting.isEmpty ? emptyPolls + 1 : 0
        guard emptyPolls >= 2 else { return nil }
        let ids = jobIDs.map(String.init).joined(separator: " ")
        return "no task of job arrays \(ids) is pending or running; see the task logs in "
            + logFolder
    }
}
