import ASIBWire
import Foundation
import Testing

@Suite("wire protocol")
struct WireProtocolTests {
    @Test("epoch message survives encode and decode")
    func epochRoundTrip() throws {
        let body = EpochBody(runId: "kd-s1", attempt: 2, seq: 7, phase: "student", epoch: 3, metrics: ["acc": 81.5])
        let frames = try WireProtocol.encode(.epoch, body)
        let (type, data) = try WireProtocol.decodeEnvelope(frames)
        let decoded = try WireProtocol.decodeBody(EpochBody.self, data)

        #expect(type == .epoch)
        #expect(decoded.runId == "kd-s1")
        #expect(decoded.attempt == 2)
        #expect(decoded.seq == 7)
        #expect(decoded.metrics["acc"] == 81.5)
    }

    @Test("body keys are snake case on the wire")
    func snakeCaseKeys() throws {
        let frames = try WireProtocol.encode(.ack, AckBody(runId: "r", attempt: 1, seq: 2))
        let text = String(decoding: frames[2], as: UTF8.self)
        #expect(text == #"{"attempt":1,"run_id":"r","seq":2}"#)
    }

    @Test("envelope rejects bad frames", arguments: [
        ([Data("asib/1".utf8), Data("READY".utf8)], "expected 3 frames"),
        ([Data("asib/9".utf8), Data("READY".utf8), Data("{}".utf8)], "unsupported protocol version"),
        ([Data("asib/1".utf8), Data("DANCE".utf8), Data("{}".utf8)], "unknown message type"),
        ([Data([0xff, 0xfe]), Data("READY".utf8), Data("{}".utf8)], "unsupported protocol version"),
    ])
    func envelopeRejects(frames: [Data], expected: String) {
        #expect {
            _ = try WireProtocol.decodeEnvelope(frames)
        } throws: { error in
            "\(error)".contains(expected)
        }
    }

    @Test("fail body without the AMP flag still decodes")
    func failBodyWithoutAMPFlag() throws {
        let old = #"{"attempt":1,"reason":"x","retryable":true,"run_id":"r"}"#
        let decoded = try WireProtocol.decodeBody(FailBody.self, Data(old.utf8))
        #expect(decoded.nonFiniteWithAmp == nil)
        let frames = try WireProtocol.encode(.fail, decoded)
        #expect(String(decoding: frames[2], as: UTF8.self) == old)
    }

    @Test("AMP flag and safe retry use snake case")
    func safeRetryFieldsOnTheWire() throws {
        let failure = FailBody(
            runId: "r", attempt: 1, reason: "nan", retryable: true, nonFiniteWithAmp: true
        )
        let failText = String(decoding: try WireProtocol.encode(.fail, failure)[2], as: UTF8.self)
        #expect(failText.contains(#""non_finite_with_amp":true"#))

        let assignment = AssignBody(
            runId: "r", index: 0, attempt: 2, configJson: "{}", configSha256: "h", planSha256: "p",
            configRoot: "/c", primaryConfig: "base", overrides: [], runDirectory: "/r",
            teacherCheckpoints: [:], safeRetry: true
        )
        let data = try WireProtocol.encode(.assign, assignment)[2]
        #expect(String(decoding: data, as: UTF8.self).contains(#""safe_retry":true"#))
        #expect(try WireProtocol.decodeBody(AssignBody.self, data).safeRetry == true)

        let plain = AssignBody(
            runId: "r", index: 0, attempt: 1, configJson: "{}", configSha256: "h", planSha256: "p",
            configRoot: "/c", primaryConfig: "base", overrides: [], runDirectory: "/r",
            teacherCheckpoints: [:]
        )
        let plainText = String(decoding: try WireProtocol.encode(.assign, plain)[2], as: UTF8.self)
        #expect(!plainText.contains("safe_retry"))
    }

    @Test("body with missing field is rejected")
    func missingField() {
        #expect(throws: WireError.self) {
            _ = try WireProtocol.decodeBody(EpochBody.self, Data(#"{"run_id":"r"}"#.utf8))
        }
    }

    @Test("dealer and router talk over loopback on an OS-chosen port")
    func loopbackExchange() throws {
        let context = try ZMQContext()
        let router = try ZMQSocket(context: context, kind: .router)
        let endpoint = try router.bind("tcp://127.0.0.1:*")
        #expect(endpoint.hasPrefix("tcp://127.0.0.1:"))
        #expect(!endpoint.hasSuffix(":*"))

        let dealer = try ZMQSocket(context: context, kind: .dealer)
        try dealer.setRoutingID("worker-a")
        try dealer.connect(endpoint)
        try dealer.send(WireProtocol.encode(.ready, ReadyBody(workerId: "a")))

        let received = try #require(try router.receive(timeout: .seconds(5)))
        #expect(received.count == 4)
        #expect(received[0] == Data("worker-a".utf8))
        let (type, _) = try WireProtocol.decodeEnvelope(Array(received.dropFirst()))
        #expect(type == .ready)

        try router.send([received[0]] + WireProtocol.encode(.shutdown, ShutdownBody(reason: "test")))
        let reply = try #require(try dealer.receive(timeout: .seconds(5)))
        #expect(try WireProtocol.decodeEnvelope(reply).0 == .shutdown)
    }

    @Test("oversize message never reaches the router")
    func oversizeDropped() throws {
        let context = try ZMQContext()
        let router = try ZMQSocket(context: context, kind: .router)
        try router.limitMessageSize(1024)
        let endpoint = try router.bind("tcp://127.0.0.1:*")
        let dealer = try ZMQSocket(context: context, kind: .dealer)
        try dealer.connect(endpoint)
        try dealer.send([Data("asib/1".utf8), Data("READY".utf8), Data(count: 4096)])

        #expect(try router.receive(timeout: .milliseconds(500)) == nil)
    }

    @Test("receive times out when nothing arrives")
    func receiveTimeout() throws {
        let context = try ZMQContext()
        let router = try ZMQSocket(context: context, kind: .router)
        _ = try router.bind("tcp://127.0.0.1:*")
        let start = ContinuousClock.now
        #expect(try router.receive(timeout: .milliseconds(100)) == nil)
        #expect(ContinuousClock.now - start >= .milliseconds(90))
    }
}
