import ASIBConfig
import ASIBSupport
import ASIBTrainer
import Foundation

/// `asib-worker run CONFIG [KEY=VALUE ...]`: one run without a coordinator, same run files.
public struct StandaloneRun {
    let configFile: URL
    let overrides: [String]
    let runDirectory: URL

    public init(configFile: URL, overrides: [String], runDirectory: URL) {
        self.configFile = configFile
        self.overrides = overrides
        self.runDirectory = runDirectory
    }

    public func run() throws {
        var config = try YAMLLoader.load(file: configFile).value
        for text in overrides {
            try ConfigOverride.parse(text, origin: "command line").apply(to: &config)
        }
        let hash = ConfigLock.hash(ConfigLock.sanitize(config))
        // Options and data files are checked before anything is written to the run folder.
        let trainer = try RunTrainer(config: config, runDirectory: runDirectory)
        try RunTrainer.preflight(config: config)
        try AtomicFile.write(
            CanonicalJSON.string(config) + "\n", to: runDirectory.appendingPathComponent("config.json")
        )
        print("run \(runDirectory.path): config \(hash)")

        let outcome = try trainer.train { report in
            let metrics = report.metrics.keys.sorted()
                .map { "\($0)=\(String(format: "%.4f", report.metrics[$0]!))" }
                .joined(separator: " ")
            print("\(report.phase) epoch \(report.epoch): \(metrics)")
        }
        print(String(
            format: "done: final acc %.2f%%, best %.2f%%, %.1f s",
            outcome.finalAccuracy, outcome.bestAccuracy, outcome.seconds
        ))
    }
}
