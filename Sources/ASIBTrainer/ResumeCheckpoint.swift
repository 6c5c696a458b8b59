import Foundation

/// The state a run needs to continue after its last completed epoch, written to
/// `runDirectory/resume.bin` after every epoch. All integers little-endian:
///
///     magic "ASIBRSUM" (8 bytes), version UInt32 (1),
///     key (UInt32 byte count + UTF-8): identifies the config, see `RunTrainer.resumeKey`,
///     epoch UInt32 (last completed), step UInt64 (optimiser steps taken),
///     best and final accuracy (Float64 bit patterns),
///     augmentation generator: 4 x UInt64 state, UInt8 spare flag, Float64 spare value,
///     SGD velocity: UInt64 count + Float32 values,
///     model: UInt64 byte count + an ASIBCKPT checkpoint (parameters and BN statistics),
///     CRC-32 (zlib) UInt32 of every byte before it.
struct ResumeCheckpoint: Equatable {
    static let magic = Array("ASIBRSUM".utf8)
    static let version: UInt32 = 1
    static let fileName = "resume.bin"

    var key: String
    var epoch: Int
    var step: Int
    var bestAccuracy: Double
    var finalAccuracy: Double
    var generator: RandomGenerator.State
    var velocity: [Float]
    var model: Checkpoint

    func encoded() -> Data {
        var data = Data(Self.magic)
        data.appendUInt32(Self.version)
        data.appendUInt32(UInt32(key.utf8.count))
        data.append(contentsOf: Array(key.utf8))
        data.appendUInt32(UInt32(epoch))
        data.appendUInt64(UInt64(step))
        data.appendUInt64(bestAccuracy.bitPattern)
        data.appendUInt64(finalAccuracy.bitPattern)
        for word in generator.words { data.appendUInt64(word) }
        data.append(generator.spareNormal == nil ? 0 : 1)
        data.appendUInt64((generator.spareNormal ?? 0).bitPattern)
        data.appendUInt64(UInt64(velocity.count))
        for value in velocity { data.appendUInt32(value.bitPattern) }
        let model = model.encoded()
        data.appendUInt64(UInt64(model.count))
        data.append(model)
        data.appendUInt32(Checkpoint.crc32(data))
        return data
    }

    /// Reads and checks a resume file: magic, version, structure and CRC-32.
    static func load(path: String) throws -> ResumeCheckpoint {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TrainerError.checkpointInvalid(path: path, problem: "file cannot be read")
        }
        guard data.count > magic.count + 4, Array(data.prefix(magic.count)) == magic else {
            throw TrainerError.checkpointInvalid(path: path, problem: "not an ASIBRSUM file")
        }
        let body = data.prefix(data.count - 4)
        let stored = data.suffix(4).withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) }
        guard stored == Checkpoint.crc32(body) else {
            throw TrainerError.checkpointInvalid(
                path: path, problem: "CRC-32 mismatch; the file is corrupted or truncated"
            )
        }
        var reader = ByteReader(data: Data(body), path: path, offset: magic.count)
        let version = try reader.uint32()
        guard version == Self.version else {
            throw TrainerError.checkpointInvalid(
                path: path, problem: "resume format version '\(version)', this build reads \(Self.version)"
            )
        }
        let key = String(decoding: try reader.bytes(Int(try reader.uint32())), as: UTF8.self)
        let epoch = Int(try reader.uint32())
        let step = Int(try reader.uint64())
        let best = Double(bitPattern: try reader.uint64())
        let final = Double(bitPattern: try reader.uint64())
        let words = try (0..<4).map { _ in try reader.uint64() }
        let hasSpare = try reader.bytes(1).first == 1
        let spare = Double(bitPattern: try reader.uint64())
        let velocityCount = Int(try reader.uint64())
        let velocity = try (0..<velocityCount).map { _ in Float(bitPattern: try reader.uint32()) }
        let modelBytes = try reader.bytes(Int(try reader.uint64()))
        guard reader.offset == body.count else {
            throw TrainerError.checkpointInvalid(path: path, problem: "unexpected trailing bytes")
        }
        return ResumeCheckpoint(
            key: key, epoch: epoch, step: step, bestAccuracy: best, finalAccuracy: final,
            generator: RandomGenerator.State(words: words, spareNormal: hasSpare ? spare : nil),
            velocity: velocity, model: try Checkpoint.decode(modelBytes, path: path)
        )
    }
}

/// A bounds-checked cursor over the bytes of a resume file.
private struct ByteReader {
    let data: Data
    let path: String
    var offset: Int

    mutating func bytes(_ count: Int) throws -> Data {
        guard count >= 0, offset + count <= data.count else {
            throw TrainerError.checkpointInvalid(
                path: path, problem: "truncated at byte \(offset) (needs \(count) more bytes)"
            )
        }
        let slice = data.subdata(in: (data.startIndex + offset)..<(data.startIndex + offset + count))
        offset += count
        return slice
    }

    mutating func uint32() throws -> UInt32 {
        UInt32(littleEndian: try bytes(4).withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) })
    }

    mutating func uint64() throws -> UInt64 {
        UInt64(littleEndian: try bytes(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
    }
}

extension Data {
    fileprivate mutating func appendUInt32(_ value: UInt32) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }

    fileprivate mutating func appendUInt64(_ value: UInt64) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}
