import Foundation
import Testing
@testable import ASIBTrainer

private func makeModel(seed: UInt64) throws -> ResNetModel {
    ResNetModel(
        architecture: try ResNetArchitecture.named("resnet8", key: "test"), inputChannels: 1,
        classes: 10, seed: seed
    )
}

private func checkpointURL() -> URL {
    FileManager.default.temporaryDirectory
        .appendingPathComponent("asib-checkpoint-\(UUID().uuidString)/checkpoint.bin")
}

@Test func checkpointRoundTripRestoresEveryTensor() throws {
    let original = try makeModel(seed: 1)
    original.statistics.values[3] = 0.75
    let url = checkpointURL()
    try original.save(to: url)
    let restored = try makeModel(seed: 2)
    try restored.load(try Checkpoint.load(path: url.path), path: url.path)
    #expect(restored.checkpoint() == original.checkpoint())
}

@Test func corruptedCheckpointIsRejected() throws {
    let url = checkpointURL()
    try makeModel(seed: 1).save(to: url)
    var bytes = try Data(contentsOf: url)
    bytes[bytes.count / 2] ^= 0x01
    try bytes.write(to: url)
    do {
        _ = try Checkpoint.load(path: url.path)
        Issue.record("a corrupted checkpoint was accepted")
    } catch let error as TrainerError {
        #expect(error.description.contains("CRC-32 mismatch"))
        #expect(error.description.contains(url.path))
    }
}

@Test func truncatedCheckpointIsRejected() throws {
    let url = checkpointURL()
    try makeModel(seed: 1).save(to: url)
    let bytes = try Data(contentsOf: url)
    try bytes.prefix(bytes.count - 100).write(to: url)
    #expect(throws: TrainerError.self) { try Checkpoint.load(path: url.path) }
}

@Test func checkpointOfOtherArchitectureIsRejected() throws {
    let url = checkpointURL()
    try makeModel(seed: 1).save(to: url)
    let other = ResNetModel(
        architecture: try ResNetArchitecture.named("resnet14", key: "test"), inputChannels: 1,
        classes: 10, seed: 1
    )
    do {
        try other.load(try Checkpoint.load(path: url.path), path: url.path)
        Issue.record("a resnet8 checkpoint was loaded into resnet14")
    } catch let error as TrainerError {
        #expect(error.description.contains("architecture 'resnet8', expected 'resnet14'"))
    }
}

@Test func checkpointStartsWithMagicAndVersion() throws {
    let bytes = try makeModel(seed: 1).checkpoint().encoded()
    #expect(Array(bytes.prefix(8)) == Array("ASIBCKPT".utf8))
    #expect(Array(bytes[8..<12]) == [1, 0, 0, 0])
}
