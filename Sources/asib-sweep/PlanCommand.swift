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
        let explainIndex = try arguments.integer("--explain", in: 0...Int(Int32.max))
        let options = try SweepOptions(arguments: &arguments, subcommand: "plan")
        let plan = try options.makePlan()
        if let explainIndex {
            try explain(index: explainIndex, plan: plan, options: options)
            return
        }

        print(format == "json" ? plan.jsonText() : plan.textTable(), terminator: "")
        if !dryRun {
            let directory = options.resultsDirectory(for: plan)
            let url = directory.appendingPathComponent("plan.json")
            try AtomicFile.write(plan.jsonText(), to: url)
            FileHandle.standardError.write(Data("wrote \(url.path)\n".utf8))
        }
    }

    /// Prints every key of run `index` with its value and origin; writes no file.
    private func explain(index: Int, plan: Plan, options: SweepOptions) throws {
        guard plan.runs.indices.contains(index) else {
            throw UsageError(
                "invalid --explain \(index): the plan has \(plan.runs.count) runs "
                    + "(indices 0-\(plan.runs.count - 1)); see 'asib-sweep plan --dry-run'"
            )
        }
        let explanation = try ConfigExplanation(
            run: plan.runs[index], spec: try SweepSpec.load(from: options.specURL),
            configRoot: options.configRoot, extraOverrides: options.overrides
        )
        let directory = FileManager.default.currentDirectoryPath
        print(explanation.text(relativeTo: directory), terminator: "")
    }
}
