import ASIBSupport

/// Failures of the trainer: bad options, missing or malformed data and checkpoints, and a
/// diverged run.
public enum TrainerError: ReportableError, Equatable {
    case unknownModel(name: String, key: String, known: [String])
    case invalidOption(key: String, value: String, allowed: String)
    case datasetFilesMissing(dataset: String, missing: [String], expected: [String], fix: String)
    case datasetMalformed(path: String, problem: String)
    case checkpointMissing(path: String, key: String)
    case checkpointInvalid(path: String, problem: String)
    case checkpointWriteFailed(path: String, problem: String)
    case nonFiniteLoss(epoch: Int, step: Int, value: Double)

    public var description: String {
        switch self {
        case let .unknownModel(name, key, known):
            return "unknown model '\(name)' in \(key); known models: "
                + known.joined(separator: ", ")
        case let .invalidOption(key, value, allowed):
            return "invalid value '\(value)' for \(key); expected \(allowed)"
        case let .datasetFilesMissing(dataset, missing, expected, fix):
            return "\(dataset) files not found: " + missing.map { "'\($0)'" }.joined(separator: ", ")
                + "; expected files: " + expected.joined(separator: ", ") + "; \(fix)"
        case let .datasetMalformed(path, problem):
            return "malformed dataset file '\(path)': \(problem); "
                + "replace it with the original download"
        case let .checkpointMissing(path, key):
            return "checkpoint '\(path)' from \(key) not found; train the teacher run first "
                + "or fix the path"
        case let .checkpointInvalid(path, problem):
            return "invalid checkpoint '\(path)': \(problem); retrain the run that wrote it"
        case let .checkpointWriteFailed(path, problem):
            return "failed to write checkpoint '\(path)': \(problem)"
        case let .nonFiniteLoss(epoch, step, value):
            return "non-finite loss '\(value)' at epoch \(epoch), step \(step); "
                + "lower student_lr or check the data"
        }
    }

    public var exitCode: Int32 {
        switch self {
        case .nonFiniteLoss, .checkpointWriteFailed: return ExitCode.failure
        default: return ExitCode.usage
        }
    }
}
