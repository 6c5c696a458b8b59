import ASIBConfig
import Testing

struct ConfigValueTests {
    static let sample = ConfigValue.map([
        "seed": .int(42),
        "tau": .double(4),
        "use_amp": .bool(false),
        "dataset": .map(["batch_size": .int(128), "name": .string("fashion_mnist")]),
        "teacher_weights": .null,
    ])

    @Test func pathReadsNestedValue() {
        #expect(Self.sample[path: "dataset.batch_size"] == .int(128))
    }

    @Test func pathToMissingKeyIsNil() {
        #expect(Self.sample[path: "dataset.missing.deeper"] == nil)
    }

    @Test func setCreatesIntermediateMaps() {
        var value = Self.sample
        value.set(path: "model.student.name", to: .string("resnet8"))
        #expect(value[path: "model.student.name"] == .string("resnet8"))
    }

    @Test func removeDeletesOnlyThatKey() {
        var value = Self.sample
        let removed = value.remove(path: "dataset.name")
        #expect(removed == .string("fashion_mnist"))
        #expect(value[path: "dataset"] == .map(["batch_size": .int(128)]))
    }

    @Test func intPromotesToDouble() throws {
        #expect(try Self.sample.double("seed") == 42)
    }

    @Test func doubleDoesNotTruncateToInt() {
        #expect(Self.sample[path: "tau"]?.intValue == nil)
    }

    @Test func typedLookupsReadValues() throws {
        #expect(try Self.sample.int("dataset.batch_size") == 128)
        #expect(try Self.sample.string("dataset.name") == "fashion_mnist")
        #expect(try Self.sample.bool("use_amp") == false)
    }

    @Test func defaultCoversMissingAndNull() throws {
        #expect(try Self.sample.double("kd_alpha", default: 0.25) == 0.25)
        #expect(try Self.sample.doubles("teacher_weights", default: [0.5, 0.5]) == [0.5, 0.5])
    }

    @Test func missingKeyWithoutDefaultThrows() {
        #expect(throws: ConfigError.missingKey(key: "kd_alpha")) {
            try Self.sample.double("kd_alpha")
        }
    }

    @Test func wrongTypeNamesKeyValueAndType() {
        let error = ConfigError.wrongType(
            key: "dataset.name", value: .string("fashion_mnist"), expected: "int", origin: nil
        )
        #expect(throws: error) {
            try Self.sample.int("dataset.name")
        }
        let message = "invalid value 'fashion_mnist' for 'dataset.name': expected int, got string; "
            + "give 'dataset.name' a value of type int"
        #expect(error.description == message)
    }

    @Test func wrongTypeWithDefaultStillThrows() {
        #expect(throws: ConfigError.self) {
            try Self.sample.bool("seed", default: true)
        }
    }

    @Test func flattenedListsLeaves() {
        let leaves = Self.sample.flattened()
        let expected: Set<String> = [
            "seed", "tau", "use_amp", "dataset.batch_size", "dataset.name", "teacher_weights",
        ]
        #expect(Set(leaves.keys) == expected)
    }
}
