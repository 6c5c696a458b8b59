import Foundation

/// One planned run as the store registers it: the plan's fields without the overrides.
public struct RunRecord: Equatable, Sendable {
    /// Position in the plan, from 0.
    public let index: Int
    public let runID: String
    /// `teacher` or `student`.
    public let kind: String
    public let method: String
    public let rung: String
    public let seed: Int
    /// SHA-256 of the run's locked effective config, as 64 hex digits.
    public let configSHA256: String
    /// Run ids of the teacher runs this run needs, in teacher-slot order.
    public let dependsOn: [String]

    public init(
        index: Int, runID: String, kind: String, method: String, rung: String, seed: Int,
        configSHA256: String, dependsOn: [String]
    ) {
        self.index = index
        self.runID = runID
        self.kind = kind
        self.method = method
        self.rung = rung
        self.seed = seed
        self.configSHA256 = configSHA256
        self.dependsOn = dependsOn
    }
}

/// A registered run with its progress. The record's fields read directly, as `state.runID`.
@dynamicMemberLookup
public struct RunState: Equatable, Sendable {
    public let record: RunRecord
    /// `queued`, `running`, `done`, `failed` or `cancelled`.
    public let status: String
    /// Number of attempts started, 0 before the first.
    public let attempts: Int
    /// Test accuracy in percent after the last epoch, set when the run is done.
    public let finalAccuracy: Double?
    /// Highest test accuracy in percent over the run's epochs, set when the run is done.
    public let bestAccuracy: Double?
    /// Seconds spent over all finished attempts, nil before one finished: the worker's training
    /// time for a done attempt, and the time from start to failure that the store measured for
    /// a failed or cancelled one.
    public let totalSeconds: Double?
    /// Reason of the latest failure or cancellation, cleared when the run is done.
    public let failureReason: String?

    public init(
        record: RunRecord, status: String, attempts: Int, finalAccuracy: Double?,
        bestAccuracy: Double?, totalSeconds: Double?, failureReason: String?
    ) {
        self.record = record
        self.status = status
        self.attempts = attempts
        self.finalAccuracy = finalAccuracy
        self.bestAccuracy = bestAccuracy
        self.totalSeconds = totalSeconds
        self.failureReason = failureReason
    }

    public subscript<Value>(dynamicMember field: KeyPath<RunRecord, Value>) -> Value {
        record[keyPath: field]
    }
}
