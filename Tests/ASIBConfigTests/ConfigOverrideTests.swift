import ASIBConfig
import Testing

struct ConfigOverrideTests {
    static let groups: Set<String> = ["method", "dataset", "model/teacher", "model/student"]

    static let validCases: [(String, ConfigOverride.Action)] = [
        ("kd_alpha=0.5", .set(key: "kd_alpha", value: .double(0.5), mode: .change)),
        ("+new_key=1", .set(key: "new_key", value: .int(1), mode: .add)),
        ("++x.y=true", .set(key: "x.y", value: .bool(true), mode: .force)),
        ("~tags", .delete(key: "tags")),
        ("dataset.batch_size=64", .set(key: "dataset.batch_size", value: .int(64), mode: .change)),
        ("name='yes'", .set(key: "name", value: .string("yes"), mode: .change)),
        ("flag=yes", .set(key: "flag", value: .string("yes"), mode: .change)),
        ("w=[0.7,0.3]", .set(key: "w", value: .list([.double(0.7), .double(0.3)]), mode: .change)),
        ("w=[a, b]", .set(key: "w", value: .list([.string("a"), .string("b")]), mode: .change)),
        ("m={a: 1}", .set(key: "m", value: .map(["a": .int(1)]), mode: .change)),
        ("x=", .set(key: "x", value: .null, mode: .change)),
        ("lr=1e-3", .set(key: "lr", value: .double(0.001), mode: .change)),
        ("n=0x10", .set(key: "n", value: .int(16), mode: .change)),
        ("s=\"a=b\"", .set(key: "s", value: .string("a=b"), mode: .change)),
        ("s='a,b'", .set(key: "s", value: .string("a,b"), mode: .change)),
        ("m={a: 1, b: 2}", .set(key: "m", value: .map(["a": .int(1), "b": .int(2)]), mode: .change)),
        (
            "method=vanilla_kd",
            .select(group: "method", package: nil, option: "vanilla_kd", mode: .change)
        ),
        (
            "model/teacher@teacher1=resnet20",
            .select(group: "model/teacher", package: "teacher1", option: "resnet20", mode: .change)
        ),
        (
            "+model/teacher@teacher2=resnet14",
            .select(group: "model/teacher", package: "teacher2", option: "resnet14", mode: .add)
        ),
        ("dataset=null", .select(group: "dataset", package: nil, option: nil, mode: .change)),
    ]

    @Test("valid override parses", arguments: validCases)
    func validOverride(text: String, expected: ConfigOverride.Action) throws {
        let parsed = try ConfigOverride.parse(text, origin: "command line", groups: Self.groups)
        #expect(parsed.action == expected)
        #expect(parsed.text == text)
    }

    static let invalidTexts = [
        "kd_alpha", "=1", "+++x=1", "~x=1", "~method", "bad key=1", "a..b=1", "x.=1",
        "1abc=2", "x=[1,2", "nogroup/x=y", "method={a: 1}", "method=a b", "x=a: b", "~",
        "dataset@=x", "seed=1,2", "name=a,b", "+tags=a, b",
    ]

    @Test("malformed override is rejected with its text and source", arguments: invalidTexts)
    func invalidOverride(text: String) {
        do {
            _ = try ConfigOverride.parse(text, origin: "sweeps/x.yaml", groups: Self.groups)
            Issue.record("'\(text)' parsed")
        } catch let error as ConfigError {
            #expect(error.description.contains("'\(text)' (sweeps/x.yaml)"))
            #expect(error.exitCode == 64)
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func applyChangesExistingKey() throws {
        var config = ConfigValue.map(["kd_alpha": .double(0.1)])
        try ConfigOverride.parse("kd_alpha=0.5", origin: "cli").apply(to: &config)
        #expect(config == .map(["kd_alpha": .double(0.5)]))
    }

    @Test func applyPromotesIntWhereFloatIsStored() throws {
        var config = ConfigValue.map(["lr": .double(0.1)])
        try ConfigOverride.parse("lr=1", origin: "cli").apply(to: &config)
        #expect(config == .map(["lr": .double(1)]))
    }

    @Test func applyRejectsMissingKeyWithSuggestion() {
        var config = ConfigValue.map(["kd_alpha": .double(0.1)])
        #expect(throws: ConfigError.overrideKeyMissing(
            key: "kd_alpah", text: "kd_alpah=0.5", source: "cli", suggestion: "kd_alpha"
        )) {
            try ConfigOverride.parse("kd_alpah=0.5", origin: "cli").apply(to: &config)
        }
    }

    @Test func missingKeyMessageSuggestsClosestKey() {
        let error = ConfigError.overrideKeyMissing(
            key: "kd_alpah", text: "kd_alpah=0.5", source: "cli", suggestion: "kd_alpha"
        )
        #expect(error.description.contains("did you mean `kd_alpha`?"))
    }

    @Test func applyRejectsAddingExistingKey() {
        var config = ConfigValue.map(["seed": .int(1)])
        #expect(throws: ConfigError.self) {
            try ConfigOverride.parse("+seed=2", origin: "cli").apply(to: &config)
        }
    }

    @Test func applyRejectsTypeChange() {
        var config = ConfigValue.map(["epochs": .int(2)])
        let override = try! ConfigOverride.parse("epochs=2.5", origin: "cli")
        #expect(throws: ConfigError.typeChanged(
            key: "epochs", origin: override.origin, expected: "int", actual: "float"
        )) {
            try override.apply(to: &config)
        }
    }

    @Test func applyRejectsGroupSelection() {
        var config = ConfigValue.map([:])
        let override = try! ConfigOverride.parse("method=x", origin: "cli", groups: ["method"])
        #expect(throws: ConfigError.self) {
            try override.apply(to: &config)
        }
    }

    @Test func deleteRemovesKey() throws {
        var config = ConfigValue.map(["a": .int(1), "b": .int(2)])
        try ConfigOverride.parse("~a", origin: "cli").apply(to: &config)
        #expect(config == .map(["b": .int(2)]))
    }

    @Test func deleteOfMissingKeyFails() {
        var config = ConfigValue.map(["a": .int(1)])
        #expect(throws: ConfigError.self) {
            try ConfigOverride.parse("~b", origin: "cli").apply(to: &config)
        }
    }
}
