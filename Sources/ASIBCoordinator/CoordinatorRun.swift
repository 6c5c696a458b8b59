import Foundation

/// One planned run as the coordinator schedules it.
public struct CoordinatorRun: Sendable {
    public let index: Int
    public let runID: String
    public let kind: String
    public let method: String
    public let rung: String
    public let seed: Int
    public let configSHA256: String
    /// Teacher runs this run needs, in teacher-slot order: the first is `teacher1`.
    public let dependsOn: [String]
    public let overrides: [String]
    /// The planned effective config as canonical JSON.
    public let configJSON: String

    public init(
        index: Int, runID: String, kind: String, method: String, rung: String, seed: Int,
        configSHA256: String, dependsOn: [String], overrides: [String], configJSON: String
    ) {
        self.index = index
        self.runID = runID
        self.kind = kind
        self.method = method
        self.rung = rung
        self.seed = seed
        self.configSHA256 = configSHA256
        self.dependsOn = dependsOn
        self.overrides = overrides
        self.configJSON = configJSON
    }
}

/// Run states, spelled as in `summary.csv`.
public enum RunStatus: String, Sendable {
    case queued, running, done, failed, cancelled

    public var isFinal: Bool {
        self == .done || self == .failed || self == .cancelled
    }
}

/// Where each teacher run leaves its checkpoint, relative to the results folder.
public enum RunFiles {
    public static func runDirectory(results: URL, runID: String) -> URL {
        results.appendingPathComponent("runs").appendingPathComponent(runID)
    }

    public static func checkpoint(results: URL, runID: String) -> URL {
        runDirectory(results: results, runID: runID).appendingPathComponent("checkpoint.bin")
    }
}
