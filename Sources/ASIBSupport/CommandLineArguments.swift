import Foundation

/// A small command-line reader: options are taken out by name, and whatever is left must be
/// positional arguments. Follows swift-argument-parser's conventions: `--name value` or
/// `--name=value`, repeatable options, `--` ends options.
public struct CommandLineArguments {
    private var items: [String]
    private var positionalOnly: [String] = []

    public init(_ arguments: [String]) {
        if let separator = arguments.firstIndex(of: "--") {
            items = Array(arguments[..<separator])
            positionalOnly = Array(arguments[(separator + 1)...])
        } else {
            items = arguments
        }
    }

    /// Removes every occurrence of a flag and returns whether it was present.
    public mutating func flag(_ names: String...) -> Bool {
        let before = items.count
        items.removeAll { names.contains($0) }
        return items.count != before
    }

    /// Removes and returns every value of a repeatable option.
    public mutating func values(_ name: String) throws -> [String] {
        var found: [String] = []
        var index = 0
        while index < items.count {
            let item = items[index]
            if item == name {
                guard index + 1 < items.count else {
                    throw UsageError("option '\(name)' needs a value")
                }
                found.append(items[index + 1])
                items.removeSubrange(index...(index + 1))
            } else if item.hasPrefix(name + "=") {
                found.append(String(item.dropFirst(name.count + 1)))
                items.remove(at: index)
            } else {
                index += 1
            }
        }
        return found
    }

    /// Removes and returns the value of an option, and rejects an option given more than once.
    public mutating func value(_ name: String) throws -> String? {
        let found = try values(name)
        guard found.count <= 1 else {
            throw UsageError("option '\(name)' is given \(found.count) times; give it once")
        }
        return found.first
    }

    /// Removes and returns an integer option, checking its range.
    public mutating func integer(_ name: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let text = try value(name) else { return nil }
        guard let number = Int(text), range.contains(number) else {
            throw UsageError(
                "invalid value '\(text)' for '\(name)': expected an integer from "
                    + "\(range.lowerBound) to \(range.upperBound)"
            )
        }
        return number
    }

    /// Returns the remaining positional arguments, and rejects any option that no caller removed.
    public func positionals() throws -> [String] {
        if let unknown = items.first(where: { $0.hasPrefix("-") && $0.count > 1 && !$0.hasPrefix("~") }) {
            throw UsageError("unknown option '\(unknown)'; run with --help to list the options")
        }
        return items + positionalOnly
    }
}
