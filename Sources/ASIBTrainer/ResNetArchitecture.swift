/// A CIFAR-style ResNet (He et al. 2016): a 3x3 stem convolution, three stages of BasicBlocks
/// with stride 2 at the first block of stages 2 and 3, global average pooling and a linear head.
/// With `preActivation` it is a Wide ResNet (Zagoruyko and Komodakis 2016) without dropout: a
/// plain 3x3 stem convolution, pre-activation blocks and a final BN-ReLU before the pooling.
/// Each block is BN-ReLU-conv-BN-ReLU-conv plus the identity, or plus a 1x1 convolution of the
/// pre-activated input where the shape changes.
/// With `mobileNetV2` settings it is a MobileNetV2 instead (see `MobileNetV2Settings`), and
/// `stageWidths` lists the widths of its three feature stages.
public struct ResNetArchitecture: Equatable, Sendable {
    public let name: String
    public let stemWidth: Int
    public let stageWidths: [Int]
    /// Blocks of each ResNet stage; 0 for a MobileNetV2, whose groups differ in length.
    public let blocksPerStage: Int
    public let preActivation: Bool
    /// The inverted-residual layout of a MobileNetV2; nil for the ResNets.
    public let mobileNetV2: MobileNetV2Settings?

    public init(
        name: String, stemWidth: Int, stageWidths: [Int], blocksPerStage: Int,
        preActivation: Bool = false
    ) {
        self.name = name
        self.stemWidth = stemWidth
        self.stageWidths = stageWidths
        self.blocksPerStage = blocksPerStage
        self.preActivation = preActivation
        mobileNetV2 = nil
    }

    /// Creates a MobileNetV2 architecture and derives its stem and stage widths from `settings`.
    public init(name: String, mobileNetV2 settings: MobileNetV2Settings) {
        self.name = name
        stemWidth = settings.stemWidth
        stageWidths = settings.stageRows.map { settings.rows[$0].channels }
        blocksPerStage = 0
        preActivation = false
        mobileNetV2 = settings
    }

    /// Width of the pooled feature: a MobileNetV2's last channel, else the last stage width.
    public var featureWidth: Int { mobileNetV2?.lastChannel ?? stageWidths.last! }

    /// `resnet8/14/20/32/56` (stem 16, widths 16/32/64) and `resnet8x4/32x4` (stem 32, widths
    /// 64/128/256); a depth d has (d - 2) / 6 blocks per stage. `wrn_16_2` and `wrn_40_2` are
    /// Wide ResNets of depth d and widening factor k = 2 (stem 16, widths 32/64/128) with
    /// (d - 4) / 6 blocks per stage. `mobilenetv2` and `mobilenetv2_x0_5` are MobileNetV2s of
    /// width multiplier 1.0 and 0.5 for small images (`MobileNetV2Settings.cifar`).
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
    } + [16, 40].map {
        ResNetArchitecture(
            name: "wrn_\($0)_2", stemWidth: 16, stageWidths: [32, 64, 128],
            blocksPerStage: ($0 - 4) / 6, preActivation: true
        )
    } + [
        ResNetArchitecture(name: "mobilenetv2", mobileNetV2: .cifar(widthMultiplier: 1)),
        ResNetArchitecture(name: "mobilenetv2_x0_5", mobileNetV2: .cifar(widthMultiplier: 0.5)),
    ]

    public static var names: [String] { all.map(\.name) }

    /// Returns the architecture called `name`, or throws listing the known names.
    public static func named(_ name: String, key: String) throws -> ResNetArchitecture {
        guard let architecture = all.first(where: { $0.name == name }) else {
            throw TrainerError.unknownModel(name: name, key: key, known: names)
        }
        return architecture
    }
}
