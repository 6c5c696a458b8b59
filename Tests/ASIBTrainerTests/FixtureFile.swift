import Foundation
import Testing

/// A reference fixture written by scripts/fixtures/make_reference.py: `STEM.json` (settings,
/// labels, scalars and the tensor index) and `STEM.bin` (little-endian float32 tensors),
/// read by path from Tests/ASIBTrainerTests/Fixtures in the source tree.
struct FixtureFile {
    struct Entry: Decodable {
        let offset: Int
        let shape: [Int]
    }

    struct Manifest: Decodable {
        let settings: [String: SettingValue]
        let labels: [Int32]
        let scalars: [String: [String: Double]]
        let tensors: [String: Entry]
    }

    /// A setting: a number or a name.
    enum SettingValue: Decodable {
        case number(Double)
        case text(String)

        init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let number = try? container.decode(Double.self) {
                self = .number(number)
            } else {
                self = .text(try container.decode(String.self))
            }
        }
    }

    static let folder = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().appendingPathComponent("Fixtures")

    let manifest: Manifest
    let values: [Float]

    init(_ stem: String) throws {
        let json = try Data(contentsOf: Self.folder.appendingPathComponent(stem + ".json"))
        manifest = try JSONDecoder().decode(Manifest.self, from: json)
        let blob = try Data(contentsOf: Self.folder.appendingPathComponent(stem + ".bin"))
        values = blob.withUnsafeBytes { raw in
            (0..<(blob.count / 4)).map {
                let bits = raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self)
                return Float(bitPattern: UInt32(littleEndian: bits))
            }
        }
    }

    func tensor(_ name: String) throws -> [Float] {
        let entry = try #require(manifest.tensors[name], "fixture tensor \(name)")
        return Array(values[entry.offset..<(entry.offset + entry.shape.reduce(1, *))])
    }

    func scalar(_ step: String, _ name: String) throws -> Double {
        try #require(manifest.scalars[step]?[name], "fixture scalar \(step).\(name)")
    }

    func number(_ name: String) throws -> Double {
        guard case let .number(value)? = manifest.settings[name] else {
            Issue.record("fixture setting \(name) missing or not a number")
            throw FixtureError.missingSetting(name)
        }
        return value
    }

    func integer(_ name: String) throws -> Int { Int(try number(name)) }

    enum FixtureError: Error {
        case missingSetting(String)
    }
}
