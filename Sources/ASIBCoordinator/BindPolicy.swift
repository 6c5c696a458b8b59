import ASIBSupport
import Foundation

/// The rule for addresses the coordinator may listen on. Without CURVE keys anyone who
/// reaches the port can take and report work, so only loopback is allowed unless the user
/// passes `--allow-insecure-bind`.
public enum BindPolicy {
    /// Throws a usage error for a non-loopback `address` without keys and without
    /// `allowInsecure`.
    public static func check(address: String, keys: URL?, allowInsecure: Bool) throws {
        if keys != nil || allowInsecure || isLoopback(address) {
            return
        }
        throw UsageError(
            "--bind \(address) without --keys would let anyone who reaches the port take and "
                + "report work; create keys with 'asib-sweep keys DIR' and pass --keys DIR, "
                + "bind to 127.0.0.1, or add --allow-insecure-bind"
        )
    }

    /// True for IPv4 127.0.0.0/8, IPv6 ::1 and `localhost`.
    public static func isLoopback(_ address: String) -> Bool {
        let host = address.hasPrefix("[") && address.hasSuffix("]")
            ? String(address.dropFirst().dropLast()) : address
        if host == "localhost" || host == "::1" {
            return true
        }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts.allSatisfy({ UInt8($0) != nil }) else { return false }
        return parts[0] == "127"
    }
}
