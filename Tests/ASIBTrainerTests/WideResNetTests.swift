import Testing
@testable import ASIBTrainer

// Wide ResNets (WRN-d-k, pre-activation blocks): parameter counts, FLOPs and a whole-network
// gradient check.

/// Parameter counts of WRN-16-2 and WRN-40-2 for 3 input channels and 100 classes, by hand.
/// A group of width w after an input of width c has a first block
/// `bn1 2c + conv1 9cw + bn2 2w + conv2 9w^2 + shortcut cw` and (N - 1) identity blocks
/// `2w + 9w^2 + 2w + 9w^2`, N = (d - 4) / 6.
/// - stem `3 * 16 * 9 = 432`, final BN `2 * 128 = 256`, head `128 * 100 + 100 = 12_900`
/// - first blocks: `32 + 4_608 + 64 + 9_216 + 512 = 14_432` (16 -> 32),
///   `64 + 18_432 + 128 + 36_864 + 2_048 = 57_536` (32 -> 64),
///   `128 + 73_728 + 256 + 147_456 + 8_192 = 229_760` (64 -> 128)
/// - identity blocks: `18_560` (w 32), `73_984` (w 64), `295_424` (w 128)
/// WRN-16-2 (N = 2): 432 + 14_432 + 18_560 + 57_536 + 73_984 + 229_760 + 295_424 + 256 +
/// 12_900 = 703_284; WRN-40-2 (N = 6) adds 4 * (18_560 + 73_984 + 295_424) = 1_551_872, giving
/// 2_255_156.
@Test(arguments: [
    ("wrn_16_2", 432 + 14_432 + 18_560 + 57_536 + 73_984 + 229_760 + 295_424 + 256 + 12_900),
    ("wrn_40_2", 432 + 14_432 + 5 * 18_560 + 57_536 + 5 * 73_984 + 229_760 + 5 * 295_424
        + 256 + 12_900),
])
func wideResNetParameterCountMatchesHandCount(_ name: String, _ expected: Int) throws {
    let model = ResNetModel(
        architecture: try ResNetArchitecture.named(name, key: "test"), inputChannels: 3,
        classes: 100, seed: 1, withGradients: false
    )
    #expect(model.parameters.count == expected)
}

/// Forward multiply-adds per 32x32x3 image by hand (FLOPs are twice these): each first block
/// of a group costs 14_680_064 and each identity block 18_874_368 (the same in every group,
/// as the width doubles when the resolution halves), e.g. group 1 at 1_024 pixels:
/// `(4_608 + 9_216 + 512) * 1_024 = 14_680_064` and `(9_216 + 9_216) * 1_024 = 18_874_368`.
/// Stem `432 * 1_024 = 442_368`, head `128 * 100 = 12_800`.
/// WRN-16-2: 442_368 + 3 * 14_680_064 + 3 * 18_874_368 + 12_800 = 101_118_464;
/// WRN-40-2 adds 12 identity blocks: 327_610_880.
@Test(arguments: [
    ("wrn_16_2", 442_368 + 3 * 14_680_064 + 3 * 18_874_368 + 12_800),
    ("wrn_40_2", 442_368 + 3 * 14_680_064 + 15 * 18_874_368 + 12_800),
])
func wideResNetFlopsMatchHandCount(_ name: String, _ multiplyAdds: Int) throws {
    let model = ResNetModel(
        architecture: try ResNetArchitecture.named(name, key: "test"), inputChannels: 3,
        classes: 100, seed: 1, withGradients: false
    )
    let flops = model.flopsPerImage(height: 32, width: 32)
    #expect(flops == 2 * multiplyAdds)
}

@Test func wideResNetLayoutHasShortcutsOnlyWhereTheShapeChanges() throws {
    let model = ResNetModel(
        architecture: try ResNetArchitecture.named("wrn_40_2", key: "test"), inputChannels: 3,
        classes: 10, seed: 1
    )
    #expect(model.blocks.isEmpty)
    #expect(model.preActivationBlocks.count == 18)
    #expect(model.preActivationBlocks.filter { $0.shortcut != nil }.count == 3)
    #expect(model.parameters.entry(named: "layer1.0.downsample.0.weight")?.shape == [32, 16, 1, 1])
    #expect(model.parameters.entry(named: "layer3.0.downsample.0.weight")?.shape == [128, 64, 1, 1])
    #expect(model.parameters.entry(named: "layer2.1.bn1.weight")?.shape == [64])
    #expect(model.parameters.entry(named: "bn1.weight")?.shape == [128])
    // The 1x1 shortcuts have no norm of their own.
    #expect(model.parameters.entry(named: "layer1.0.downsample.1.weight") == nil)
}

/// A WRN-10-1 (stem 16, widths 16/32/64, one block per group) on 4 images of 8x8x2 with 3
/// classes, in training mode with CE over the logits: the check covers the plain stem, an
/// identity block (group 1), blocks with strided 1x1 shortcuts (groups 2 and 3), the final
/// BN-ReLU, pooling and the head. Batch norm over so few values makes the loss strongly curved:
/// the relative error of the first layers falls with eps (conv1.weight: 0.17 at 1e-2, 0.057 at
/// 1e-3, 0.024 at 1e-4, the same trend as the plain ResNet in this configuration), so the check
/// uses eps 1e-4, where float32 rounding keeps the deeper layers under 2e-2, and a tolerance
/// of 3e-2.
@Test(arguments: [
    "conv1.weight", "layer1.0.bn1.weight", "layer1.0.conv1.weight", "layer1.0.bn2.bias",
    "layer1.0.conv2.weight", "layer2.0.bn1.bias", "layer2.0.downsample.0.weight",
    "layer3.0.conv1.weight", "layer3.0.conv2.weight", "layer3.0.downsample.0.weight",
    "bn1.weight", "bn1.bias", "fc.weight", "fc.bias",
])
func wideResNetGradientsMatchFiniteDifferences(_ name: String) throws {
    let architecture = ResNetArchitecture(
        name: "wrn_10_1", stemWidth: 16, stageWidths: [16, 32, 64], blocksPerStage: 1,
        preActivation: true
    )
    let network = TinyNetwork(architecture: architecture, weightSeed: 21, inputSeed: 22)
    #expect(try network.relativeGradientError(parameter: name, eps: 1e-4) < 3e-2)
}
