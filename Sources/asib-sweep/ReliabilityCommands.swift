import ASIBCoordinator
import ASIBSupport
import ASIBWire
import Foundation

/// `asib-sweep keys DIR`: creates the CURVE key folder for `launch --keys` and workers.
struct KeysCommand {
    var arguments: CommandLineArguments

    func run() throws {
        var arguments = self.arguments
        if arguments.flag("-h", "--help") {
            print(Help.keys)
            return
        }
        var positionals = try arguments.positionals()
        if positionals.first == "keys" {
            positionals.removeFirst()
        }
        guard positionals.count == 1 else {
            throw UsageError("expected one key folder, e.g. 'asib-sweep keys sweep-keys'\n\n" + Help.keys)
        }
        let folder = CurveKeyFolder(directory: URL(fileURLWithPath: positionals[0]))
        try folder.create()
        print("created CURVE keys in \(folder.directory.path)")
        print("  coordinator: launch --keys \(folder.directory.path)")
        print("  workers:     asib-worker --keys \(folder.directory.path) (needs worker.* and coordinator.pub)")
    }
}

/// `asib-sweep ingest DIR SPOOL...`: merges worker spools into DIR/sweep.db.
struct IngestCommand {
    var arguments: CommandLineArguments

    func run() throws {
        var arguments = self.arguments
        if arguments.flag("-h", "--help") {
            print(Help.ingest)
            return
        }
        var positionals = try arguments.positionals()
        if positionals.first == "ingest" {
            positionals.removeFirst()
        }
        guard positionals.count >= 2 else {
            throw UsageError("expected a results folder and at least one spool folder\n\n" + Help.ingest)
        }
        let results = URL(fileURLWithPath: positionals[0])
        let database = results.appendingPathComponent("sweep.db")
        guard FileManager.default.fileExists(atPath: database.path) else {
            throw UsageError(
                "'\(database.path)' not found; give the results folder of a launched sweep"
            )
        }
        let store = try SweepStore(path: database)
        var counts = SpoolIngest.Counts()
        for path in positionals.dropFirst() {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue else {
                throw UsageError("spool folder '\(path)' not found; give the folder of asib-worker --spool")
            }
            try SpoolIngest(store: store).ingest(directory: URL(fileURLWithPath: path), into: &counts)
        }
        print(
            "ingested: \(counts.epochsStored) epoch records stored, \(counts.runsDone) runs done, "
                + "\(counts.runsFailed) failed, \(counts.duplicates) already stored, "
                + "\(counts.late) late, \(counts.skipped) skipped"
        )
    }
}
