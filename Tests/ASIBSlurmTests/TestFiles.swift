import Foundation

/// Paths and scratch folders shared by the Slurm tests.
enum TestFiles {
    /// The package's `slurm/array.sbatch.template`, found from this file's path.
    static var templateURL: URL {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent()
            .appendingPathComponent("../../slurm/array.sbatch.template")
            .standardizedFileURL
    }

    /// Creates a new empty folder under the system's temporary folder.
    static func makeScratchFolder(_ label: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("asib-slurm-tests")
            .appendingPathComponent("\(label)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Writes an executable shell script named `name` into `folder`.
    @discardableResult
    static func writeExecutable(_ name: String, in folder: URL, body: String) throws -> URL {
        let url = folder.appendingPathComponent(name)
        try ("#!/bin/sh\n" + body).write(to: url, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: url.path)
        return url
    }

    /// A valid plan hash for tests that do not read a plan.
    static let planSHA256 = String(repeating: "0123456789abcdef", count: 4)
}
