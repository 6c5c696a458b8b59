import ASIBConfig
import Foundation
import Testing

/// A throwaway config folder with a primary config and a few groups.
struct ConfigFixture {
    let root: URL

    static let files: [String: String] = [
        "base.yaml": """
            defaults:
              - _self_
              - dataset: small
              - method: m1
              - rung: null
            seed: 42
            lr: 0.1
            epochs: 2
            name: base
            ce_alpha: 1.0
            kd_alpha: 0.0
            strict_mode: true
            tags: [a, b]
            dataset:
              batch_size: 128
              root: /data
            """,
        "self_last.yaml": """
            defaults:
              - method: m1
            ce_alpha: 0.25
            kd_alpha: 0.75
            name: self_last
            """,
        "dataset/small.yaml": "name: small\nbatch_size: 64\n",
        "dataset/big.yaml": "name: big\n",
        "method/m1.yaml": "ce_alpha: 0.5\nkd_alpha: 0.5\nname: m1\n",
        "method/m2.yaml": "ce_alpha: 0.7\nkd_alpha: 0.3\n",
        "method/bad_type.yaml": "ce_alpha: 0.5\nkd_alpha: 0.5\nepochs: three\n",
        "rung/r1.yaml": "lr: 0.2\n",
        "rung/typo.yaml": "lr: 0.2\nkd_alpah: 0.5\n",
        "dataset/typo.yaml": "name: typo\nbatchsize: 32\n",
        "model/teacher/t20.yaml": "name: resnet20\n",
        "keys.yaml": "keys: [dataset.name, teacher1.name, teacher2.name]\n",
        "anchored.yaml": """
            defaults:
              - _self_
              - dataset: small
              - anchor: fair
              - method: m1
              - rung: null
            seed: 42
            lr: 0.1
            name: anchored
            ce_alpha: 1.0
            kd_alpha: 0.0
            dataset:
              batch_size: 128
            """,
        "anchor/fair.yaml": """
            protected: [lr, ce_alpha, dataset.batch_size]
            lr: 0.1
            ce_alpha: 0.5
            kd_alpha: 0.5
            dataset:
              batch_size: 64
            """,
        "anchor/broken.yaml": "protected: [seed]\nlr: 0.1\n",
    ]

    init() throws {
        root = FileManager.default.temporaryDirectory
            .appendingPathComponent("asib-config-\(UUID().uuidString)")
        for (path, text) in Self.files {
            let url = root.appendingPathComponent(path)
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(), withIntermediateDirectories: true
            )
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
    }

    func compose(_ overrides: [String], primary: String = "base") throws -> ComposedConfig {
        let composer = ConfigComposer(configRoot: root)
        return try composer.compose(primary: primary, overrides: overrides, source: "test")
    }

    func file(_ path: String, line: Int, column: Int = 1) -> ConfigOrigin {
        let file = root.appendingPathComponent(path).path
        return .file(SourcePosition(file: file, line: line, column: column))
    }

    func remove() {
        try? FileManager.default.removeItem(at: root)
    }
}

struct ConfigComposerTests {
    @Test func groupFileOverridesPrimaryWhenSelfIsFirst() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        let composed = try fixture.compose([])
        #expect(composed.value[path: "ce_alpha"] == .double(0.5))
        #expect(composed.origins["ce_alpha"] == fixture.file("method/m1.yaml", line: 1))
    }

    @Test func primaryWinsWhenSelfIsImplicitlyLast() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        let composed = try fixture.compose([], primary: "self_last")
        #expect(composed.value[path: "ce_alpha"] == .double(0.25))
        #expect(composed.origins["ce_alpha"] == fixture.file("self_last.yaml", line: 3))
    }

    @Test func groupMergesAtItsPackageKeyByKey() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        let composed = try fixture.compose([])
        let expected = ConfigValue.map([
            "batch_size": .int(64), "root": .string("/data"), "name": .string("small"),
        ])
        #expect(composed.value[path: "dataset"] == expected)
        let batchOrigin = fixture.file("dataset/small.yaml", line: 2)
        #expect(composed.origins["dataset.batch_size"] == batchOrigin)
        #expect(composed.origins["dataset.root"] == fixture.file("base.yaml", line: 16, column: 3))
    }

    @Test func defaultsKeyIsNotInResult() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        #expect(try fixture.compose([]).value[path: "defaults"] == nil)
    }

    @Test func groupOverrideSelectsOtherOption() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        let composed = try fixture.compose(["method=m2"])
        #expect(composed.value[path: "ce_alpha"] == .double(0.7))
        #expect(composed.value[path: "name"] == .string("base"))
    }

    @Test func deselectedGroupSelectsOption() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        #expect(try fixture.compose(["rung=r1"]).value[path: "lr"] == .double(0.2))
    }

    @Test func addedGroupWithPackage() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        let composed = try fixture.compose(["+model/teacher@teacher1=t20"])
        #expect(composed.value[path: "teacher1.name"] == .string("resnet20"))
    }

    @Test func groupMissingFromDefaultsNeedsPlus() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        #expect(throws: ConfigError.self) {
            try fixture.compose(["model/teacher@teacher1=t20"])
        }
    }

    @Test func unknownOptionListsKnownOptions() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        #expect(throws: ConfigError.unknownGroupOption(
            group: "method", option: "m3", origin: "override 'method=m3' (test)",
            known: ["bad_type", "m1", "m2"]
        )) {
            try fixture.compose(["method=m3"])
        }
    }

    @Test func keyOverrideBeatsGroupFileWhateverTheOrder() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        #expect(try fixture.compose(["lr=0.3", "rung=r1"]).value[path: "lr"] == .double(0.3))
    }

    @Test func laterKeyOverrideWins() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        let composed = try fixture.compose(["lr=0.3", "lr=0.4"])
        #expect(composed.value[path: "lr"] == .double(0.4))
        #expect(composed.origins["lr"] == .override(text: "lr=0.4", source: "test"))
    }

    @Test func intOverridePromotesToDeclaredFloat() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        let composed = try fixture.compose(["lr=1"])
        #expect(composed.value[path: "lr"] == .double(1))
        #expect(composed.lockHash == (try fixture.compose(["lr=1.0"]).lockHash))
    }

    @Test func overrideTypeChangeNamesKeyOriginAndTypes() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        let error = ConfigError.typeChanged(
            key: "epochs", origin: .override(text: "epochs=2.5", source: "test"),
            expected: "int", actual: "float"
        )
        #expect(throws: error) {
            try fixture.compose(["epochs=2.5"])
        }
        #expect(error.description.contains("'epochs' from override 'epochs=2.5' (test)"))
    }

    @Test func groupFileTypeChangeNamesFileLine() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        #expect(throws: ConfigError.typeChanged(
            key: "epochs", origin: fixture.file("method/bad_type.yaml", line: 3),
            expected: "int", actual: "string"
        )) {
            try fixture.compose(["method=bad_type"])
        }
    }

    @Test func unknownKeySuggestsClosest() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        #expect(throws: ConfigError.overrideKeyMissing(
            key: "ce_alpah", text: "ce_alpah=0.5", source: "test", suggestion: "ce_alpha"
        )) {
            try fixture.compose(["ce_alpah=0.5"])
        }
    }

    @Test func addingExistingKeyFails() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        #expect(throws: ConfigError.self) {
            try fixture.compose(["+seed=1"])
        }
    }

    @Test func plusAddsAndDoublePlusSets() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        let composed = try fixture.compose(["+extra.depth=3", "++seed=7", "++other=x"])
        #expect(composed.value[path: "extra.depth"] == .int(3))
        #expect(composed.value[path: "seed"] == .int(7))
        #expect(composed.value[path: "other"] == .string("x"))
    }

    @Test func listOverrideReplacesList() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        #expect(try fixture.compose(["tags=[c]"]).value[path: "tags"] == .list([.string("c")]))
    }

    @Test func tildeDeletesKeyAndOrigin() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        let composed = try fixture.compose(["~tags"])
        #expect(composed.value[path: "tags"] == nil)
        #expect(composed.origins["tags"] == nil)
    }

    @Test func everyLeafHasAnOrigin() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        let composed = try fixture.compose(["rung=r1", "+extra=1"])
        #expect(Set(composed.origins.keys) == Set(composed.value.flattened().keys))
    }

    @Test func alphaSumMismatchNamesBothValuesAndOrigins() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        let error = ConfigError.alphaSum(
            ce: 0.5, ceOrigin: "\(fixture.file("method/m1.yaml", line: 1))",
            kd: 0.6, kdOrigin: "override 'kd_alpha=0.6' (test)"
        )
        #expect(throws: error) {
            try fixture.compose(["kd_alpha=0.6"])
        }
        #expect(error.description.contains("ce_alpha 0.5 ("))
        #expect(error.description.contains("kd_alpha 0.6 (override 'kd_alpha=0.6' (test))"))
    }

    @Test func alphaSumIsNotCheckedWithoutStrictMode() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        let composed = try fixture.compose(["kd_alpha=0.6", "strict_mode=false"])
        #expect(composed.value[path: "kd_alpha"] == .double(0.6))
    }

    @Test func alphaSumToleratesRounding() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        let composed = try fixture.compose(["ce_alpha=0.1", "kd_alpha=0.9000000001"])
        #expect(composed.value[path: "ce_alpha"] == .double(0.1))
    }

    @Test func composingTwiceGivesSameHash() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        let overrides = ["method=m2", "rung=r1", "lr=0.05"]
        let first = try fixture.compose(overrides).lockHash
        #expect(try fixture.compose(overrides).lockHash == first)
    }

    @Test func groupsAreFoldersWithYAMLFiles() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        let groups = ConfigComposer(configRoot: fixture.root).groups
        #expect(groups == ["anchor", "dataset", "method", "rung", "model/teacher"])
    }

    @Test func missingPrimaryIsReported() throws {
        let fixture = try ConfigFixture()
        defer { fixture.remove() }
        #expect(throws: ConfigError.self) {
            try fixture.compose([], primary: "nope")
        }
    }
}
