/// A CIFAR-style ResNet (He et al. 2016): a 3x3 stem convolution, three stages of BasicBlocks
/// with stride 2 at the first block of stages 2 and 3, global average pooling and a linear head.
public struct ResNetArchitecture: Equatable, Sendable {
    public let name: String
    public let stemWidth: Int
    public let stageWidths: [Int]
    public let blocksPerStage: Int

    /// `resnet8/14/20/32/56` (stem 16, widths 16/32/64) and `resnet8x4/32x4` (stem 32, widths
    /// 64/128/256); a depth d has (d - 2) / 6 blocks per stage.
    public static let all: [ResNetArchitecture] = [8, 14, 20, 32, 56].map {
        ResNetArchitecture(
            name: "resnet\($0)", stemWidth: 16, stageWidths: [16, 32, 64],
            blocksPerStage: ($0 - 2) / 6
        )
    } + [8, 32].map {
        ResNetArchitecture(
            name: "resnet\($0)x4", stemWidth: 32, stageWidths: [64, 128, 256],
            blocksPerStage: ($0 - 2) / 6
        )
    }

    public static var names: [String] { all.map(\.name) }

    /// Returns the architecture called `name`, or throws listing the known names.
    public static func named(_ name: String, key: String) throws -> ResNetArchitecture {
        guard let architecture = all.first(where: { $0.name == name }) else {
            throw TrainerError.unknownModel(name: name, key: key, known: names)
        }
        return architecture
    }
}
