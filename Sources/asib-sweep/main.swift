import ASIBSupport
import Foundation

// Entry point: dispatches to one subcommand per role and turns errors into exit codes
// (64 for bad input, 1 for runtime failures).

setvbuf(stdout, nil, _IOLBF, 0)
Log.setProgram("asib-sweep")
var arguments = CommandLineArguments(Array(CommandLine.arguments.dropFirst()))
if arguments.flag("-v", "--verbose") {
    Log.level = .info
}

let subcommand = CommandLine.arguments.dropFirst().first { !$0.hasPrefix("-") }
do {
    switch subcommand {
    case "plan":
        try PlanCommand(arguments: arguments).run()
    case "launch":
        try LaunchCommand(arguments: arguments).run()
    case "status":
        try StatusCommand(arguments: arguments).run()
    case "report":
        try ReportCommand(arguments: arguments).run()
    case "cancel":
        try CancelCommand(arguments: arguments).run()
    case "hash":
        try HashCommand(arguments: arguments).run()
    case "keys":
        try KeysCommand(arguments: arguments).run()
    case "ingest":
        try IngestCommand(arguments: arguments).run()
    case nil where arguments.flag("-h", "--help"):
        print(Help.overview)
    case "help":
        print(Help.overview)
    case nil:
        FileHandle.standardError.write(Data((Help.overview + "\n").utf8))
        exit(ExitCode.usage)
    case let other?:
        throw UsageError(
            "unknown subcommand '\(other)'; expected plan, launch, status, report, cancel, hash, "
                + "keys or ingest"
        )
    }
} catch let error as ReportableError {
    FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
    exit(error.exitCode)
} catch {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    exit(ExitCode.failure)
}
