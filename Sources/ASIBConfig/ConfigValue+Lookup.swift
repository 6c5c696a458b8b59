/// Typed lookups for code that reads a config, such as the trainer.
///
/// Each lookup throws a `ConfigError` that names the key, the stored value and the expected
/// type. A lookup with a default returns the default when the key is missing or null.
extension ConfigValue {
    public func int(_ path: String) throws -> Int {
        try lookup(path, expected: "int") { $0.intValue }
    }

    public func int(_ path: String, default fallback: Int) throws -> Int {
        try lookup(path, expected: "int", default: fallback) { $0.intValue }
    }

    /// Reads the number at `path`, promoting an integer to a double.
    public func double(_ path: String) throws -> Double {
        try lookup(path, expected: "float") { $0.doubleValue }
    }

    public func double(_ path: String, default fallback: Double) throws -> Double {
        try lookup(path, expected: "float", default: fallback) { $0.doubleValue }
    }

    public func string(_ path: String) throws -> String {
        try lookup(path, expected: "string") { $0.stringValue }
    }

    public func string(_ path: String, default fallback: String) throws -> String {
        try lookup(path, expected: "string", default: fallback) { $0.stringValue }
    }

    public func bool(_ path: String) throws -> Bool {
        try lookup(path, expected: "bool") { $0.boolValue }
    }

    public func bool(_ path: String, default fallback: Bool) throws -> Bool {
        try lookup(path, expected: "bool", default: fallback) { $0.boolValue }
    }

    /// Reads the list of numbers at `path`, promoting each integer to a double.
    public func doubles(_ path: String) throws -> [Double] {
        try lookup(path, expected: "list of numbers") { value in
            guard let list = value.listValue else { return nil }
            let numbers = list.compactMap(\.doubleValue)
            return numbers.count == list.count ? numbers : nil
        }
    }

    /// Reads the list of numbers at `path`, or returns `fallback` when it is missing or null.
    public func doubles(_ path: String, default fallback: [Double]) throws -> [Double] {
        guard let value = self[path: path], !value.isNull else { return fallback }
        return try doubles(path)
    }

    private func lookup<T>(
        _ path: String,
        expected: String,
        convert: (ConfigValue) -> T?
    ) throws -> T {
        guard let value = self[path: path] else {
            throw ConfigError.missingKey(key: path)
        }
        guard let converted = convert(value) else {
            throw ConfigError.wrongType(key: path, value: value, expected: expected, origin: nil)
        }
        return converted
    }

    private func lookup<T>(
        _ path: String,
        expected: String,
        default fallback: T,
        convert: (ConfigValue) -> T?
    ) throws -> T {
        guard let value = self[path: path], !value.isNull else { return fallback }
        return try lookup(path, expected: expected, convert: convert)
    }
}
