import Foundation

/// Runs the release executables the way a user does, from the repository root.
struct ExecutableRunner {
    struct Result {
        let status: Int32
        let output: String
        let error: String
    }

    static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()
        .deletingLastPathComponent()
        .deletingLastPathComponent()

    static func executable(_ name: String) -> URL {
        repositoryRoot.appendingPathComponent(".build/release").appendingPathComponent(name)
    }

    /// Runs `name` with `arguments` in the repository root and waits at most `timeout` seconds.
    /// `environment` replaces the test process's environment when given.
    static func run(
        _ name: String, _ arguments: [String], timeout: TimeInterval = 300,
        environment: [String: String]? = nil
    ) throws -> Result {
        let process = Process()
        process.executableURL = name.hasPrefix("/") ? URL(fileURLWithPath: name) : executable(name)
        process.arguments = arguments
        if let environment {
            process.environment = environment
        }
        process.currentDirectoryURL = repositoryRoot
        let outputFile = FileManager.default.temporaryDirectory
            .appendingPathComponent("e2e-\(UUID().uuidString).out")
        let errorFile = outputFile.appendingPathExtension("err")
        FileManager.default.createFile(atPath: outputFile.path, contents: nil)
        FileManager.default.createFile(atPath: errorFile.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: outputFile)
            try? FileManager.default.removeItem(at: errorFile)
        }
        process.standardOutput = try FileHandle(forWritingTo: outputFile)
        process.standardError = try FileHandle(forWritingTo: errorFile)
        try process.run()

        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
        }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
            let partial = (try? String(contentsOf: errorFile, encoding: .utf8)) ?? ""
            throw TimedOut(command: "\(name) \(arguments.joined(separator: " "))", stderr: partial)
        }
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus,
            output: try String(contentsOf: outputFile, encoding: .utf8),
            error: try String(contentsOf: errorFile, encoding: .utf8)
        )
    }

    struct TimedOut: Error, CustomStringConvertible {
        let command: String
        let stderr: String
        var description: String { "timed out: \(command)\n\(stderr)" }
    }

    static func temporaryDirectory(_ label: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("asib-\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// A parsed CSV file with a header row; fields may be quoted as in RFC 4180.
struct CSVTable {
    let header: [String]
    let rows: [[String]]

    init(url: URL) throws {
        let text = try String(contentsOf: url, encoding: .utf8)
        var records: [[String]] = []
        var record: [String] = []
        var field = ""
        var quoted = false
        var iterator = Array(text).makeIterator()
        var pending: Character? = nil
        while let character = pending ?? iterator.next() {
            pending = nil
            if quoted {
                if character == "\"" {
                    if let next = iterator.next() {
                        if next == "\"" { field.append("\"") } else { quoted = false; pending = next }
                    } else {
                        quoted = false
                    }
                } else {
                    field.append(character)
                }
            } else if character == "\"" {
                quoted = true
            } else if character == "," {
                record.append(field)
                field = ""
            } else if character == "\n" || character == "\r\n" {
                record.append(field)
                records.append(record)
                record = []
                field = ""
            } else {
                field.append(character)
            }
        }
        if !field.isEmpty || !record.isEmpty {
            record.append(field)
            records.append(record)
        }
        header = records.first ?? []
        rows = Array(records.dropFirst())
    }

    func column(_ name: String) -> Int? {
        header.firstIndex(of: name)
    }

    func value(_ row: [String], _ name: String) -> String? {
        column(name).map { row[$0] }
    }
}
