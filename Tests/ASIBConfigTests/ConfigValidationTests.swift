import ASIBConfig
import Foundation
import Testing

/// Unknown keys in group files, the fairness anchor's protected keys, and the messages of
/// every composition error.
struct ConfigValidationTests {
    @Test func unknownRootKeyNamesFileLineAndClosestKey() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        let position = SourcePosition(
            file: fixture.root.appendingPathComponent("rung/typo.yaml").path, line: 2, column: 1
        )
        let error = ConfigError.unknownKey(
            key: "kd_alpah", position: position, suggestion: "kd_alpha"
        )
        #expect(throws: error) {
            try fixture.compose(["rung=typo"])
        }
        #expect(error.description.contains("rung/typo.yaml:2:1: unknown config key 'kd_alpah'"))
        #expect(error.description.contains("did you mean `kd_alpha`?"))
        #expect(error.exitCode == 64)
    }

    @Test func unknownNestedKeyIsReportedWithPackagePath() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        let position = SourcePosition(
            file: fixture.root.appendingPathComponent("dataset/typo.yaml").path, line: 2, column: 1
        )
        #expect(throws: ConfigError.unknownKey(
            key: "dataset.batchsize", position: position, suggestion: "dataset.batch_size"
        )) {
            try fixture.compose(["dataset=typo"])
        }
    }

    @Test func catalogKeysAreAccepted() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        // dataset.name is declared only in keys.yaml, teacher1.name likewise.
        let composed = try fixture.compose(["dataset=big", "+model/teacher@teacher1=t20"])
        #expect(composed.value[path: "dataset.name"] == .string("big"))
        #expect(composed.value[path: "teacher1.name"] == .string("resnet20"))
    }

    @Test func invalidCatalogNamesFileAndLine() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        let catalog = fixture.root.appendingPathComponent("keys.yaml")
        try "# header\nkeys: {dataset.name: 1}\n".write(to: catalog, atomically: true, encoding: .utf8)
        do {
            _ = try fixture.compose([])
            Issue.record("composition passed")
        } catch let error as ConfigError {
            #expect(error.description.contains("keys.yaml:2:1: invalid key catalog"), "\(error)")
            #expect(error.exitCode == 64)
        }
    }

    @Test func knownKeysCoverAncestorsOnly() {
        let known = KnownKeys(entries: ["dataset.batch_size", "teacher_weights"])
        #expect(known.contains("dataset.batch_size"))
        #expect(known.contains("teacher_weights.first"))
        #expect(!known.contains("dataset"))
        #expect(!known.contains("dataset.batchsize"))
        #expect(known.closest(to: "dataset.batchsize") == "dataset.batch_size")
    }

    static let repositoryConfigs = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("configs")

    @Test func repositoryConfigsComposeWithEveryOption() throws {
        let composer = ConfigComposer(configRoot: Self.repositoryConfigs)
        for group in ["method", "rung", "schedule", "dataset", "model/student"] {
            for option in composer.options(of: group) {
                // strict_mode=false lets a rung file combine with the default method.
                let overrides = ["\(group)=\(option)", "strict_mode=false"]
                _ = try composer.compose(primary: "base", overrides: overrides, source: "test")
            }
        }
    }

    @Test func quotedNumberStaysStringInStringKey() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        let composed = try fixture.compose(["name='001'"])
        #expect(composed.value[path: "name"] == .string("001"))
        #expect(composed.lockHash != (try fixture.compose(["name='1'"]).lockHash))
    }

    @Test func unquotedNumberInStringKeyIsRejected() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        do {
            _ = try fixture.compose(["name=001"])
            Issue.record("name=001 composed")
        } catch let error as ConfigError {
            #expect(error.description.contains("'name' from override 'name=001' (test)"))
            #expect(error.description.contains("expected string"))
            #expect(error.description.contains("quote it"))
        }
    }

    // MARK: - Anchor

    @Test func anchorAcceptsMatchingMethod() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        let composed = try fixture.compose([], primary: "anchored")
        #expect(composed.protectedKeys.map(\.key) == ["lr", "ce_alpha", "dataset.batch_size"])
        #expect(composed.value[path: "protected"] == nil)
        #expect(composed.value[path: "dataset.batch_size"] == .int(64))
    }

    @Test func anchorRejectsMethodChange() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        let change = ProtectedKeyChange(
            key: "ce_alpha", anchorValue: .double(0.5),
            anchorOrigin: fixture.file("anchor/fair.yaml", line: 3),
            value: .double(0.7), origin: fixture.file("method/m2.yaml", line: 1)
        )
        let anchor = fixture.root.appendingPathComponent("anchor/fair.yaml").path
        let error = ConfigError.protectedKeysChanged(anchor: anchor, changes: [change])
        #expect(throws: error) {
            try fixture.compose(["method=m2"], primary: "anchored")
        }
        #expect(error.description.contains("ce_alpha: anchor '0.5' ("))
        #expect(error.description.contains("anchor/fair.yaml:3:1), effective '0.7' ("))
        #expect(error.description.contains("method/m2.yaml:1:1)"))
    }

    @Test func anchorListsEveryChangedKeyWithOrigins() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        do {
            _ = try fixture.compose(
                ["method=m2", "lr=0.2", "dataset.batch_size=32"], primary: "anchored"
            )
            Issue.record("composition passed")
        } catch ConfigError.protectedKeysChanged(_, let changes) {
            #expect(changes.map(\.key) == ["lr", "ce_alpha", "dataset.batch_size"])
            #expect(changes[0].value == .double(0.2))
            #expect(changes[0].origin == .override(text: "lr=0.2", source: "test"))
            #expect(changes[2].anchorOrigin == fixture.file("anchor/fair.yaml", line: 6, column: 3))
        }
    }

    @Test func anchorRejectsDeletedKey() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        do {
            _ = try fixture.compose(["~lr"], primary: "anchored")
            Issue.record("composition passed")
        } catch let error as ConfigError {
            #expect(error.description.contains("lr: anchor '0.1' ("))
            #expect(error.description.contains("effective deleted"))
        }
    }

    @Test func anchorAllowsUnprotectedKeys() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        let composed = try fixture.compose(["seed=7"], primary: "anchored")
        #expect(composed.value[path: "seed"] == .int(7))
    }

    @Test func protectedKeyWithoutAnchorValueIsRejected() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        do {
            _ = try fixture.compose(["anchor=broken"], primary: "anchored")
            Issue.record("composition passed")
        } catch let error as ConfigError {
            #expect(error.description.contains("anchor/broken.yaml:1:1"))
            #expect(error.description.contains("protected key 'seed' has no value"))
        }
    }

    @Test func repositoryAnchorRejectsUnfairMethod() throws {
        let composer = ConfigComposer(configRoot: Self.repositoryConfigs)
        let fairOverrides = ["anchor=fair", "method=avg_kd", "ce_alpha=0.65", "kd_alpha=0.35"]
        let fair = try composer.compose(primary: "base", overrides: fairOverrides, source: "test")
        #expect(fair.value[path: "kd_alpha"] == .double(0.35))
        do {
            let unfair = ["anchor=fair", "method=asib_stage"]
            _ = try composer.compose(primary: "base", overrides: unfair, source: "test")
            Issue.record("asib_stage composed under the anchor")
        } catch let error as ConfigError {
            // asib_stage trains with AdamW at lr 0.001, the anchor fixes SGD at 0.1.
            #expect(error.description.contains("optimizer: anchor 'sgd'"), "\(error)")
            #expect(error.description.contains("effective 'adamw'"), "\(error)")
            #expect(error.description.contains("method/asib_stage.yaml:45:1"), "\(error)")
        }
    }

    // MARK: - Messages

    /// Overrides that fail to compose on the fixture, the key the message must name, and the
    /// origin text it must contain.
    static let errorCases: [([String], String, String)] = [
        (["ce_alpah=0.5"], "'ce_alpah'", "'ce_alpah=0.5' (test)"),
        (["epochs=2.5"], "'epochs'", "override 'epochs=2.5' (test)"),
        (["method=bad_type"], "'epochs'", "method/bad_type.yaml:3:1"),
        (["+seed=1"], "'seed'", "base.yaml:6:1"),
        (["kd_alpha=0.6"], "kd_alpha", "override 'kd_alpha=0.6' (test)"),
        (["rung=typo"], "'kd_alpah'", "rung/typo.yaml:2:1"),
        (["~nokey"], "'nokey'", "'~nokey' (test)"),
        (["seed=1,2"], "seed=1,2", "(test)"),
        (["seed=x"], "'seed'", "override 'seed=x' (test)"),
        (["method=m9"], "'m9'", "override 'method=m9' (test)"),
    ]

    @Test("error names key and origin", arguments: errorCases)
    func errorNamesKeyAndOrigin(overrides: [String], key: String, origin: String) throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        do {
            _ = try fixture.compose(overrides)
            Issue.record("\(overrides) composed")
        } catch let error as ConfigError {
            #expect(error.description.contains(key), "\(error.description)")
            #expect(error.description.contains(origin), "\(error.description)")
            #expect(error.exitCode == 64)
        }
    }
}
