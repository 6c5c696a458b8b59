import ASIBSupport
import CZMQ
import Foundation

/// Failures of ZeroMQ calls, with the call's name and libzmq's error text.
public enum WireError: ReportableError {
    case call(String, errno: Int32, endpoint: String?)
    case malformed(String)

    public var description: String {
        switch self {
        case let .call(name, code, endpoint):
            let reason = String(cString: zmq_strerror(code))
            if let endpoint {
                return "\(name) failed for '\(endpoint)': \(reason) (errno \(code))"
            }
            return "\(name) failed: \(reason) (errno \(code))"
        case let .malformed(detail):
            return "malformed message: \(detail)"
        }
    }

    public var exitCode: Int32 {
        switch self {
        case let .call(name, code, _) where name == "zmq_bind" && code == EADDRINUSE:
            return ExitCode.usage
        default:
            return ExitCode.failure
        }
    }
}

/// Checks a libzmq return code and turns a failure into a `WireError` naming the call.
@discardableResult
func checkZMQ(_ result: Int32, _ call: String, endpoint: String? = nil) throws -> Int32 {
    if result == -1 {
        throw WireError.call(call, errno: zmq_errno(), endpoint: endpoint)
    }
    return result
}

/// A ZeroMQ context. One per process; sockets keep it alive.
public final class ZMQContext: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer

    public init() throws {
        guard let context = zmq_ctx_new() else {
            throw WireError.call("zmq_ctx_new", errno: zmq_errno(), endpoint: nil)
        }
        handle = context
    }

    deinit {
        zmq_ctx_term(handle)
    }
}

/// One ZeroMQ socket. Not thread-safe: use it from one thread, as libzmq requires.
public final class ZMQSocket {
    public enum Kind {
        case router, dealer, rep

        var rawValue: Int32 {
            switch self {
            case .router: return ZMQ_ROUTER
            case .dealer: return ZMQ_DEALER
            case .rep: return ZMQ_REP
            }
        }
    }

    private let context: ZMQContext
    private var handle: UnsafeMutableRawPointer?

    public init(context: ZMQContext, kind: Kind) throws {
        self.context = context
        guard let socket = zmq_socket(context.handle, kind.rawValue) else {
            throw WireError.call("zmq_socket", errno: zmq_errno(), endpoint: nil)
        }
        handle = socket
        // Closing must never hang on a dead peer, so unsent messages are dropped after linger.
        try setOption(ZMQ_LINGER, Int32(WireProtocol.closeLinger.milliseconds))
    }

    deinit {
        close()
    }

    /// Closes the socket; later calls fail with ENOTSOCK.
    public func close() {
        if let handle {
            zmq_close(handle)
            self.handle = nil
        }
    }

    /// Drops incoming messages larger than `bytes` and disconnects their sender.
    public func limitMessageSize(_ bytes: Int64) throws {
        try setOption(ZMQ_MAXMSGSIZE, bytes)
    }

    /// Sets how many messages may queue in each direction before sends block or drop.
    public func setHighWaterMarks(_ messages: Int32) throws {
        try setOption(ZMQ_SNDHWM, messages)
        try setOption(ZMQ_RCVHWM, messages)
    }

    /// Sets the identity a DEALER presents to a ROUTER, so a reconnecting worker keeps it.
    public func setRoutingID(_ identity: String) throws {
        try setOption(ZMQ_ROUTING_ID, Data(identity.utf8))
    }

    func setOption(_ option: Int32, _ value: Int32) throws {
        var copy = value
        try checkZMQ(
            zmq_setsockopt(socket(), option, &copy, MemoryLayout<Int32>.size),
            "zmq_setsockopt(\(option))"
        )
    }

    func setOption(_ option: Int32, _ value: Int64) throws {
        var copy = value
        try checkZMQ(
            zmq_setsockopt(socket(), option, &copy, MemoryLayout<Int64>.size),
            "zmq_setsockopt(\(option))"
        )
    }

    func setOption(_ option: Int32, _ value: Data) throws {
        try value.withUnsafeBytes { bytes in
            _ = try checkZMQ(
                zmq_setsockopt(socket(), option, bytes.baseAddress, bytes.count),
                "zmq_setsockopt(\(option))"
            )
        }
    }

    /// Binds and returns the bound endpoint, which names the port the OS chose for `:0` or `:*`.
    @discardableResult
    public func bind(_ endpoint: String) throws -> String {
        try checkZMQ(zmq_bind(socket(), endpoint), "zmq_bind", endpoint: endpoint)
        var buffer = [CChar](repeating: 0, count: 256)
        var size = buffer.count
        try checkZMQ(
            zmq_getsockopt(socket(), ZMQ_LAST_ENDPOINT, &buffer, &size),
            "zmq_getsockopt(ZMQ_LAST_ENDPOINT)"
        )
        return String(cString: buffer)
    }

    public func connect(_ endpoint: String) throws {
        try checkZMQ(zmq_connect(socket(), endpoint), "zmq_connect", endpoint: endpoint)
    }

    /// Sends one multipart message. Blocks only when the high-water mark is reached.
    public func send(_ frames: [Data]) throws {
        for (position, frame) in frames.enumerated() {
            let flags = position == frames.count - 1 ? 0 : ZMQ_SNDMORE
            try frame.withUnsafeBytes { bytes in
                _ = try checkZMQ(
                    zmq_send(socket(), bytes.baseAddress, bytes.count, flags),
                    "zmq_send"
                )
            }
        }
    }

    /// Sends one multipart message without blocking. Returns false, sending nothing, when the
    /// message cannot be queued now (EAGAIN: the high-water mark is reached or no peer exists).
    @discardableResult
    public func sendNow(_ frames: [Data]) throws -> Bool {
        for (position, frame) in frames.enumerated() {
            let more = position == frames.count - 1 ? 0 : ZMQ_SNDMORE
            let result = frame.withUnsafeBytes { bytes in
                zmq_send(socket(), bytes.baseAddress, bytes.count, more | ZMQ_DONTWAIT)
            }
            if result == -1 {
                let code = zmq_errno()
                // libzmq queues a multipart message atomically, so EAGAIN can only happen on
                // the first frame and leaves nothing half-sent.
                if code == EAGAIN && position == 0 { return false }
                throw WireError.call("zmq_send", errno: code, endpoint: nil)
            }
        }
        return true
    }

    /// The raw libzmq socket, for options that this wrapper does not name.
    var rawHandle: UnsafeMutableRawPointer? { handle }

    /// Waits up to `timeout` for a message and returns all its frames, or nil on timeout.
    public func receive(timeout: Duration) throws -> [Data]? {
        guard try poll(timeout: timeout) else { return nil }
        return try receiveNow()
    }

    /// Returns true when a message is ready to read within `timeout`.
    public func poll(timeout: Duration) throws -> Bool {
        var item = zmq_pollitem_t(socket: socket(), fd: 0, events: Int16(ZMQ_POLLIN), revents: 0)
        while true {
            let ready = zmq_poll(&item, 1, timeout.milliseconds)
            if ready == -1 && zmq_errno() == EINTR { continue }
            try checkZMQ(ready, "zmq_poll")
            return ready > 0
        }
    }

    private func receiveNow() throws -> [Data] {
        var frames: [Data] = []
        var more = true
        while more {
            var message = zmq_msg_t()
            try checkZMQ(zmq_msg_init(&message), "zmq_msg_init")
            defer { zmq_msg_close(&message) }
            while zmq_msg_recv(&message, socket(), 0) == -1 {
                if zmq_errno() != EINTR {
                    throw WireError.call("zmq_msg_recv", errno: zmq_errno(), endpoint: nil)
                }
            }
            let size = zmq_msg_size(&message)
            if let data = zmq_msg_data(&message), size > 0 {
                frames.append(Data(bytes: data, count: size))
            } else {
                frames.append(Data())
            }
            more = zmq_msg_more(&message) != 0
        }
        return frames
    }

    private func socket() -> UnsafeMutableRawPointer? {
        handle
    }
}

extension Duration {
    /// Whole milliseconds, rounded down, for C APIs that take milliseconds.
    public var milliseconds: Int {
        let parts = components
        return Int(parts.seconds) * 1000 + Int(parts.attoseconds / 1_000_000_000_000_000)
    }
}
