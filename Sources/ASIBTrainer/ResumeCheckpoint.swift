import Foundation

/// The state a run needs to continue after its last completed epoch, written to
/// `runDirectory/resume.bin` after every A-Step and student epoch. All integers
/// little-endian:
///
///     magic "ASIBRSUM" (8 bytes), version UInt32 (2),
///     key (UInt32 byte count + UTF-8): identifies the config, see `RunTrainer.resumeKey`,
///     A-Step epochs and student epochs completed, both UInt32 and counted across stages,
///     step UInt64 (student optimiser steps taken),
///     best and final student accuracy (Float64 bit patterns),
///     generators of augmentation and of IB_MBM noise / head dropout: each 4 x UInt64
///     state, UInt8 spare flag, Float64 spare value,
///     synergy accuracy EMA and the current stage's best A-Step synergy accuracy: each
///     UInt8 presence flag + Float64,
///     student optimiser state: UInt64 count + Float32 values,
///     student model: UInt64 byte count + an ASIBCKPT checkpoint (parameters and BN
///     statistics),
///     buffers: UInt32 count, then per buffer a name (UInt32 byte count + UTF-8) and
///     UInt64 count + Float32 values: IB_MBM, synergy head, adapters and their optimiser
///     states, synergy win ratio, EMA teacher and FitNet regressor, as
///     `TrainingSession.resumeBuffers` lists them,
///     CRC-32 (zlib) UInt32 of every byte before it.
///
/// Version 1 stored only the student state; a version-1 file is rejected and the run trains
/// from the start.
struct ResumeCheckpoint: Equatable {
    static let magic = Array("ASIBRSUM".utf8)
    static let version: UInt32 = 2
    static let fileName = "resume.bin"

    /// A named Float32 buffer.
    struct Buffer: Equatable {
        var name: String
        var values: [Float]
    }

    var key: String
    var progress: RunProgress
    var step: Int
    var generator: RandomGenerator.State
    var synergyGenerator: RandomGenerator.State
    var synergyAccuracyEMA: Double?
    var stageBestSynergy: Double?
    var velocity: [Float]
    var model: Checkpoint
    var buffers: [Buffer]

    func encoded() -> Data {
        var data = Data(Self.magic)
        data.appendUInt32(Self.version)
        data.appendString(key)
        data.appendUInt32(UInt32(progress.teacherEpochs))
        data.appendUInt32(UInt32(progress.studentEpochs))
        data.appendUInt64(UInt64(step))
        data.appendUInt64(progress.best.bitPattern)
        data.appendUInt64(progress.final.bitPattern)
        for state in [generator, synergyGenerator] {
            for word in state.words { data.appendUInt64(word) }
            data.appendOptional(state.spareNormal)
        }
        data.appendOptional(synergyAccuracyEMA)
        data.appendOptional(stageBestSynergy)
        data.appendFloats(velocity)
        let model = model.encoded()
        data.appendUInt64(UInt64(model.count))
        data.append(model)
        data.appendUInt32(UInt32(buffers.count))
        for buffer in buffers {
            data.appendString(buffer.name)
            data.appendFloats(buffer.values)
        }
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
        let key = try reader.string()
        var progress = RunProgress()
        progress.teacherEpochs = Int(try reader.uint32())
        progress.studentEpochs = Int(try reader.uint32())
        let step = Int(try reader.uint64())
        progress.best = Double(bitPattern: try reader.uint64())
        progress.final = Double(bitPattern: try reader.uint64())
        var generators: [RandomGenerator.State] = []
        for _ in 0..<2 {
            let words = try (0..<4).map { _ in try reader.uint64() }
            generators.append(RandomGenerator.State(words: words, spareNormal: try reader.optional()))
        }
        let accuracyEMA = try reader.optional()
        let stageBest = try reader.optional()
        let velocity = try reader.floats()
        let modelBytes = try reader.bytes(Int(try reader.uint64()))
        let bufferCount = Int(try reader.uint32())
        var buffers: [Buffer] = []
        for _ in 0..<bufferCount {
            buffers.append(Buffer(name: try reader.string(), values: try reader.floats()))
        }
        guard reader.offset == body.count else {
            throw TrainerError.checkpointInvalid(path: path, problem: "unexpected trailing bytes")
        }
        return ResumeCheckpoint(
            key: key, progress: progress, step: step, generator: generators[0],
            synergyGenerator: generators[1], synergyAccuracyEMA: accuracyEMA,
            stageBestSynergy: stageBest, velocity: velocity,
            model: try Checkpoint.decode(modelBytes, path: path), buffers: buffers
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

    mutating func string() throws -> String {
        String(decoding: try bytes(Int(try uint32())), as: UTF8.self)
    }

    /// Reads a UInt8 presence flag and a Float64.
    mutating func optional() throws -> Double? {
        let present = try bytes(1).first == 1
        let value = Double(bitPattern: try uint64())
        return present ? value : nil
    }

    mutating func floats() throws -> [Float] {
        let stored = try uint64()
        guard stored <= UInt64(data.count - offset) / 4 else {
            throw TrainerError.checkpointInvalid(
                path: path, problem: "buffer of \(stored) values at byte \(offset) exceeds the file"
            )
        }
        let count = Int(stored)
        let raw = try bytes(count * 4)
        return raw.withUnsafeBytes { buffer in
            (0..<count).map {
                Float(bitPattern: UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self)))
            }
        }
    }
}

extension Data {
    fileprivate mutating func appendUInt32(_ value: UInt32) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }

    fileprivate mutating func appendUInt64(_ value: UInt64) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }

    fileprivate mutating func appendString(_ text: String) {
        appendUInt32(UInt32(text.utf8.count))
        append(contentsOf: Array(text.utf8))
    }

    fileprivate mutating func appendOptional(_ value: Double?) {
        append(value == nil ? 0 : 1)
        appendUInt64((value ?? 0).bitPattern)
    }

    fileprivate mutating func appendFloats(_ values: [Float]) {
        appendUInt64(UInt64(values.count))
        reserveCapacity(count + 4 * values.count)
        for value in values { appendUInt32(value.bitPattern) }
    }
}
