import CZlib
import Foundation

/// The saved tensors of a model in a small versioned binary file, all integers little-endian:
///
///     magic "ASIBCKPT" (8 bytes), version UInt32 (1),
///     architecture name (UInt32 byte count + UTF-8), tensor count UInt32,
///     per tensor: name (UInt32 byte count + UTF-8), rank UInt32, rank x UInt32 dimensions,
///                 Float32 values,
///     CRC-32 (zlib) UInt32 of every byte before it.
public struct Checkpoint: Equatable {
    public struct NamedTensor: Equatable {
        public let name: String
        public let shape: [Int]
        public let values: [Float]
    }

    public static let magic = Array("ASIBCKPT".utf8)
    public static let version: UInt32 = 1

    public let architecture: String
    public let tensors: [NamedTensor]

    public init(architecture: String, tensors: [NamedTensor]) {
        self.architecture = architecture
        self.tensors = tensors
    }

    /// Returns the file bytes.
    public func encoded() -> Data {
        var data = Data(Self.magic)
        data.appendLittleEndian(Self.version)
        data.appendString(architecture)
        data.appendLittleEndian(UInt32(tensors.count))
        for tensor in tensors {
            data.appendString(tensor.name)
            data.appendLittleEndian(UInt32(tensor.shape.count))
            for dimension in tensor.shape { data.appendLittleEndian(UInt32(dimension)) }
            for value in tensor.values { data.appendLittleEndian(value.bitPattern) }
        }
        data.appendLittleEndian(Self.crc32(data))
        return data
    }

    /// Reads and checks a checkpoint file: magic, version, structure and CRC-32.
    public static func load(path: String) throws -> Checkpoint {
        guard FileManager.default.fileExists(atPath: path) else {
            throw TrainerError.checkpointInvalid(path: path, problem: "file not found")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TrainerError.checkpointInvalid(path: path, problem: "file cannot be read")
        }
        return try decode(data, path: path)
    }

    static func decode(_ data: Data, path: String) throws -> Checkpoint {
        var reader = CheckpointReader(data: data, path: path)
        guard data.count >= magic.count + 8, Array(data.prefix(magic.count)) == magic else {
            throw TrainerError.checkpointInvalid(path: path, problem: "not an ASIBCKPT file")
        }
        let stored = data.suffix(4).withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
        let computed = crc32(data.prefix(data.count - 4))
        guard UInt32(littleEndian: stored) == computed else {
            throw TrainerError.checkpointInvalid(
                path: path,
                problem: "CRC-32 mismatch (stored \(String(stored, radix: 16)), "
                    + "computed \(String(computed, radix: 16))); the file is corrupted or truncated"
            )
        }
        reader.offset = magic.count
        let version = try reader.uint32()
        guard version == Self.version else {
            throw TrainerError.checkpointInvalid(
                path: path, problem: "format version '\(version)', this build reads \(Self.version)"
            )
        }
        let architecture = try reader.string()
        let count = try reader.uint32()
        var tensors: [NamedTensor] = []
        for _ in 0..<count {
            let name = try reader.string()
            let rank = try reader.uint32()
            let shape = try (0..<rank).map { _ in Int(try reader.uint32()) }
            let values = try reader.floats(shape.reduce(1, *))
            tensors.append(NamedTensor(name: name, shape: shape, values: values))
        }
        guard reader.offset == data.count - 4 else {
            throw TrainerError.checkpointInvalid(
                path: path, problem: "\(data.count - 4 - reader.offset) unexpected trailing bytes"
            )
        }
        return Checkpoint(architecture: architecture, tensors: tensors)
    }

    static func crc32(_ data: Data) -> UInt32 {
        data.withUnsafeBytes { buffer in
            var crc = CZlib.crc32(0, nil, 0)
            var offset = 0
            while offset < buffer.count {
                let chunk = min(buffer.count - offset, 1 << 30)
                crc = CZlib.crc32(
                    crc, buffer.baseAddress!.advanced(by: offset)
                        .assumingMemoryBound(to: UInt8.self), uInt(chunk)
                )
                offset += chunk
            }
            return UInt32(crc)
        }
    }
}

/// A bounds-checked cursor over checkpoint bytes.
private struct CheckpointReader {
    let data: Data
    let path: String
    var offset = 0

    mutating func bytes(_ count: Int) throws -> Data {
        guard count >= 0, offset + count <= data.count - 4 else {
            throw TrainerError.checkpointInvalid(
                path: path, problem: "truncated at byte \(offset) (needs \(count) more bytes)"
            )
        }
        let slice = data.subdata(in: (data.startIndex + offset)..<(data.startIndex + offset + count))
        offset += count
        return slice
    }

    mutating func uint32() throws -> UInt32 {
        let slice = try bytes(4)
        return UInt32(littleEndian: slice.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) })
    }

    mutating func string() throws -> String {
        let length = Int(try uint32())
        guard let text = String(data: try bytes(length), encoding: .utf8) else {
            throw TrainerError.checkpointInvalid(path: path, problem: "invalid UTF-8 in a name")
        }
        return text
    }

    mutating func floats(_ count: Int) throws -> [Float] {
        let slice = try bytes(count * 4)
        return slice.withUnsafeBytes { buffer in
            (0..<count).map {
                Float(bitPattern: UInt32(littleEndian: buffer.loadUnaligned(
                    fromByteOffset: $0 * 4, as: UInt32.self
                )))
            }
        }
    }
}

extension Data {
    fileprivate mutating func appendLittleEndian(_ value: UInt32) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }

    fileprivate mutating func appendString(_ text: String) {
        appendLittleEndian(UInt32(text.utf8.count))
        append(contentsOf: Array(text.utf8))
    }
}
