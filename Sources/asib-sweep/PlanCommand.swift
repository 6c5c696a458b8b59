import ASIBPlan
import ASIBSupport
import Foundation

/// `asib-sweep plan`: prints the index map, or writes plan.json without `--dry-run`.
struct PlanCommand {
    var arguments: CommandLineArguments

    func run() throws {
        var arguments = self.arguments
        if arguments.flag("-h", "--help") {
            print(Help.plan)
            return
        }
        let dryRun = arguments.flag("--dry-run")
        let format = try arguments.value("--format") ?? "text"
        guard format == "text" || format == "json" else {
            throw UsageError("invalid --format '\(format)': expected text or json")
        }
        let options = try SweepOptions(arguments: &arguments, subcommand: "plan")
        let plan = try options.makePlan()

        print(format == "json" ? plan.jsonText() : plan.textTable(), terminator: "")
        if !dryRun {
            let directory = options.resultsDirectory(for: plan)
            let url = directory.appendingPathComponent("plan.json")
            try AtomicFile.write(plan.jsonText(), to: url)
            FileHandle.standardError.write(Data("wrote \(url.path)\n".utf8))
        }
    }
}
