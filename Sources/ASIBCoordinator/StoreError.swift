import ASIBSupport
import Foundation

/// Failures of the sweep store (`sweep.db`) and of the SQLite calls beneath it.
public enum StoreError: ReportableError, Equatable {
    /// An SQLite call returned an error code. `call` names the C function and `sql` the
    /// statement it ran, when there is one.
    case sqlite(call: String, code: Int32, message: String, sql: String?, path: String)
    /// The database was written by a schema version that this build cannot read.
    case unsupportedSchema(found: Int, expected: Int, path: String)
    /// The store belongs to another sweep than the one being registered.
    case otherSweep(stored: String, requested: String, path: String)
    /// A run id is planned with a different config hash than the one stored for it.
    case planChanged(runID: String, storedSHA256: String, plannedSHA256: String, path: String)
    /// A run in the store is missing from the plan being registered.
    case runDropped(runID: String, path: String)
    /// A run id that the store does not contain.
    case unknownRun(runID: String, path: String)
    /// An attempt number that the store has not recorded as started for this run.
    case unknownAttempt(runID: String, attempt: Int, latest: Int, path: String)
    /// A status change that the run's current status does not allow.
    case invalidTransition(runID: String, from: String, to: String, detail: String)
    /// An epoch message with a field outside its allowed range.
    case invalidEpoch(runID: String, field: String, value: String, allowed: String)

    public var description: String {
        switch self {
        case let .sqlite(call, code, message, sql, path):
            let statement = sql.map { " while running '\($0)'" } ?? ""
            return "SQLite call \(call) failed with code \(code) ('\(message)')\(statement) "
                + "on store '\(path)'; check that the file is a sweep store, that its folder "
                + "is writable and that no other program holds a write lock on it"
        case let .unsupportedSchema(found, expected, path):
            return "store '\(path)' has schema version \(found), but this build reads version "
                + "\(expected); use the asib-sweep build that created it or a new results folder"
        case let .otherSweep(stored, requested, path):
            return "store '\(path)' belongs to sweep '\(stored)', not to sweep '\(requested)'; "
                + "give each sweep its own results folder with --out"
        case let .planChanged(runID, storedSHA256, plannedSHA256, path):
            return "plan changed: run '\(runID)' has config hash '\(plannedSHA256)', but store "
                + "'\(path)' recorded '\(storedSHA256)' for it; restore the configs the store "
                + "was planned with, or write the changed sweep to a new results folder with --out"
        case let .runDropped(runID, path):
            return "plan changed: run '\(runID)' is in store '\(path)' but missing from the plan; "
                + "restore the sweep spec, or write the changed sweep to a new results folder "
                + "with --out (a results folder holds one whole sweep, so --only that leaves "
                + "out stored runs needs a folder of its own)"
        case let .unknownRun(runID, path):
            return "run '\(runID)' is not in store '\(path)'; only runs of the registered plan "
                + "can be updated"
        case let .unknownAttempt(runID, attempt, latest, path):
            return "attempt \(attempt) of run '\(runID)' was never started in store '\(path)' "
                + "(latest started attempt: \(latest)); mark the attempt running first"
        case let .invalidTransition(runID, from, to, detail):
            return "run '\(runID)' cannot change from '\(from)' to '\(to)': \(detail)"
        case let .invalidEpoch(runID, field, value, allowed):
            return "invalid epoch message for run '\(runID)': \(field) is '\(value)', "
                + "expected \(allowed)"
        }
    }

    public var exitCode: Int32 {
        switch self {
        case .otherSweep, .planChanged, .runDropped:
            return ExitCode.usage
        case .sqlite, .unsupportedSchema, .unknownRun, .unknownAttempt, .invalidTransition,
             .invalidEpoch:
            return ExitCode.failure
        }
    }
}
