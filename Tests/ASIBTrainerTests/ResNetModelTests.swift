import Testing
@testable import ASIBTrainer

// FLOPs, parameter layout and whole-network gradient checks.

/// Reference forward FLOPs per image (multiply-add = 2, convolutions and linear layer only)
/// for CIFAR ResNets, with a tolerance of 0.5 % for the rounding of the published figures.
@Test(arguments: [
    ("resnet8", 1, 28, 18.7e6),
    ("resnet8", 3, 32, 25.0e6),
    ("resnet20", 1, 28, 62.0e6),
    ("resnet20", 3, 32, 81.6e6),
    ("resnet8x4", 1, 28, 270e6),
])
func modelFlopsMatchReference(_ name: String, _ channels: Int, _ size: Int, _ expected: Double) throws {
    let model = ResNetModel(
        architecture: try ResNetArchitecture.named(name, key: "test"), inputChannels: channels,
        classes: 10, seed: 1, withGradients: false
    )
    let flops = Double(model.flopsPerImage(height: size, width: size))
    #expect(abs(flops - expected) / expected < 0.005)
}

@Test func resnet20HasNineBlocksAndShortcutsAtStageChanges() throws {
    let model = ResNetModel(
        architecture: try ResNetArchitecture.named("resnet20", key: "test"), inputChannels: 3,
        classes: 10, seed: 1
    )
    #expect(model.blocks.count == 9)
    #expect(model.blocks.filter { $0.shortcut != nil }.count == 2)
    #expect(model.parameters.entry(named: "layer2.0.downsample.0.weight")?.shape == [32, 16, 1, 1])
}

@Test func unknownModelNameListsKnownModels() {
    #expect(throws: TrainerError.unknownModel(
        name: "resnet9", key: "model.student.name", known: ResNetArchitecture.names
    )) {
        try ResNetArchitecture.named("resnet9", key: "model.student.name")
    }
}

@Test func convolutionInitUsesKaimingFanOut() throws {
    let model = ResNetModel(
        architecture: try ResNetArchitecture.named("resnet8x4", key: "test"), inputChannels: 3,
        classes: 10, seed: 3
    )
    let entry = try #require(model.parameters.entry(named: "layer3.0.conv2.weight"))
    let values = UnsafeBufferPointer(start: model.parameters.values + entry.offset, count: entry.count)
    let variance = values.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(entry.count)
    // std = sqrt(2 / (Cout * 3 * 3)) with Cout = 256.
    let expected = 2.0 / (256 * 9)
    #expect(abs(variance - expected) / expected < 0.05)
}

/// A tiny ResNet (resnet8, 4 images of 8x8x2, 3 classes) in training mode; the loss is
/// CE over the logits, so the check covers stem, every block type, pooling, linear and CE.
/// Batch norm over so few values makes the loss strongly curved and ReLU kinks cannot be
/// avoided inside a network, so the check uses eps 1e-3 and a tolerance of 3e-2 (with
/// eps 1e-2 the relative error rises to about 1e-1 from curvature alone).
@Test(arguments: [
    "conv1.weight", "bn1.weight", "layer1.0.conv1.weight", "layer1.0.bn2.bias",
    "layer2.0.conv2.weight", "layer2.0.downsample.0.weight", "layer2.0.downsample.1.weight",
    "layer3.0.conv1.weight", "fc.weight", "fc.bias",
])
func resnetGradientsMatchFiniteDifferences(_ name: String) throws {
    let network = TinyNetwork(
        architecture: try ResNetArchitecture.named("resnet8", key: "test"), weightSeed: 7,
        inputSeed: 8
    )
    #expect(try network.relativeGradientError(parameter: name, eps: 1e-3) < 3e-2)
}
