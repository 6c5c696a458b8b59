import CSodium

/// SHA-256 through libsodium's `crypto_hash_sha256`.
public enum SHA256 {
    /// `sodium_init` must run once before any other libsodium call; it is safe to repeat.
    private static let initialized: Bool = sodium_init() >= 0

    /// Computes the lower-case hex digest of `bytes`.
    public static func hex(of bytes: [UInt8]) -> String {
        precondition(initialized, "sodium_init failed: libsodium cannot run on this machine")
        var digest = [UInt8](repeating: 0, count: Int(crypto_hash_sha256_BYTES))
        let status = bytes.withUnsafeBufferPointer { input in
            crypto_hash_sha256(&digest, input.baseAddress, UInt64(input.count))
        }
        precondition(status == 0, "crypto_hash_sha256 failed with status \(status)")
        return digest.map { byte in
            let text = String(byte, radix: 16)
            return byte < 16 ? "0" + text : text
        }.joined()
    }

    /// Computes the lower-case hex digest of the UTF-8 bytes of `text`.
    public static func hex(of text: String) -> String {
        hex(of: Array(text.utf8))
    }
}
