import Foundation

/// Severity levels, ordered as in swift-log and syslog.
public enum LogLevel: Int, Comparable, Sendable {
    case trace, debug, info, notice, warning, error

    public static func < (lhs: LogLevel, rhs: LogLevel) -> Bool { lhs.rawValue < rhs.rawValue }

    var label: String {
        switch self {
        case .trace: return "trace"
        case .debug: return "debug"
        case .info: return "info"
        case .notice: return "notice"
        case .warning: return "warning"
        case .error: return "error"
        }
    }
}

/// A small structured logger writing one line per event to standard error.
///
/// Each line reads `2026-12-04T10:00:00Z notice asib-worker: message key=value ...`. Libraries
/// log at debug or trace; executables set `Log.level` (default notice, `-v` lowers it).
public enum Log {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var threshold: LogLevel = .notice
    nonisolated(unsafe) private static var programName = "asib"

    public static var level: LogLevel {
        get { lock.lock(); defer { lock.unlock() }; return threshold }
        set { lock.lock(); threshold = newValue; lock.unlock() }
    }

    /// Sets the program name printed on every line.
    public static func setProgram(_ name: String) {
        lock.lock()
        programName = name
        lock.unlock()
    }

    public static func trace(_ message: @autoclosure () -> String, _ metadata: KeyValuePairs<String, Any> = [:]) {
        write(.trace, message, metadata)
    }

    public static func debug(_ message: @autoclosure () -> String, _ metadata: KeyValuePairs<String, Any> = [:]) {
        write(.debug, message, metadata)
    }

    public static func info(_ message: @autoclosure () -> String, _ metadata: KeyValuePairs<String, Any> = [:]) {
        write(.info, message, metadata)
    }

    public static func notice(_ message: @autoclosure () -> String, _ metadata: KeyValuePairs<String, Any> = [:]) {
        write(.notice, message, metadata)
    }

    public static func warning(_ message: @autoclosure () -> String, _ metadata: KeyValuePairs<String, Any> = [:]) {
        write(.warning, message, metadata)
    }

    public static func error(_ message: @autoclosure () -> String, _ metadata: KeyValuePairs<String, Any> = [:]) {
        write(.error, message, metadata)
    }

    private static func write(
        _ level: LogLevel,
        _ message: () -> String,
        _ metadata: KeyValuePairs<String, Any>
    ) {
        guard level >= Log.level else { return }
        var line = "\(timestamp()) \(level.label) \(currentProgram()): \(message())"
        for (key, value) in metadata {
            line += " \(key)=\(value)"
        }
        line += "\n"
        lock.lock()
        FileHandle.standardError.write(Data(line.utf8))
        lock.unlock()
    }

    private static func currentProgram() -> String {
        lock.lock()
        defer { lock.unlock() }
        return programName
    }

    private static func timestamp() -> String {
        var now = time(nil)
        var parts = tm()
        gmtime_r(&now, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02dZ",
            Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
            Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec)
        )
    }
}
