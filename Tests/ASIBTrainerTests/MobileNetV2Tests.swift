import Foundation
import Testing
@testable import ASIBTrainer

// MobileNetV2: ReLU6, the layout and parameter counts, stage shapes, a whole-network gradient
// check and a checkpoint round trip.

@Test func relu6ClipsToZeroAndSix() {
    let input = Tensor(shape: [5], values: [-2, 0.5, 5.5, 6.5, 100])
    let output = Tensor(shape: [5])
    ReLU6.forward(output: output.data, input: input.data, count: 5)
    #expect(output.values == [0, 0.5, 5.5, 6, 6])
}

@Test func relu6GradientMatchesFiniteDifferences() {
    // Inputs spread over about [-9, 15] and moved at least 0.2 away from the kinks at 0 and 6,
    // so eps 1e-2 never crosses one. Both flat parts and the linear part are covered.
    let raw = GradientCheck.random(40, seed: 51, scale: 4).map { $0 + 3 }
    let values = raw.map { value -> Float in
        for kink: Float in [0, 6] where abs(value - kink) < 0.2 {
            return value < kink ? kink - 0.2 : kink + 0.2
        }
        return value
    }
    #expect(values.contains { $0 < 0 })
    #expect(values.contains { $0 > 6 })
    let input = Tensor(shape: [40], values: values)
    let output = Tensor(shape: [40])
    let projection = GradientCheck.random(40, seed: 52)
    func loss() -> Double {
        ReLU6.forward(output: output.data, input: input.data, count: 40)
        return GradientCheck.project(output.data, projection)
    }
    _ = loss()
    let inputGradient = Tensor(shape: [40])
    let outputGradient = Tensor(shape: [40], values: projection)
    ReLU6.backward(
        inputGradient: inputGradient.data, outputGradient: outputGradient.data,
        output: output.data, count: 40
    )
    let numeric = GradientCheck.numeric(input.data, count: 40, loss: loss)
    #expect(GradientCheck.relativeError(inputGradient.values, numeric) < GradientCheck.tolerance)
}

@Test func channelRoundingMatchesTorchvision() {
    // torchvision's _make_divisible(v, 8): nearest multiple of 8, at least 8, one multiple up
    // when rounding down loses more than 10%.
    #expect(MobileNetV2Settings.roundedChannels(12) == 16)
    #expect(MobileNetV2Settings.roundedChannels(8) == 8)
    #expect(MobileNetV2Settings.roundedChannels(3) == 8)
    #expect(MobileNetV2Settings.roundedChannels(36) == 40)
    #expect(MobileNetV2Settings.roundedChannels(27) == 32)
    #expect(MobileNetV2Settings.roundedChannels(19.2) == 24)
    let half = MobileNetV2Settings.cifar(widthMultiplier: 0.5)
    #expect(half.stemWidth == 16)
    #expect(half.rows.map(\.channels) == [8, 16, 16, 32, 48, 80, 160])
    #expect(half.lastChannel == 1280)
    let wide = MobileNetV2Settings.cifar(widthMultiplier: 1.4)
    #expect(wide.lastChannel == 1792)
}

/// Parameter counts by hand. A block with input width c, hidden width h = t * c and output
/// width o has `(t != 1 ? c * h + 2 * h : 0) + 9 * h + 2 * h + h * o + 2 * o` parameters
/// (expansion conv and BN, depthwise conv and BN, projection conv and BN). The stem has
/// `Cin * 9 * s + 2 * s`, the last convolution `c_last * L + 2 * L` and the head `L * K + K`.
///
/// Width 1.0, Cin 3 (stem 32, L 1280): stem 928; groups 896 (16); 5_136 + 8_832 (24);
/// 10_000 + 2 * 14_848 (32); 21_056 + 3 * 54_272 (64); 66_624 + 2 * 118_272 (96);
/// 155_264 + 2 * 320_000 (160); 473_920 (320); last conv 412_160. For K = 1000 this gives
/// 3_504_872, torchvision's count for `mobilenet_v2()` (the strides and the dropout carry no
/// parameters); for K = 10 it gives 3_504_872 - 1_281_000 + 12_810 = 2_236_682.
///
/// Width 0.5, Cin 3 (stem 16, L 1280): stem 464; 320 (8); 1_808 + 4_352 (16); 3 * 4_352
/// (16); 5_920 + 3 * 14_848 (32); 17_952 + 2 * 31_488 (48); 40_768 + 2 * 83_200 (80);
/// 121_760 (160); last conv 160 * 1280 + 2_560 = 207_360; head 12_810: 700_490.
@Test(arguments: [
    ("mobilenetv2", 1000, 3_504_872),
    ("mobilenetv2", 10, 3_504_872 - 1_281_000 + 12_810),
    ("mobilenetv2_x0_5", 10, 464 + 320 + 1_808 + 4 * 4_352 + 5_920 + 3 * 14_848 + 17_952
        + 2 * 31_488 + 40_768 + 2 * 83_200 + 121_760 + 207_360 + 12_810),
])
func mobileNetV2ParameterCountMatchesHandCount(
    _ name: String, _ classes: Int, _ expected: Int
) throws {
    let model = ResNetModel(
        architecture: try ResNetArchitecture.named(name, key: "test"), inputChannels: 3,
        classes: classes, seed: 1, withGradients: false
    )
    #expect(model.parameters.count == expected)
}

@Test func mobileNetV2LayoutUsesTorchvisionNames() throws {
    let model = ResNetModel(
        architecture: try ResNetArchitecture.named("mobilenetv2", key: "test"), inputChannels: 3,
        classes: 10, seed: 1, withGradients: false
    )
    #expect(model.invertedResidualBlocks.count == 17)
    #expect(model.invertedResidualBlocks.filter(\.residual).count == 10)
    #expect(model.features == 1280)
    #expect(model.stageEndBlocks == [2, 5, 12])
    let shapes: [(String, [Int])] = [
        ("features.0.0.weight", [32, 3, 3, 3]),
        ("features.1.conv.0.0.weight", [32, 1, 3, 3]),
        ("features.1.conv.1.weight", [16, 32, 1, 1]),
        ("features.1.conv.2.weight", [16]),
        ("features.2.conv.0.0.weight", [96, 16, 1, 1]),
        ("features.2.conv.1.0.weight", [96, 1, 3, 3]),
        ("features.2.conv.2.weight", [24, 96, 1, 1]),
        ("features.2.conv.3.bias", [24]),
        ("features.17.conv.2.weight", [320, 960, 1, 1]),
        ("features.18.0.weight", [1280, 320, 1, 1]),
        ("classifier.1.weight", [10, 1280]),
    ]
    for (name, shape) in shapes {
        #expect(model.parameters.entry(named: name)?.shape == shape, "\(name)")
    }
    #expect(model.statistics.entry(named: "features.18.1.running_var")?.shape == [1280])
}

@Test func mobileNetV2InitialisesDepthwiseWithFanOut() throws {
    // Kaiming normal with fan_out = Cout * k * k = 9 * 96 for the depthwise weight of block 2:
    // std sqrt(2 / 864) = 0.0481. 864 samples put the sample std within about 10% of it.
    let model = ResNetModel(
        architecture: try ResNetArchitecture.named("mobilenetv2", key: "test"), inputChannels: 3,
        classes: 10, seed: 3, withGradients: false
    )
    let entry = try #require(model.parameters.entry(named: "features.2.conv.1.0.weight"))
    let values = (0..<entry.count).map { Double(model.parameters.values[entry.offset + $0]) }
    let std = (values.map { $0 * $0 }.reduce(0, +) / Double(values.count)).squareRoot()
    #expect(abs(std / (2.0 / 864).squareRoot() - 1) < 0.1)
    let gamma = try #require(model.parameters.entry(named: "features.2.conv.1.1.weight"))
    #expect(model.parameters.values[gamma.offset] == 1)
}

/// Stage outputs and logits for CIFAR-sized and Fashion-MNIST-sized batches: the stages are at
/// full, half and quarter size like the ResNet stages, and the last convolution runs at 1/8.
@Test(arguments: [
    ("mobilenetv2", 3, 32, [24, 32, 96], [32, 16, 8], 4),
    ("mobilenetv2_x0_5", 3, 32, [16, 16, 48], [32, 16, 8], 4),
    ("mobilenetv2_x0_5", 1, 28, [16, 16, 48], [28, 14, 7], 4),
])
func mobileNetV2StageShapesMatchResNetStages(
    _ name: String, _ channels: Int, _ size: Int, _ widths: [Int], _ sizes: [Int],
    _ lastSize: Int
) throws {
    let architecture = try ResNetArchitecture.named(name, key: "test")
    let model = ResNetModel(
        architecture: architecture, inputChannels: channels, classes: 10, seed: 1,
        withGradients: false
    )
    let graph = ResNetGraph(
        model: model, batch: 2, height: size, width: size, withGradients: false
    )
    let input = Tensor(
        shape: [channels, 2, size, size],
        values: GradientCheck.random(channels * 2 * size * size, seed: 4)
    )
    let logits = graph.forward(input: input.data, training: false)
    #expect(graph.stageCount == 3)
    #expect(architecture.stageWidths == widths)
    for stage in 1...3 {
        let shape = graph.stageOutput(stage).shape
        #expect(shape == [widths[stage - 1], 2, sizes[stage - 1], sizes[stage - 1]], "stage \(stage)")
    }
    #expect(graph.lastConvolution?.output.shape == [1280, 2, lastSize, lastSize])
    #expect(graph.pooledFeature.shape == [1280, 2])
    #expect((0..<20).allSatisfy { logits[$0].isFinite })
}

/// A MobileNetV2-like network on 4 images of 8x8x2 with 3 classes: stem 8, a factor-1 block
/// with the identity (8 -> 8), an expanding block with the identity (8 -> 16 -> 8), a strided
/// expanding block (8 -> 16 -> 16) and a last 1x1 convolution to 16. The check covers ReLU6
/// units, depthwise convolutions with stride 1 and 2, both residual paths, the last
/// convolution, pooling and the head. Batch norm over so few values makes the loss strongly
/// curved, so like the Wide ResNet check it uses eps 1e-4 and a tolerance of 3e-2.
private let tinyMobileNet = ResNetArchitecture(
    name: "mobilenetv2_tiny",
    mobileNetV2: MobileNetV2Settings(
        stemWidth: 8, stemStride: 1,
        rows: [
            InvertedResidualSetting(expansion: 1, channels: 8, count: 1, stride: 1),
            InvertedResidualSetting(expansion: 2, channels: 8, count: 1, stride: 1),
            InvertedResidualSetting(expansion: 2, channels: 16, count: 1, stride: 2),
        ],
        lastChannel: 16, stageRows: [0, 1, 2]
    )
)

@Test(arguments: [
    "features.0.0.weight", "features.0.1.weight", "features.1.conv.0.0.weight",
    "features.1.conv.0.1.bias", "features.1.conv.1.weight", "features.2.conv.0.0.weight",
    "features.2.conv.1.0.weight", "features.2.conv.2.weight", "features.2.conv.3.weight",
    "features.3.conv.1.0.weight", "features.3.conv.2.weight", "features.4.0.weight",
    "features.4.1.bias", "classifier.1.weight", "classifier.1.bias",
])
func mobileNetV2GradientsMatchFiniteDifferences(_ name: String) throws {
    let network = TinyNetwork(architecture: tinyMobileNet, weightSeed: 61, inputSeed: 62)
    #expect(network.model.invertedResidualBlocks.map(\.residual) == [true, true, false])
    #expect(try network.relativeGradientError(parameter: name, eps: 1e-4) < 3e-2)
}

@Test func mobileNetV2StageGradientReachesEarlierLayers() throws {
    // A loss on stage 2 alone (the end of the second block) must move the first block's
    // weights but not the third block's.
    let network = TinyNetwork(architecture: tinyMobileNet, weightSeed: 63, inputSeed: 64)
    let model = network.model
    let graph = network.graph
    graph.forward(input: network.input.data, training: true)
    let stage = graph.stageOutput(2)
    let projection = Tensor(shape: stage.shape, values: GradientCheck.random(stage.count, seed: 65))
    model.parameters.zeroGradients()
    let zeroLogits = Tensor(shape: [4, 3])
    graph.backward(
        logitGradient: zeroLogits.data,
        featureGradients: FeatureGradients(stages: [2: UnsafePointer(projection.data)])
    )
    func gradientNorm(_ name: String) throws -> Float {
        let entry = try #require(model.parameters.entry(named: name))
        return (0..<entry.count).map { abs(model.parameters.gradients[entry.offset + $0]) }
            .reduce(0, +)
    }
    #expect(try gradientNorm("features.1.conv.0.0.weight") > 0)
    #expect(try gradientNorm("features.2.conv.2.weight") > 0)
    #expect(try gradientNorm("features.3.conv.2.weight") == 0)
    #expect(try gradientNorm("classifier.1.weight") == 0)
}

@Test func mobileNetV2CheckpointRoundTripRestoresEveryTensor() throws {
    let architecture = try ResNetArchitecture.named("mobilenetv2_x0_5", key: "test")
    let original = ResNetModel(
        architecture: architecture, inputChannels: 1, classes: 10, seed: 1
    )
    original.statistics.values[5] = 0.25
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("asib-mobilenet-\(UUID().uuidString)/checkpoint.bin")
    try original.save(to: url)
    let restored = ResNetModel(
        architecture: architecture, inputChannels: 1, classes: 10, seed: 2
    )
    #expect(restored.checkpoint() != original.checkpoint())
    try restored.load(try Checkpoint.load(path: url.path), path: url.path)
    #expect(restored.checkpoint() == original.checkpoint())

    // The same logits in eval mode, which reads the restored running statistics.
    let input = Tensor(shape: [1, 2, 28, 28], values: GradientCheck.random(1_568, seed: 7))
    func logits(_ model: ResNetModel) -> [Float] {
        let graph = ResNetGraph(model: model, batch: 2, height: 28, width: 28, withGradients: false)
        let output = graph.forward(input: input.data, training: false)
        return Array(UnsafeBufferPointer(start: output, count: 20))
    }
    #expect(logits(restored) == logits(original))

    // A checkpoint of another architecture is rejected with both names.
    let other = ResNetModel(
        architecture: try ResNetArchitecture.named("mobilenetv2", key: "test"), inputChannels: 1,
        classes: 10, seed: 1
    )
    #expect(throws: TrainerError.self) {
        try other.load(try Checkpoint.load(path: url.path), path: url.path)
    }
}

/// Forward multiply-adds per 28x28x1 image of mobilenetv2_x0_5 by hand (FLOPs are twice these).
/// A block with input width c, hidden width h, output width o, input size H x W and output
/// size Ho x Wo costs `(t != 1 ? c * h * H * W : 0) + 9 * h * Ho * Wo + h * o * Ho * Wo`.
/// The stem costs `1 * 9 * 16 * 784 = 112_896`, the last convolution
/// `160 * 1280 * 16 = 3_276_800` at 4x4, and the head `1280 * 10 = 12_800`. The rows of the
/// settings table cost 213_248 (8 channels at 28x28), 4_327_680 (16, 28x28), 3_217_536 (16,
/// down to 14x14), 2_554_272 (32, down to 7x7), 3_800_832 (48, 7x7), 3_683_328 (80, down to
/// 4x4) and 1_912_320 (160, 4x4). For example, the first block of the 16-channel row at 28x28
/// (c 8, h 48, o 16) costs `8 * 48 * 784 + 9 * 48 * 784 + 48 * 16 * 784 = 1_241_856`.
@Test func mobileNetV2FlopsMatchHandCount() throws {
    let model = ResNetModel(
        architecture: try ResNetArchitecture.named("mobilenetv2_x0_5", key: "test"),
        inputChannels: 1, classes: 10, seed: 1, withGradients: false
    )
    let multiplyAdds = 112_896 + 213_248 + 4_327_680 + 3_217_536 + 2_554_272 + 3_800_832
        + 3_683_328 + 1_912_320 + 3_276_800 + 12_800
    #expect(model.flopsPerImage(height: 28, width: 28) == 2 * multiplyAdds)
}
