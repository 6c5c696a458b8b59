import ASIBConfig
import Testing

/// Expected texts below are Python 3 outputs of `repr(x)` and `json.dumps(..., sort_keys=True)`.
struct ConfigLockTests {
    static let reprCases: [(Double, String)] = [
        (0.0001, "0.0001"), (1e-5, "1e-05"), (5e-5, "5e-05"), (1e16, "1e+16"),
        (1.5e-7, "1.5e-07"), (4.0, "4.0"), (100.0, "100.0"), (0.7, "0.7"),
        (9999999999999998.0, "9999999999999998.0"), (1e22, "1e+22"), (-0.0, "-0.0"),
        (0.1 + 0.2, "0.30000000000000004"), (1.7976931348623157e308, "1.7976931348623157e+308"),
        (Double.leastNonzeroMagnitude, "5e-324"), (123.456, "123.456"),
        (1234567890123456.0, "1234567890123456.0"),
        (-2.5e-10, "-2.5e-10"), (0.00012345, "0.00012345"),
        (Double.infinity, "Infinity"), (-Double.infinity, "-Infinity"), (Double.nan, "NaN"),
    ]

    @Test("float formatting matches Python repr", arguments: reprCases)
    func floatRepr(value: Double, expected: String) {
        #expect(Python.repr(value) == expected)
    }

    @Test func stringEscapesMatchPython() {
        let text = "\u{e9}\u{1F600}\u{7f} a\"b\\c\n\t\u{01}\u{08}\u{0c}\r"
        let expected = #""\u00e9\ud83d\ude00\u007f a\"b\\c\n\t\u0001\b\f\r""#
        #expect(CanonicalJSON.string(.string(text)) == expected)
    }

    @Test func keysSortByCodePoint() {
        let value = ConfigValue.map([
            "b": .int(1), "a": .list([.double(1), .null, .bool(true)]), "\u{e9}": .string("x"),
            "Z": .map([:]),
        ])
        let expected = #"{"Z": {}, "a": [1.0, null, true], "b": 1, "\u00e9": "x"}"#
        #expect(CanonicalJSON.string(value) == expected)
    }

    @Test func l0VectorReserializesByteIdentical() throws {
        let value = try YAMLLoader.parse(text: LockVectors.l0Baseline, origin: "L0").value
        #expect(CanonicalJSON.string(value) == LockVectors.l0Baseline)
    }

    @Test func l0VectorHashMatchesStoredHash() throws {
        let value = try YAMLLoader.parse(text: LockVectors.l0Baseline, origin: "L0").value
        #expect(ConfigLock.hash(value) == LockVectors.l0BaselineHash)
    }

    @Test func l4VectorReserializesByteIdentical() throws {
        let value = try YAMLLoader.parse(text: LockVectors.l4Full, origin: "L4").value
        #expect(CanonicalJSON.string(value) == LockVectors.l4Full)
    }

    @Test func l4VectorHashMatchesStoredHash() throws {
        let value = try YAMLLoader.parse(text: LockVectors.l4Full, origin: "L4").value
        #expect(ConfigLock.hash(value) == LockVectors.l4FullHash)
    }

    @Test func keyOrderDoesNotChangeHash() throws {
        let first = try YAMLLoader.parse(text: #"{"b": 1, "a": {"y": 2, "x": 3}}"#, origin: "1")
        let second = try YAMLLoader.parse(text: #"{"a": {"x": 3, "y": 2}, "b": 1}"#, origin: "2")
        #expect(ConfigLock.hash(first.value) == ConfigLock.hash(second.value))
    }

    @Test func listOrderChangesHash() throws {
        let first = try YAMLLoader.parse(text: "teacher_weights: [0.7, 0.3]", origin: "1")
        let second = try YAMLLoader.parse(text: "teacher_weights: [0.3, 0.7]", origin: "2")
        #expect(ConfigLock.hash(first.value) != ConfigLock.hash(second.value))
    }

    @Test func equalFloatSpellingsHashEqual() throws {
        let hashes = try ["1e-3", "0.001", "1.0e-3"].map { spelling in
            ConfigLock.hash(try YAMLLoader.parse(text: "lr: \(spelling)", origin: spelling).value)
        }
        #expect(Set(hashes).count == 1)
    }

    @Test func yamlAndJSONFormsHashEqual() throws {
        let yaml = """
            dataset:
              name: cifar100
              batch_size: 128
            teacher_weights:
              - 0.7
              - 0.3
            tau: 4.0
            min_lr: 1e-5
            use_ib: true
            note: 'yes'
            """
        let json = #"{"dataset": {"batch_size": 128, "name": "cifar100"}, "min_lr": 1e-05, "#
            + #""note": "yes", "tau": 4.0, "teacher_weights": [0.7, 0.3], "use_ib": true}"#
        let fromYAML = try YAMLLoader.parse(text: yaml, origin: "yaml").value
        #expect(CanonicalJSON.string(fromYAML) == json)
    }

    @Test func canonicalTextReloadsToSameHash() throws {
        let value = try YAMLLoader.parse(text: LockVectors.l4Full, origin: "L4").value
        let text = CanonicalJSON.string(value)
        let reloaded = try YAMLLoader.parse(text: text, origin: "again").value
        #expect(ConfigLock.hash(reloaded) == LockVectors.l4FullHash)
    }

    @Test func nonFiniteFloatsReloadFromCanonicalText() throws {
        let value = ConfigValue.map(["high": .double(.infinity), "low": .double(-.infinity)])
        let text = CanonicalJSON.string(value)
        #expect(try YAMLLoader.parse(text: text, origin: "json").value == value)
    }

    /// Pairs of YAML documents and whether their lock hashes must be equal.
    static let hashPairs: [(String, String, Bool)] = [
        ("{a: 1, b: {x: 2, y: 3}}", "{b: {y: 3, x: 2}, a: 1}", true),
        ("w: [0.7, 0.3]", "w: [0.3, 0.7]", false),
        ("lr: 1e-3", "lr: 0.001", true),
        ("lr: 1.0e-3", "lr: 0.001", true),
        ("lr: 1E-3", "lr: .001", true),
        ("lr: 5.0e-4", "lr: 0.0005", true),
        ("tau: 4", "tau: 4.0", false),
        ("flag: yes", "flag: 'yes'", true),
        ("flag: on", "flag: true", false),
        ("flag: no", "flag: false", false),
        ("id: '1'", "id: 1", false),
        ("id: '1'", "id: true", false),
        ("dataset: {name: x}", "dataset:\n  name: x", true),
        ("seed: 1\nuse_amp: true", "seed: 1\nuse_amp: false", true),
        ("seed: 1\nteacher1_ckpt: a.bin", "seed: 1", true),
        ("seed: 1\nstudent_ep2_acc: 50.0", "seed: 1", true),
        ("optimizer: sgd", "optimizer: adamw", false),
        ("kd_sample_thr: 0.85", "kd_sample_thr: 0.9", false),
        ("ib_mbm_out_dim: 256", "ib_mbm_out_dim: 512", false),
        ("student_epochs: 2", "student_epochs: 3", false),
        ("model: {use_amp: true}", "model: {use_amp: false}", false),
    ]

    @Test("lock hash equality", arguments: hashPairs)
    func lockHashEquality(first: String, second: String, equal: Bool) throws {
        let left = try YAMLLoader.parse(text: first, origin: "first").value
        let right = try YAMLLoader.parse(text: second, origin: "second").value
        #expect((ConfigLock.lockHash(left) == ConfigLock.lockHash(right)) == equal)
    }

    static let roundTripDocuments = [
        "a: 1\nb: [x, 'yes', on, 2.5, null, true]\nc: {d: {e: 1e-05}}",
        // Characters above U+FFFF are left out: their surrogate-pair escapes do not load
        // (see the note on YAMLLoader).
        "name: \"caf\u{e9} \u{4E2D}\"\nbig: 1e16\nsmall: 1.5e-7\nzero: -0.0",
        "text: 'a \"quoted\" \\\\ backslash'\nempty: ''\nlist: []\nmap: {}",
        "teacher_weights: [0.7, 0.3]\nschedule:\n  type: cosine\n  min_lr: 1.0e-5",
    ]

    @Test("canonical JSON reloads to the same hash", arguments: roundTripDocuments)
    func canonicalRoundTripKeepsHash(document: String) throws {
        let value = try YAMLLoader.parse(text: document, origin: "yaml").value
        let text = CanonicalJSON.string(value)
        let reloaded = try YAMLLoader.parse(text: text, origin: "json").value
        #expect(CanonicalJSON.string(reloaded) == text)
        #expect(ConfigLock.lockHash(reloaded) == ConfigLock.lockHash(value))
    }

    @Test func sanitizeDropsRuntimeKeys() {
        let config = ConfigValue.map([
            "use_amp": .bool(true), "teacher1_ckpt": .string("a.bin"), "locked": .bool(true),
            "csv_kd_target": .string("avg"), "student_ep3_acc": .double(50), "epoch2_tau": .int(4),
            "seed": .int(1),
        ])
        #expect(ConfigLock.sanitize(config) == .map(["seed": .int(1)]))
    }

    @Test func sanitizeKeepsTrainingKnobs() {
        let config = ConfigValue.map([
            "optimizer": .string("sgd"), "student_epochs": .int(2), "teacher_epochs": .int(3),
            "epochs": .int(1), "kd_sample_thr": .double(0.85), "kd_two_view_start_epoch": .int(20),
            "ib_mbm_query_dim": .int(256), "num_classes": .int(10),
        ])
        #expect(ConfigLock.sanitize(config) == config)
    }

    @Test func sanitizeKeepsNestedKeysWithDroppedNames() {
        let config = ConfigValue.map(["model": .map(["use_amp": .bool(true)])])
        #expect(ConfigLock.sanitize(config) == config)
    }

    @Test func diffListsAddedRemovedAndChangedKeys() {
        let old = ConfigValue.map(["a": .int(1), "b": .map(["c": .int(2)]), "gone": .null])
        let new = ConfigValue.map(["a": .int(2), "b": .map(["c": .int(2), "d": .int(3)])])
        let diff = ConfigDiff(from: old, to: new)
        #expect(diff.added == ["b.d"])
        #expect(diff.removed == ["gone"])
        #expect(diff.changed.map(\.key) == ["a"])
        #expect(diff.summary == "added: b.d; removed: gone; changed: a '1' -> '2'")
    }

    @Test func diffOfEqualConfigsIsEmpty() {
        let config = ConfigValue.map(["x": .double(.nan)])
        #expect(ConfigDiff(from: config, to: config).isEmpty)
    }
}
