import Foundation

/// Process exit codes, following the BSD `sysexits.h` convention that command-line tools use.
public enum ExitCode {
    public static let success: Int32 = 0
    /// A runtime failure: training diverged, a worker crashed, a file could not be written.
    public static let failure: Int32 = 1
    /// Bad input from the user: an invalid option, spec, config value or data file (EX_USAGE).
    public static let usage: Int32 = 64
}

/// An error that a command prints as its final message and turns into an exit code.
///
/// `description` is the whole message: what failed, the offending value, where it came from
/// and how to fix it.
public protocol ReportableError: Error, CustomStringConvertible {
    /// `ExitCode.usage` for bad input, `ExitCode.failure` for runtime failures.
    var exitCode: Int32 { get }
}

/// A bad-input error with a ready-made message, for checks that need no error enum of their own.
public struct UsageError: ReportableError {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
    public var exitCode: Int32 { ExitCode.usage }
}

/// A runtime failure with a ready-made message.
public struct RuntimeFailure: ReportableError {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
    public var exitCode: Int32 { ExitCode.failure }
}
