import ASIBSlurm
import ASIBSupport
import Testing

@Suite("Slurm options")
struct SlurmOptionsTests {
    private func parse(_ words: [String]) throws -> (SlurmOptions, [String]) {
        var arguments = CommandLineArguments(words)
        let options = try SlurmOptions.parse(&arguments, jobName: "sweep", outputFolder: "/r/logs")
        return (options, try arguments.positionals())
    }

    @Test("every option is read from the command line")
    func parsesEveryOption() throws {
        let (options, rest) = try parse([
            "--partition", "cpu", "--cpus-per-task=4", "--mem", "8G", "--time", "1-02:00:00",
            "--throttle", "3", "--sbatch-line", "--qos=low", "--sbatch-line", "#SBATCH --nice=5",
            "--setup-line", "module load openblas", "--setup-line", "export A=1", "--shards", "6",
            "spec.yaml",
        ])
        #expect(options.partition == "cpu")
        #expect(options.cpusPerTask == 4)
        #expect(options.memory == "8G")
        #expect(options.time == "1-02:00:00")
        #expect(options.throttle == 3)
        #expect(options.extraDirectives == ["--qos=low", "--nice=5"])
        #expect(options.setupLines == ["module load openblas", "export A=1"])
        #expect(options.shards == 6)
        #expect(options.jobName == "sweep")
        #expect(options.outputFolder == "/r/logs")
        #expect(rest == ["spec.yaml"])
    }

    @Test("defaults without options")
    func defaults() throws {
        let (options, _) = try parse([])
        #expect(options.partition == nil)
        #expect(options.cpusPerTask == 1)
        #expect(options.throttle == nil)
        #expect(options.shards == nil)
        #expect(options.directiveLines == ["#SBATCH --cpus-per-task=1"])
    }

    @Test("directive lines follow the options")
    func directiveLines() throws {
        let (options, _) = try parse([
            "--partition", "cpu", "--mem", "4G", "--time", "30", "--sbatch-line", "--qos=low",
        ])
        #expect(
            options.directiveLines == [
                "#SBATCH --partition=cpu", "#SBATCH --cpus-per-task=1", "#SBATCH --mem=4G",
                "#SBATCH --time=30", "#SBATCH --qos=low",
            ])
    }

    @Test("throttle 0 is an error")
    func zeroThrottle() {
        #expect(throws: SlurmError.invalidThrottle(value: "0")) { try parse(["--throttle", "0"]) }
    }

    @Test("non-numeric throttle is an error")
    func textThrottle() {
        #expect(throws: SlurmError.invalidThrottle(value: "two")) {
            try parse(["--throttle", "two"])
        }
    }

    @Test(
        "invalid values are rejected",
        arguments: [
            ["--mem", "4 GB"], ["--mem", "lots"], ["--time", "2h"], ["--time", "1:2:3:4"],
            ["--partition", "a b"], ["--partition", "cpu\n#SBATCH --x"],
            ["--sbatch-line", "qos=low"],
            ["--sbatch-line", "--a\n--b"], ["--setup-line", "a\nb"], ["--cpus-per-task", "0"],
            ["--shards", "0"], ["--cpus-per-task", "x"],
        ])
    func invalidValues(words: [String]) {
        #expect(throws: (any Error).self) { try parse(words) }
    }

    @Test(
        "accepted time forms",
        arguments: ["30", "30:00", "2:00:00", "1-12", "1-12:30", "1-12:30:00"])
    func timeForms(time: String) throws {
        let (options, _) = try parse(["--time", time])
        #expect(options.time == time)
    }

    @Test("output arguments double percent signs")
    func outputArgumentsEscapePercent() {
        let options = SlurmOptions(jobName: "n", outputFolder: "/r/100% done")
        #expect(
            options.outputArguments == [
                "--job-name=n", "--output=/r/100%% done/%A_%a.out",
                "--error=/r/100%% done/%A_%a.err",
            ])
    }

    @Test("output folder with a backslash is rejected")
    func backslashFolder() {
        let options = SlurmOptions(jobName: "n", outputFolder: "/r/a\\b")
        #expect(throws: SlurmError.self) { try options.validate() }
    }

    @Test("task count is one per run unless sharded")
    func taskCount() {
        var options = SlurmOptions(jobName: "n", outputFolder: "/r")
        #expect(options.taskCount(runCount: 12) == 12)
        options.shards = 4
        #expect(options.taskCount(runCount: 12) == 4)
    }
}
