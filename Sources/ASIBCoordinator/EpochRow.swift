import Foundation

/// The metrics of one epoch message, as the store recorded them.
public struct EpochRow: Equatable, Sendable {
    public let runID: String
    public let attempt: Int
    /// The worker's sequence number of the message within the attempt, from 1.
    public let seq: Int
    /// Training phase, `student` or `teacher`.
    public let phase: String
    /// Epoch number within the phase, from 1.
    public let epoch: Int
    /// Metric values by name. A NaN that a worker reported reads back as NaN.
    public let metrics: [String: Double]

    public init(
        runID: String, attempt: Int, seq: Int, phase: String, epoch: Int,
        metrics: [String: Double]
    ) {
        self.runID = runID
        self.attempt = attempt
        self.seq = seq
        self.phase = phase
        self.epoch = epoch
        self.metrics = metrics
    }
}
