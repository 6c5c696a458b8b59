import ASIBSupport
import CZMQ
import Foundation

/// A CURVE key pair in Z85 text (40 characters each), as `zmq_curve_keypair` makes them.
public struct CurveKeyPair: Sendable, Equatable {
    public let publicKey: String
    public let secretKey: String

    public init(publicKey: String, secretKey: String) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// Makes a new key pair with libzmq (backed by libsodium in Debian's libzmq5).
    public static func generate() throws -> CurveKeyPair {
        try CurveSupport.require()
        var publicBuffer = [CChar](repeating: 0, count: 41)
        var secretBuffer = [CChar](repeating: 0, count: 41)
        try checkZMQ(zmq_curve_keypair(&publicBuffer, &secretBuffer), "zmq_curve_keypair")
        return CurveKeyPair(publicKey: String(cString: publicBuffer), secretKey: String(cString: secretBuffer))
    }
}

public enum CurveSupport {
    /// True when the linked libzmq was built with CURVE security.
    public static var isAvailable: Bool { zmq_has("curve") != 0 }

    static func require() throws {
        guard isAvailable else {
            throw RuntimeFailure(
                "this libzmq has no CURVE support (zmq_has(\"curve\") is 0); install a libzmq5 "
                    + "built with libsodium, such as Debian's"
            )
        }
    }

    /// Returns the Z85 text of a 32-byte binary key.
    static func z85(_ key: Data) -> String? {
        guard key.count == 32 else { return nil }
        var buffer = [CChar](repeating: 0, count: 41)
        let encoded = key.withUnsafeBytes { bytes in
            zmq_z85_encode(&buffer, bytes.bindMemory(to: UInt8.self).baseAddress, 32)
        }
        return encoded == nil ? nil : String(cString: buffer)
    }

    static func isValidZ85Key(_ text: String) -> Bool {
        guard text.utf8.count == 40 else { return false }
        var decoded = [UInt8](repeating: 0, count: 32)
        return zmq_z85_decode(&decoded, text) != nil
    }
}

/// The key folder that `asib-sweep keys DIR` writes and `--keys DIR` reads:
///
///     coordinator.pub, coordinator.secret   the coordinator's pair
///     worker.pub, worker.secret             the pair that workers started with --keys DIR use
///     authorized_workers                    worker public keys the coordinator accepts,
///                                           one per line; any other line starting with
///                                           '#' is a comment
///
/// Every file is created with mode 0600 and the folder with 0700, because the secrets
/// grant the right to take and report work.
public struct CurveKeyFolder: Sendable {
    public let directory: URL

    public init(directory: URL) {
        self.directory = directory
    }

    public var coordinatorPublic: URL { directory.appendingPathComponent("coordinator.pub") }
    public var coordinatorSecret: URL { directory.appendingPathComponent("coordinator.secret") }
    public var workerPublic: URL { directory.appendingPathComponent("worker.pub") }
    public var workerSecret: URL { directory.appendingPathComponent("worker.secret") }
    public var authorizedWorkers: URL { directory.appendingPathComponent("authorized_workers") }

    /// Creates the folder with a coordinator pair, a worker pair and the list that admits the
    /// worker key. Throws when a key file already exists, so keys are never overwritten.
    public func create() throws {
        let manager = FileManager.default
        try manager.createDirectory(
            at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700]
        )
        for url in [coordinatorPublic, coordinatorSecret, workerPublic, workerSecret, authorizedWorkers]
        where manager.fileExists(atPath: url.path) {
            throw UsageError(
                "'\(url.path)' already exists; remove the old keys first or choose another folder"
            )
        }
        let coordinator = try CurveKeyPair.generate()
        let worker = try CurveKeyPair.generate()
        try writePrivate(coordinator.publicKey + "\n", to: coordinatorPublic)
        try writePrivate(coordinator.secretKey + "\n", to: coordinatorSecret)
        try writePrivate(worker.publicKey + "\n", to: workerPublic)
        try writePrivate(worker.secretKey + "\n", to: workerSecret)
        try writePrivate(
            "# CURVE public keys (Z85) of the workers the coordinator accepts, one per line.\n"
                + "# Other lines starting with '#' are comments.\n"
                + worker.publicKey + "\n",
            to: authorizedWorkers
        )
    }

    public func coordinatorKeys() throws -> CurveKeyPair {
        CurveKeyPair(publicKey: try readKey(coordinatorPublic), secretKey: try readKey(coordinatorSecret))
    }

    /// Reads only the coordinator's public key, because workers get no coordinator secret.
    public func coordinatorPublicKey() throws -> String {
        try readKey(coordinatorPublic)
    }

    public func workerKeys() throws -> CurveKeyPair {
        CurveKeyPair(publicKey: try readKey(workerPublic), secretKey: try readKey(workerSecret))
    }

    /// Reads the accepted worker public keys. Throws on a line that is not a Z85 key.
    public func authorizedWorkerKeys() throws -> Set<String> {
        let text = try readText(authorizedWorkers)
        var keys: Set<String> = []
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            // '#' is also a Z85 digit, so a line that is a valid key counts as a key even
            // when it starts with '#'.
            if line.hasPrefix("#") && !CurveSupport.isValidZ85Key(line) { continue }
            guard CurveSupport.isValidZ85Key(line) else {
                throw UsageError(
                    "\(authorizedWorkers.path):\(number + 1): '\(line.prefix(48))' is not a CURVE "
                        + "public key (40 Z85 characters); copy the line from a worker.pub file"
                )
            }
            keys.insert(line)
        }
        return keys
    }

    private func readKey(_ url: URL) throws -> String {
        let key = try readText(url).trimmingCharacters(in: .whitespacesAndNewlines)
        guard CurveSupport.isValidZ85Key(key) else {
            throw UsageError(
                "'\(url.path)' does not contain a CURVE key (40 Z85 characters); "
                    + "create a key folder with 'asib-sweep keys DIR'"
            )
        }
        return key
    }

    private func readText(_ url: URL) throws -> String {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw UsageError(
                "cannot read '\(url.path)'; create a key folder with 'asib-sweep keys DIR'"
            )
        }
        return String(decoding: data, as: UTF8.self)
    }

    private func writePrivate(_ text: String, to url: URL) throws {
        let descriptor = open(url.path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard descriptor >= 0 else {
            throw RuntimeFailure("cannot create '\(url.path)': \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        let bytes = Array(text.utf8)
        guard write(descriptor, bytes, bytes.count) == bytes.count, fsync(descriptor) == 0 else {
            throw RuntimeFailure("cannot write '\(url.path)': \(String(cString: strerror(errno)))")
        }
    }
}

/// The CURVE keys of a worker: its own pair and the coordinator's public key.
public struct WorkerSecurity: Sendable {
    public let keys: CurveKeyPair
    public let serverPublicKey: String

    public init(folder: CurveKeyFolder) throws {
        try CurveSupport.require()
        keys = try folder.workerKeys()
        serverPublicKey = try folder.coordinatorPublicKey()
    }
}

extension ZMQSocket {
    /// Makes this socket a CURVE client that talks only to the server with `serverPublicKey`.
    public func configureCurveClient(_ keys: CurveKeyPair, serverPublicKey: String) throws {
        try setOption(ZMQ_CURVE_SERVERKEY, Data(serverPublicKey.utf8))
        try setOption(ZMQ_CURVE_PUBLICKEY, Data(keys.publicKey.utf8))
        try setOption(ZMQ_CURVE_SECRETKEY, Data(keys.secretKey.utf8))
    }

    /// Makes this socket a CURVE server; a ZAP handler in the same context decides which
    /// clients it accepts. Call before `bind`.
    public func configureCurveServer(_ keys: CurveKeyPair, zapDomain: String) throws {
        try setOption(ZMQ_CURVE_SERVER, Int32(1))
        try setOption(ZMQ_CURVE_SECRETKEY, Data(keys.secretKey.utf8))
        try setOption(ZMQ_ZAP_DOMAIN, Data(zapDomain.utf8))
    }
}
