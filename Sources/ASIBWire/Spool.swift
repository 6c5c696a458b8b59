import ASIBSupport
import Foundation

/// One message that a worker keeps until the coordinator acknowledges it: an EPOCH, DONE or
/// FAIL of one attempt, identified by (run, attempt, seq).
public struct SpoolRecord: Codable, Sendable, Equatable {
    /// The message type as sent, `EPOCH`, `DONE` or `FAIL`.
    public var type: String
    public var runId: String
    public var attempt: Int
    public var seq: Int
    /// The JSON body exactly as sent.
    public var body: String

    public init(type: WireProtocol.MessageType, runId: String, attempt: Int, seq: Int, body: Data) {
        self.type = type.rawValue
        self.runId = runId
        self.attempt = attempt
        self.seq = seq
        self.body = String(decoding: body, as: UTF8.self)
    }

    /// The frames a DEALER sends for this record.
    public var frames: [Data] {
        [Data(WireProtocol.version.utf8), Data(type.utf8), Data(body.utf8)]
    }

    /// The record's file name in the spool folder, unique per (run, attempt, seq).
    public var fileName: String {
        let safeRun = runId.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" }
        return "\(String(safeRun))-a\(attempt)-s\(seq).json"
    }
}

/// A worker's durable outbox: one file per record, written and fsynced (file and folder)
/// before the record is sent, and deleted when the coordinator's ACK arrives.
///
/// A worker that is killed leaves its records behind. The next worker started on the same
/// folder sends them again, and `asib-sweep ingest` reads them when no coordinator is left.
/// Thread-safe: the training thread adds records while the network thread removes them.
public final class Spool: @unchecked Sendable {
    public let directory: URL
    private let lock = NSLock()
    private var records: [String: SpoolRecord] = [:]

    /// Opens the spool folder, creating it when missing, and reads the records left in it.
    public init(directory: URL) throws {
        self.directory = directory
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for record in try Self.read(directory: directory) {
            records[record.fileName] = record
        }
    }

    /// Reads every record file in `directory`, sorted by run, attempt and seq. Throws when a
    /// file is not a valid record, naming the file.
    public static func read(directory: URL) throws -> [SpoolRecord] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        var found: [SpoolRecord] = []
        for name in names where name.hasSuffix(".json") && !name.hasPrefix(".") {
            let url = directory.appendingPathComponent(name)
            let data = try Data(contentsOf: url)
            do {
                found.append(try JSONDecoder().decode(SpoolRecord.self, from: data))
            } catch {
                throw RuntimeFailure(
                    "invalid spool record '\(url.path)': \(error); move the file away to continue"
                )
            }
        }
        return found.sorted { ($0.runId, $0.attempt, $0.seq) < ($1.runId, $1.attempt, $1.seq) }
    }

    /// Writes `record` durably. Returns when the file and its folder entry are on disk.
    public func append(_ record: SpoolRecord) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try AtomicFile.write(try encoder.encode(record), to: directory.appendingPathComponent(record.fileName))
        // The rename inside AtomicFile is durable only once the folder itself is synced.
        let folder = open(directory.path, O_RDONLY | O_DIRECTORY)
        if folder >= 0 {
            fsync(folder)
            close(folder)
        }
        lock.lock()
        records[record.fileName] = record
        lock.unlock()
    }

    /// Deletes the record (run, attempt, seq). Returns false when the spool does not hold it.
    @discardableResult
    public func remove(runId: String, attempt: Int, seq: Int) -> Bool {
        let probe = SpoolRecord(type: .epoch, runId: runId, attempt: attempt, seq: seq, body: Data())
        lock.lock()
        let removed = records.removeValue(forKey: probe.fileName)
        lock.unlock()
        guard removed != nil else { return false }
        unlink(directory.appendingPathComponent(probe.fileName).path)
        return true
    }

    /// Records not yet acknowledged, sorted by run, attempt and seq.
    public var pending: [SpoolRecord] {
        lock.lock()
        defer { lock.unlock() }
        return records.values.sorted { ($0.runId, $0.attempt, $0.seq) < ($1.runId, $1.attempt, $1.seq) }
    }

    public var isEmpty: Bool {
        lock.lock()
        defer { lock.unlock() }
        return records.isEmpty
    }
}
