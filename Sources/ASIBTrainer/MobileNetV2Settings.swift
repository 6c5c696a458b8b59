/// One row of MobileNetV2's settings table: `count` inverted residual blocks with expansion
/// factor `expansion` and `channels` output channels, the first with stride `stride`.
public struct InvertedResidualSetting: Equatable, Sendable {
    public let expansion: Int
    public let channels: Int
    public let count: Int
    public let stride: Int

    public init(expansion: Int, channels: Int, count: Int, stride: Int) {
        self.expansion = expansion
        self.channels = channels
        self.count = count
        self.stride = stride
    }
}

/// The layout of a MobileNetV2 (Sandler et al. 2018) in torchvision's form. A 3x3 conv-BN-ReLU6
/// stem is followed by the inverted residual blocks of `rows` (see `InvertedResidualLayout`), a
/// 1x1 conv-BN-ReLU6 to `lastChannel`, global average pooling and a linear head. Channel counts
/// are already rounded.
///
/// NOTE: torchvision puts dropout (p = 0.2) before the linear head; this trainer has no dropout
/// in its convolutional models, so the head is the linear layer alone.
public struct MobileNetV2Settings: Equatable, Sendable {
    public let stemWidth: Int
    /// Stride of the stem convolution.
    public let stemStride: Int
    public let rows: [InvertedResidualSetting]
    public let lastChannel: Int
    /// Indices into `rows` whose last block output is feature stage 1, 2, 3 (FitNet hints and
    /// attention transfer).
    public let stageRows: [Int]

    public init(
        stemWidth: Int, stemStride: Int, rows: [InvertedResidualSetting], lastChannel: Int,
        stageRows: [Int]
    ) {
        self.stemWidth = stemWidth
        self.stemStride = stemStride
        self.rows = rows
        self.lastChannel = lastChannel
        self.stageRows = stageRows
    }

    /// torchvision's table `(t, c, n, s)` = (1, 16, 1, 1) (6, 24, 2, 2) (6, 32, 3, 2)
    /// (6, 64, 4, 2) (6, 96, 3, 1) (6, 160, 3, 2) (6, 320, 1, 1) with a stem of 32 and 1280 last
    /// channels, adapted to 32x32 and 28x28 inputs as CIFAR ports do: the stem has stride 1 and
    /// the second row stride 1, so the network downsamples 8 times instead of 32.
    ///
    /// Widths are `c * widthMultiplier` rounded by `roundedChannels`. As in torchvision, the
    /// last channel is scaled only for multipliers above 1, so `mobilenetv2_x0_5` keeps 1280
    /// features (a 160 -> 1280 pointwise convolution on 4x4 maps, about 3% of its FLOPs).
    ///
    /// The feature stages are the ends of the 24-, 32- and 96-channel groups: the outputs just
    /// before each of the three stride-2 groups, at 1, 1/2 and 1/4 of the input size. These
    /// match the stage sizes of the CIFAR ResNets, so FitNet hints and attention transfer can
    /// pair MobileNetV2 with ResNet teachers or students.
    public static func cifar(widthMultiplier: Double) -> MobileNetV2Settings {
        let table = [(1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                     (6, 160, 3, 2), (6, 320, 1, 1)]
        let rows = table.map { expansion, channels, count, stride in
            InvertedResidualSetting(
                expansion: expansion,
                channels: roundedChannels(Double(channels) * widthMultiplier),
                count: count, stride: stride
            )
        }
        return MobileNetV2Settings(
            stemWidth: roundedChannels(32 * widthMultiplier), stemStride: 1, rows: rows,
            lastChannel: roundedChannels(1280 * max(1, widthMultiplier)), stageRows: [1, 2, 4]
        )
    }

    /// Rounds a channel count to the nearest multiple of 8 (at least 8), going one multiple up
    /// when rounding down would lose more than 10%: torchvision's `_make_divisible(v, 8)`.
    public static func roundedChannels(_ value: Double) -> Int {
        var rounded = max(8, Int(value + 4) / 8 * 8)
        if Double(rounded) < 0.9 * value { rounded += 8 }
        return rounded
    }
}
