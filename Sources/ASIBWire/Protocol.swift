import Foundation

/// The coordinator-worker protocol: message types, bodies and timers, in one place.
///
/// A message is three ZeroMQ frames sent by a DEALER (the worker): the protocol version
/// (`"asib/1"`), the message type (`"READY"`), and a JSON body. The ROUTER (the coordinator)
/// sees the worker's routing id in front of them. Anything else is rejected by `decode`.
public enum WireProtocol {
    public static let version = "asib/1"
    public static let versionNumber = 1

    /// Largest accepted message. Epoch metrics are a few hundred bytes and an assignment carries
    /// one effective config (a few kilobytes), so 4 MiB leaves room without letting a stray
    /// peer make the coordinator buffer arbitrary amounts.
    public static let maxMessageBytes: Int64 = 4 << 20

    /// Messages queued per peer before sends block (DEALER) or drop (ROUTER). Workers send a
    /// few messages per epoch, so this bound is only reached by a misbehaving peer.
    public static let highWaterMark: Int32 = 10_000

    /// How long a closing socket keeps trying to deliver queued messages.
    public static let closeLinger: Duration = .milliseconds(500)
    /// Poll interval of the coordinator loop; also bounds how late it notices a dead child.
    public static let coordinatorPoll: Duration = .milliseconds(200)
    /// How long a worker waits for a reply to READY before asking again.
    public static let readyRetry: Duration = .seconds(2)
    /// How long a worker keeps asking before it gives up on an unreachable coordinator.
    public static let coordinatorSilenceLimit: Duration = .seconds(60)

    public enum MessageType: String, CaseIterable, Sendable {
        case hello = "HELLO"
        case ready = "READY"
        case assign = "ASSIGN"
        case accept = "ACCEPT"
        case epoch = "EPOCH"
        case ack = "ACK"
        case done = "DONE"
        case fail = "FAIL"
        case heartbeat = "HEARTBEAT"
        case cancel = "CANCEL"
        case shutdown = "SHUTDOWN"
    }

    /// Encodes a body into the frames a DEALER sends (without a routing id).
    public static func encode<Body: Encodable>(_ type: MessageType, _ body: Body) throws -> [Data] {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        return [Data(version.utf8), Data(type.rawValue.utf8), try encoder.encode(body)]
    }

    /// Splits frames into type and body, checking the version and frame count.
    public static func decodeEnvelope(_ frames: [Data]) throws -> (MessageType, Data) {
        guard frames.count == 3 else {
            throw WireError.malformed("expected 3 frames (version, type, body), got \(frames.count)")
        }
        guard let versionText = String(data: frames[0], encoding: .utf8), versionText == version else {
            let shown = String(decoding: frames[0].prefix(32), as: UTF8.self)
            throw WireError.malformed("unsupported protocol version '\(shown)', expected '\(version)'")
        }
        guard let typeText = String(data: frames[1], encoding: .utf8),
              let type = MessageType(rawValue: typeText)
        else {
            let shown = String(decoding: frames[1].prefix(32), as: UTF8.self)
            throw WireError.malformed("unknown message type '\(shown)'")
        }
        return (type, frames[2])
    }

    /// Decodes a JSON body of the given type.
    public static func decodeBody<Body: Decodable>(_ type: Body.Type, _ data: Data) throws -> Body {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        do {
            return try decoder.decode(type, from: data)
        } catch {
            throw WireError.malformed("invalid \(Body.self) body: \(error)")
        }
    }
}

// MARK: - Bodies

public struct HelloBody: Codable, Sendable {
    public var workerId: String
    public var host: String
    public var pid: Int32
    public var shard: String?
    public var protocolVersion: Int
    /// Plan indices of the only runs this worker may be assigned, such as the runs of one Slurm
    /// array task; nil (the key is left out) means any run. Older peers omit the key.
    public var runIndices: [Int]?

    public init(workerId: String, host: String, pid: Int32, shard: String?, runIndices: [Int]? = nil) {
        self.workerId = workerId
        self.host = host
        self.pid = pid
        self.shard = shard
        self.protocolVersion = WireProtocol.versionNumber
        self.runIndices = runIndices
    }
}

public struct ReadyBody: Codable, Sendable {
    public var workerId: String

    public init(workerId: String) {
        self.workerId = workerId
    }
}

/// One run handed to a worker: enough to recompose and verify its config and to train it.
public struct AssignBody: Codable, Sendable {
    public var runId: String
    public var index: Int
    public var attempt: Int
    /// The planned effective config as canonical JSON.
    public var configJson: String
    public var configSha256: String
    public var planSha256: String
    /// Folder of the config tree the run was planned from; the worker recomposes from it.
    public var configRoot: String
    /// Primary config under `configRoot` (the sweep's `config:`), composed with `overrides`.
    public var primaryConfig: String
    public var overrides: [String]
    /// Run folder under the results folder, where the worker writes config.json and checkpoints.
    public var runDirectory: String
    /// Teacher slot (`teacher1`, `teacher2`) to the checkpoint file of the teacher run.
    public var teacherCheckpoints: [String: String]
    /// True on the retry of a run whose previous attempt reached a non-finite loss with
    /// `use_amp` on: the worker trains with `use_amp` false. Absent (nil) on other attempts,
    /// so bodies of workers and coordinators without this field still decode.
    public var safeRetry: Bool?

    public init(
        runId: String, index: Int, attempt: Int, configJson: String, configSha256: String,
        planSha256: String, configRoot: String, primaryConfig: String, overrides: [String],
        runDirectory: String,
        teacherCheckpoints: [String: String],
        safeRetry: Bool? = nil
    ) {
        self.runId = runId
        self.index = index
        self.attempt = attempt
        self.configJson = configJson
        self.configSha256 = configSha256
        self.planSha256 = planSha256
        self.configRoot = configRoot
        self.primaryConfig = primaryConfig
        self.overrides = overrides
        self.runDirectory = runDirectory
        self.teacherCheckpoints = teacherCheckpoints
        self.safeRetry = safeRetry
    }
}

public struct EpochBody: Codable, Sendable {
    public var runId: String
    public var attempt: Int
    /// Per-attempt sequence number, from 1; the store ignores a repeated (run, attempt, seq).
    public var seq: Int
    public var phase: String
    public var epoch: Int
    public var metrics: [String: Double]

    public init(runId: String, attempt: Int, seq: Int, phase: String, epoch: Int, metrics: [String: Double]) {
        self.runId = runId
        self.attempt = attempt
        self.seq = seq
        self.phase = phase
        self.epoch = epoch
        self.metrics = metrics
    }
}

public struct AckBody: Codable, Sendable {
    public var runId: String
    public var attempt: Int
    public var seq: Int

    public init(runId: String, attempt: Int, seq: Int) {
        self.runId = runId
        self.attempt = attempt
        self.seq = seq
    }
}

public struct DoneBody: Codable, Sendable {
    public var runId: String
    public var attempt: Int
    public var finalAccuracy: Double
    public var bestAccuracy: Double
    public var seconds: Double
    /// Spool sequence number, after the attempt's last EPOCH; the coordinator's ACK echoes it.
    public var seq: Int?

    public init(
        runId: String, attempt: Int, finalAccuracy: Double, bestAccuracy: Double, seconds: Double,
        seq: Int? = nil
    ) {
        self.runId = runId
        self.attempt = attempt
        self.finalAccuracy = finalAccuracy
        self.bestAccuracy = bestAccuracy
        self.seconds = seconds
        self.seq = seq
    }
}

public struct FailBody: Codable, Sendable {
    public var runId: String
    public var attempt: Int
    public var reason: String
    /// False when a retry cannot help: a config lock mismatch, bad input, a missing file.
    public var retryable: Bool
    /// True when the run failed with a non-finite loss while `use_amp` was on, so the
    /// coordinator retries it once with `use_amp` off. Absent (nil) for other failures.
    public var nonFiniteWithAmp: Bool?
    /// Spool sequence number, after the attempt's last EPOCH; the coordinator's ACK echoes it.
    public var seq: Int?

    public init(
        runId: String, attempt: Int, reason: String, retryable: Bool,
        nonFiniteWithAmp: Bool? = nil, seq: Int? = nil
    ) {
        self.runId = runId
        self.attempt = attempt
        self.reason = reason
        self.retryable = retryable
        self.nonFiniteWithAmp = nonFiniteWithAmp
        self.seq = seq
    }
}

public struct ShutdownBody: Codable, Sendable {
    public var reason: String

    public init(reason: String) {
        self.reason = reason
    }
}
