import ASIBConfig
import Testing

struct YAMLLoaderTests {
    /// YAML 1.2 core schema typing of plain scalars; quoted scalars stay strings.
    static let typingCases: [(String, ConfigValue)] = [
        ("true", .bool(true)), ("True", .bool(true)), ("TRUE", .bool(true)),
        ("false", .bool(false)), ("False", .bool(false)), ("FALSE", .bool(false)),
        ("yes", .string("yes")), ("no", .string("no")), ("on", .string("on")),
        ("off", .string("off")), ("null", .null), ("Null", .null), ("~", .null), ("", .null),
        ("42", .int(42)), ("-7", .int(-7)), ("+3", .int(3)), ("0x1F", .int(31)),
        ("0o17", .int(15)), ("1e-3", .double(0.001)), ("0.001", .double(0.001)),
        ("1.0e-3", .double(0.001)), (".5", .double(0.5)), ("5.", .double(5)),
        ("-2.5E+2", .double(-250)), (".inf", .double(.infinity)), ("-.Inf", .double(-.infinity)),
        ("'true'", .string("true")), ("\"1\"", .string("1")), ("'0.5'", .string("0.5")),
        ("1_000", .string("1_000")), ("1.2.3", .string("1.2.3")), ("12abc", .string("12abc")),
        ("0x", .string("0x")), ("\"\"", .string("")), ("Infinity", .double(.infinity)),
        ("-Infinity", .double(-.infinity)), ("'Infinity'", .string("Infinity")),
    ]

    @Test("plain scalar typing", arguments: typingCases)
    func scalarTyping(text: String, expected: ConfigValue) throws {
        let value = try YAMLLoader.parse(text: "key: \(text)", origin: "test").value
        #expect(value[path: "key"] == expected)
    }

    @Test("NaN spellings are floats", arguments: [".nan", ".NaN", "NaN"])
    func nanScalarIsDouble(text: String) throws {
        let value = try YAMLLoader.parse(text: "key: \(text)", origin: "test").value
        #expect(value[path: "key"]?.doubleValue?.isNaN == true)
    }

    @Test func strTagKeepsText() throws {
        let value = try YAMLLoader.parse(text: "key: !!str 12", origin: "test").value
        #expect(value[path: "key"] == .string("12"))
    }

    @Test func customTagIsRejected() {
        #expect(throws: ConfigError.self) {
            try YAMLLoader.parse(text: "key: !custom 12", origin: "test")
        }
    }

    @Test func nestedMapsAndLists() throws {
        let text = """
            dataset:
              name: cifar10
              sizes: [1, 2.5]
            tags:
              - a
              - {b: 1}
            """
        let value = try YAMLLoader.parse(text: text, origin: "test").value
        let expected = ConfigValue.map([
            "dataset": .map(["name": .string("cifar10"), "sizes": .list([.int(1), .double(2.5)])]),
            "tags": .list([.string("a"), .map(["b": .int(1)])]),
        ])
        #expect(value == expected)
    }

    @Test func jsonInputLoads() throws {
        let text = #"{"a": [1, 2.5, "x", null, true], "b": {"c": "\u00e9", "d": "1"}}"#
        let value = try YAMLLoader.parse(text: text, origin: "json").value
        let expected = ConfigValue.map([
            "a": .list([.int(1), .double(2.5), .string("x"), .null, .bool(true)]),
            "b": .map(["c": .string("\u{e9}"), "d": .string("1")]),
        ])
        #expect(value == expected)
    }

    @Test func keyPositionsAreRecorded() throws {
        let loaded = try YAMLLoader.parse(text: "a: 1\nb:\n  c: 2\n", origin: "f.yaml")
        #expect(loaded.positions["b.c"] == SourcePosition(file: "f.yaml", line: 3, column: 3))
        #expect(loaded.positions["a"] == SourcePosition(file: "f.yaml", line: 1, column: 1))
    }

    @Test func syntaxErrorNamesLineAndColumn() {
        // PyYAML reports the same mark for this text: line 2, column 4 ("b:" is indented).
        #expect(throws: ConfigError.yamlSyntax(
            file: "bad.yaml", line: 2, column: 4,
            problem: "mapping values are not allowed in this context"
        )) {
            try YAMLLoader.parse(text: "a: 1\n  b: 2\n", origin: "bad.yaml")
        }
    }

    @Test func syntaxErrorExitsWithUsageCode() {
        do {
            _ = try YAMLLoader.parse(text: "a: [1, 2\nb: 3\n", origin: "bad.yaml")
            Issue.record("expected a syntax error")
        } catch let error as ConfigError {
            #expect(error.exitCode == 64)
            #expect(error.description.hasPrefix("bad.yaml:2:"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test func duplicateKeyIsRejected() {
        #expect(throws: ConfigError.duplicateKey(
            key: "a",
            first: SourcePosition(file: "d.yaml", line: 1, column: 1),
            second: SourcePosition(file: "d.yaml", line: 3, column: 1)
        )) {
            try YAMLLoader.parse(text: "a: 1\nb: 2\na: 3\n", origin: "d.yaml")
        }
    }

    @Test func duplicateKeyInNestedMapIsRejected() {
        #expect(throws: ConfigError.self) {
            try YAMLLoader.parse(text: "m: {x: 1, x: 2}", origin: "d.yaml")
        }
    }

    @Test func aliasRepeatsAnchoredValue() throws {
        let value = try YAMLLoader.parse(text: "a: &w [0.7, 0.3]\nb: *w\n", origin: "t").value
        #expect(value[path: "b"] == .list([.double(0.7), .double(0.3)]))
    }

    @Test func secondDocumentIsRejected() {
        #expect(throws: ConfigError.self) {
            try YAMLLoader.parse(text: "a: 1\n---\nb: 2\n", origin: "t")
        }
    }

    @Test func emptyTextIsNull() throws {
        #expect(try YAMLLoader.parse(text: "", origin: "t").value == .null)
    }

    @Test func missingFileIsReported() {
        let error = ConfigError.unreadableFile(path: "/nonexistent/x.yaml", reason: "no such file")
        #expect(throws: error) {
            try YAMLLoader.load(file: .init(fileURLWithPath: "/nonexistent/x.yaml"))
        }
    }
}
