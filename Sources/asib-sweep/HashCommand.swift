import ASIBConfig
import ASIBSupport
import Foundation

/// `asib-sweep hash FILE`: the config-lock hash of an effective config, for checking by hand.
struct HashCommand {
    var arguments: CommandLineArguments

    func run() throws {
        var arguments = self.arguments
        if arguments.flag("-h", "--help") {
            print(Help.hash)
            return
        }
        let raw = arguments.flag("--no-sanitize")
        var positionals = try arguments.positionals()
        if positionals.first == "hash" {
            positionals.removeFirst()
        }
        guard positionals.count == 1 else {
            throw UsageError("expected one config file (JSON or YAML), for example 'asib-sweep hash runs/x/config.json'")
        }
        let value = try YAMLLoader.load(file: URL(fileURLWithPath: positionals[0])).value
        print(ConfigLock.hash(raw ? value : ConfigLock.sanitize(value)))
    }
}
