import Foundation

/// Timers of assignment leases and acknowledged delivery.
///
/// A worker holds a run under a lease that every HEARTBEAT, EPOCH, DONE or FAIL from it
/// renews. A lease that runs out puts the run back in the queue as its next attempt.
extension WireProtocol {
    /// How often a training worker sends HEARTBEAT. One message of about 150 bytes per second
    /// per worker is negligible next to training, and it keeps a lost worker's run waiting
    /// for at most `leaseDuration`.
    public static let heartbeatInterval: Duration = .seconds(1)

    /// How long a lease lasts without a message from its holder. Eight missed heartbeats:
    /// long enough for a loaded node or a short network stall, short enough that a killed
    /// worker's run is queued again within seconds. A restarted coordinator also waits this
    /// long for reconnecting workers to reclaim the runs that sweep.db lists as running.
    public static let leaseDuration: Duration = .seconds(8)

    /// How long an ASSIGN waits for the worker's ACCEPT before the run goes back to the
    /// queue. The worker replies at once, so this covers transport delays only.
    public static let acceptTimeout: Duration = .seconds(5)

    /// How often a worker sends again the spooled records that are not yet acknowledged. A
    /// restarted coordinator gets them within this interval after the worker reconnects.
    public static let resendInterval: Duration = .seconds(2)

    /// How long a worker that received SHUTDOWN waits for the acknowledgements of its last
    /// records before it exits and leaves them in its spool.
    public static let shutdownDrain: Duration = .seconds(5)
}

/// The worker's reply to ASSIGN: from now on the run is taken and its lease runs.
public struct AcceptBody: Codable, Sendable {
    public var runId: String
    public var attempt: Int
    public var workerId: String

    public init(runId: String, attempt: Int, workerId: String) {
        self.runId = runId
        self.attempt = attempt
        self.workerId = workerId
    }
}

/// A training worker's liveness signal. It names the worker and its run, so a coordinator
/// that restarted can tell which worker still trains which run.
public struct HeartbeatBody: Codable, Sendable {
    public var workerId: String
    public var pid: Int32
    public var runId: String?
    public var attempt: Int?

    public init(workerId: String, pid: Int32, runId: String?, attempt: Int?) {
        self.workerId = workerId
        self.pid = pid
        self.runId = runId
        self.attempt = attempt
    }
}

/// Tells a worker to stop an attempt that is no longer its own (lease expired, offer
/// withdrawn, or another worker holds the run).
public struct CancelBody: Codable, Sendable {
    public var runId: String
    public var attempt: Int
    public var reason: String

    public init(runId: String, attempt: Int, reason: String) {
        self.runId = runId
        self.attempt = attempt
        self.reason = reason
    }
}
