import Foundation

/// Metrics of one finished epoch, sent to the caller after each evaluation.
public struct EpochReport {
    /// "student" for every run of this trainer.
    public let phase: String
    /// 1-based epoch within the run.
    public let epoch: Int
    /// acc and best_acc (test accuracy, 0-100), train_acc (0-100), loss, ce, kd (epoch means
    /// over training samples), lr (mean over the epoch's steps), tau, kd_alpha and epoch_sec;
    /// with DKD also tckd and nckd, with FitNet hint, with attention transfer at (epoch means,
    /// unweighted).
    public let metrics: [String: Double]
}

/// The result of a finished run.
public struct RunOutcome {
    public let finalAccuracy: Double
    public let bestAccuracy: Double
    public let seconds: Double
    public let checkpoint: URL
}
