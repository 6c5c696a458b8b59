import ASIBConfig
import ASIBPlan
import ASIBSupport
import ASIBTrainer
import ASIBWire
import Foundation

/// A config-lock violation: the config a worker would train is not the one that was planned.
public struct LockMismatch: ReportableError {
    public let checkpoint: String
    public let plannedHash: String
    public let actualHash: String
    public let diff: ConfigDiff

    public var description: String {
        "config lock mismatch \(checkpoint): planned \(plannedHash.prefix(12)), "
            + "got \(actualHash.prefix(12)); \(diff.summary); "
            + "re-plan the sweep if the config files changed on purpose"
    }

    public var exitCode: Int32 { ExitCode.usage }
}

/// A run that reached a non-finite loss while `use_amp` was on. The coordinator retries such
/// a run once with `use_amp` off (a safe retry).
public struct NonFiniteLossWithAMP: ReportableError {
    public let underlying: TrainerError

    public var description: String {
        "\(underlying.description) (with use_amp on; the run is retried once with use_amp off)"
    }

    public var exitCode: Int32 { ExitCode.failure }
}

/// Outcome of one trained run, as reported in DONE.
public struct ExecutedRun {
    public let finalAccuracy: Double
    public let bestAccuracy: Double
    public let seconds: Double
}

/// Verifies an assignment's config lock, trains the run and verifies the lock again. On a safe
/// retry it sets `use_amp` to false and verifies the lock once more before training.
struct RunExecutor {
    let assignment: AssignBody

    func run(onEpoch: @escaping (String, Int, [String: Double]) throws -> Void) throws -> ExecutedRun {
        let planned = try YAMLLoader.parse(text: assignment.configJson, origin: "ASSIGN message").value
        let plannedHash = ConfigLock.hash(ConfigLock.sanitize(planned))
        guard plannedHash == assignment.configSha256 else {
            throw LockMismatch(
                checkpoint: "in the assignment message", plannedHash: assignment.configSha256,
                actualHash: plannedHash, diff: ConfigDiff(from: planned, to: planned)
            )
        }

        // The worker's own copy of the config tree must compose to the planned config.
        let composed = try Planner.recompose(
            configRoot: URL(fileURLWithPath: assignment.configRoot),
            primary: assignment.primaryConfig,
            overrides: assignment.overrides
        ).value
        try verify(composed, against: planned, checkpoint: "before the run")

        var config = composed
        if assignment.safeRetry == true {
            // use_amp is outside the lock, so this check passes unless the files changed.
            config.set(path: "use_amp", to: .bool(false))
            try verify(config, against: planned, checkpoint: "before a safe retry")
        }
        for (slot, path) in assignment.teacherCheckpoints {
            config.set(path: "\(slot)_ckpt", to: .string(path))
        }
        let runDirectory = URL(fileURLWithPath: assignment.runDirectory)
        try AtomicFile.write(
            CanonicalJSON.string(config) + "\n", to: runDirectory.appendingPathComponent("config.json")
        )

        let trainer = try RunTrainer(config: config, runDirectory: runDirectory)
        // A later attempt of this run continues after the last epoch an earlier one finished.
        trainer.resumeKey = assignment.configSha256
        let outcome: RunOutcome
        do {
            outcome = try trainer.train { report in
                try onEpoch(report.phase, report.epoch, report.metrics)
            }
        } catch let error as TrainerError {
            guard case .nonFiniteLoss = error, trainer.options.useAMP else { throw error }
            throw NonFiniteLossWithAMP(underlying: error)
        }
        try verify(config, against: planned, checkpoint: "after the run")
        return ExecutedRun(
            finalAccuracy: outcome.finalAccuracy, bestAccuracy: outcome.bestAccuracy,
            seconds: outcome.seconds
        )
    }

    private func verify(_ config: ConfigValue, against planned: ConfigValue, checkpoint: String) throws {
        let hash = ConfigLock.hash(ConfigLock.sanitize(config))
        guard hash == assignment.configSha256 else {
            throw LockMismatch(
                checkpoint: checkpoint, plannedHash: assignment.configSha256, actualHash: hash,
                diff: ConfigDiff(from: ConfigLock.sanitize(planned), to: ConfigLock.sanitize(config))
            )
        }
    }
}
