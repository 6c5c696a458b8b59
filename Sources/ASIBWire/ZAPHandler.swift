import ASIBSupport
import CZMQ
import Foundation

/// A ZeroMQ authentication (ZAP, RFC 27) handler that admits CURVE clients whose public key
/// is listed and rejects every other client.
///
/// During each handshake libzmq sends a request to the handler bound at
/// `inproc://zeromq.zap.01` in the socket's context. The handler replies on its own thread,
/// so authentication never waits for the coordinator's loop.
public final class ZAPHandler: @unchecked Sendable {
    public static let endpoint = "inproc://zeromq.zap.01"

    private let socket: ZMQSocket
    private let allowedKeys: Set<String>
    private let lock = NSLock()
    private var stopping = false
    private var rejections = 0
    private var acceptances = 0
    private let stopped = DispatchSemaphore(value: 0)

    /// Binds the handler in `context`. Call before any CURVE server socket of that context binds.
    public init(context: ZMQContext, allowedKeys: Set<String>) throws {
        self.allowedKeys = allowedKeys
        socket = try ZMQSocket(context: context, kind: .rep)
        try socket.bind(Self.endpoint)
    }

    /// Starts replying to requests on a new thread.
    public func start() {
        let thread = Thread { [self] in
            self.serve()
        }
        thread.name = "zap"
        thread.start()
    }

    /// Stops the handler thread and closes its socket; waits at most one poll interval.
    public func stop() {
        lock.lock()
        stopping = true
        lock.unlock()
        _ = stopped.wait(timeout: .now() + 2)
    }

    /// Handshakes rejected so far.
    public var rejectedCount: Int {
        lock.lock()
        defer { lock.unlock() }
        return rejections
    }

    private var shouldStop: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopping
    }

    private func serve() {
        defer {
            socket.close()
            stopped.signal()
        }
        while !shouldStop {
            do {
                guard let request = try socket.receive(timeout: .milliseconds(200)) else { continue }
                try socket.send(reply(to: request))
            } catch {
                Log.error("authentication handler failed", ["error": error])
                return
            }
        }
    }

    /// Builds the reply frames: version, request id, status code, status text, user id,
    /// metadata.
    private func reply(to request: [Data]) -> [Data] {
        // Request frames: version, request id, domain, address, routing id, mechanism,
        // then the credentials (for CURVE, the client's 32-byte public key).
        let requestID = request.count > 1 ? request[1] : Data()
        func answer(_ code: String, _ text: String, user: String = "") -> [Data] {
            [Data("1.0".utf8), requestID, Data(code.utf8), Data(text.utf8), Data(user.utf8), Data()]
        }
        guard request.count >= 6, String(decoding: request[0], as: UTF8.self) == "1.0" else {
            return answer("500", "malformed ZAP request")
        }
        let address = String(decoding: request[3], as: UTF8.self)
        let mechanism = String(decoding: request[5], as: UTF8.self)
        guard mechanism == "CURVE", request.count >= 7, let key = CurveSupport.z85(request[6]) else {
            recordRejection(address: address, detail: "mechanism \(mechanism), expected CURVE")
            return answer("400", "CURVE required")
        }
        guard allowedKeys.contains(key) else {
            recordRejection(address: address, detail: "public key \(key) is not authorized")
            return answer("400", "key not authorized")
        }
        lock.lock()
        acceptances += 1
        let count = acceptances
        lock.unlock()
        Log.info("worker authenticated", ["address": address, "key": key, "accepted_total": count])
        return answer("200", "OK", user: key)
    }

    private func recordRejection(address: String, detail: String) {
        lock.lock()
        rejections += 1
        let count = rejections
        lock.unlock()
        // The first rejections in full, then one line per hundred, so a client that keeps
        // reconnecting cannot fill the log.
        if count <= 20 || count % 100 == 0 {
            Log.warning(
                "rejected connection", ["address": address, "reason": detail, "rejected_total": count]
            )
        }
    }
}
