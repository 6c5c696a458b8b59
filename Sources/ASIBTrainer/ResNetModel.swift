import Foundation

/// A convolution (no bias) followed by batch norm unless `batchNorm` is false, as offsets into
/// the model's stores.
struct ConvBNLayout {
    let inChannels: Int
    let outChannels: Int
    let kernel: Int
    let stride: Int
    /// Offset of the weight `[Cout, Cin / groups, k, k]` in the parameters.
    let weight: Int
    /// Offsets of gamma and beta `[Cout]` in the parameters.
    let gamma: Int
    let beta: Int
    /// Offsets of the running mean and variance `[Cout]` in the statistics.
    let runningMean: Int
    let runningVariance: Int
    /// False for a plain convolution (Wide ResNet stem, second convolution and shortcut); the
    /// BN offsets are then unused.
    var batchNorm = true
    /// Channel groups of the convolution; the weight is `[Cout, Cin / groups, k, k]`.
    var groups = 1

    var padding: Int { kernel / 2 }
}

/// A batch norm on its own (the pre-activation of a Wide ResNet block and the final norm), as
/// offsets into the model's stores.
struct BatchNormLayout {
    let channels: Int
    let gamma: Int
    let beta: Int
    let runningMean: Int
    let runningVariance: Int
}

/// A pre-activation block: `a = relu(bn1(x))`, `conv2(relu(bn2(conv1(a)))) + shortcut`, where the
/// shortcut is `x`, or a 1x1 convolution of `a` when the shape changes. `first` is conv1 with
/// bn2 and ReLU; `second` and `shortcut` are plain convolutions.
struct PreActivationBlockLayout {
    let norm: BatchNormLayout
    let first: ConvBNLayout
    let second: ConvBNLayout
    let shortcut: ConvBNLayout?
}

/// A BasicBlock: conv-BN-ReLU, conv-BN, plus the shortcut (identity, or 1x1 conv-BN when the
/// shape changes), then ReLU.
struct BasicBlockLayout {
    let first: ConvBNLayout
    let second: ConvBNLayout
    let shortcut: ConvBNLayout?
}

/// The parameters and running statistics of a ResNet, independent of batch and image size.
public final class ResNetModel {
    public let architecture: ResNetArchitecture
    public let inputChannels: Int
    public let classes: Int
    /// Trainable tensors: convolution weights, BN gamma/beta, linear weight and bias.
    public let parameters = ParameterStore()
    /// BN running means and variances.
    public let statistics = ParameterStore()

    let stem: ConvBNLayout
    /// BasicBlocks, empty for a pre-activation architecture and a MobileNetV2.
    let blocks: [BasicBlockLayout]
    /// Pre-activation blocks and the final BN-ReLU, empty and nil for the other architectures.
    let preActivationBlocks: [PreActivationBlockLayout]
    let finalNorm: BatchNormLayout?
    /// Inverted residual blocks and the last 1x1 conv-BN-ReLU6 of a MobileNetV2, empty and nil
    /// for the ResNets.
    let invertedResidualBlocks: [InvertedResidualLayout]
    let lastConvolution: ConvBNLayout?
    /// Offsets of the linear weight `[K, C]` and bias `[K]`.
    let linearWeight: Int
    let linearBias: Int
    /// Width of the pooled feature: the last stage width, or a MobileNetV2's last channel.
    let features: Int
    /// Indices of the blocks, in forward order, whose outputs are feature stages 1, 2, 3.
    let stageEndBlocks: [Int]

    /// Builds the model and initialises it from `seed`: Kaiming normal (fan_out, ReLU gain)
    /// convolutions, BN gamma 1 and beta 0, running mean 0 and variance 1, and PyTorch's default
    /// linear init (weight and bias uniform in +-1/sqrt(fan_in)).
    public init(
        architecture: ResNetArchitecture,
        inputChannels: Int,
        classes: Int,
        seed: UInt64,
        withGradients: Bool = true
    ) {
        self.architecture = architecture
        self.inputChannels = inputChannels
        self.classes = classes
        var builder = LayoutBuilder(parameters: parameters, statistics: statistics)
        var headName = "fc"
        if let settings = architecture.mobileNetV2 {
            // torchvision's names: features.0 is the stem, features.1... the blocks, then the
            // last convolution, and classifier.1 the linear layer.
            stem = builder.convBN(
                "features.0.", inputChannels, settings.stemWidth, kernel: 3,
                stride: settings.stemStride, convName: "0", bnName: "1"
            )
            blocks = []
            preActivationBlocks = []
            finalNorm = nil
            let inverted = builder.invertedResidualBlocks(settings)
            invertedResidualBlocks = inverted
            lastConvolution = builder.convBN(
                "features.\(inverted.count + 1).", settings.rows.last!.channels,
                settings.lastChannel, kernel: 1, stride: 1, convName: "0", bnName: "1"
            )
            features = settings.lastChannel
            stageEndBlocks = settings.stageRows.map { row in
                settings.rows[...row].map(\.count).reduce(0, +) - 1
            }
            headName = "classifier.1"
        } else {
            stem = builder.convBN(
                "", inputChannels, architecture.stemWidth, kernel: 3, stride: 1,
                batchNorm: !architecture.preActivation
            )
            if architecture.preActivation {
                blocks = []
                preActivationBlocks = builder.preActivationStages(architecture)
                finalNorm = builder.batchNorm("bn1", architecture.stageWidths.last!)
            } else {
                blocks = builder.stages(architecture)
                preActivationBlocks = []
                finalNorm = nil
            }
            invertedResidualBlocks = []
            lastConvolution = nil
            features = architecture.stageWidths.last!
            stageEndBlocks = architecture.stageWidths.indices.map {
                ($0 + 1) * architecture.blocksPerStage - 1
            }
        }
        linearWeight = parameters.declare(headName + ".weight", shape: [classes, features])
        linearBias = parameters.declare(headName + ".bias", shape: [classes])
        parameters.allocate(withGradients: withGradients)
        statistics.allocate(withGradients: false)
        initialise(seed: seed)
    }

    /// Convolutions in forward order.
    var convolutions: [ConvBNLayout] {
        var layers = [stem]
        for block in blocks {
            layers += [block.first, block.second] + (block.shortcut.map { [$0] } ?? [])
        }
        for block in preActivationBlocks {
            layers += [block.first, block.second] + (block.shortcut.map { [$0] } ?? [])
        }
        for block in invertedResidualBlocks { layers += block.convolutions }
        if let lastConvolution { layers.append(lastConvolution) }
        return layers
    }

    /// Batch norms that follow no convolution of their own.
    var standaloneNorms: [BatchNormLayout] {
        preActivationBlocks.map(\.norm) + (finalNorm.map { [$0] } ?? [])
    }

    private func initialise(seed: UInt64) {
        var random = RandomGenerator(seed: seed)
        let values = parameters.values
        for layer in convolutions {
            // PyTorch's fan_out of a [Cout, Cin / groups, k, k] weight is Cout * k * k.
            let count = layer.outChannels * layer.inChannels / layer.groups * layer.kernel
                * layer.kernel
            let std = (2.0 / Double(layer.outChannels * layer.kernel * layer.kernel)).squareRoot()
            for i in 0..<count { values[layer.weight + i] = Float(std * random.nextNormal()) }
            guard layer.batchNorm else { continue }
            for c in 0..<layer.outChannels {
                values[layer.gamma + c] = 1
                values[layer.beta + c] = 0
                statistics.values[layer.runningVariance + c] = 1
            }
        }
        for norm in standaloneNorms {
            for c in 0..<norm.channels {
                values[norm.gamma + c] = 1
                values[norm.beta + c] = 0
                statistics.values[norm.runningVariance + c] = 1
            }
        }
        let bound = 1 / Double(features).squareRoot()
        for i in 0..<(classes * features) {
            values[linearWeight + i] = Float(bound * (2 * random.nextUniform() - 1))
        }
        for k in 0..<classes {
            values[linearBias + k] = Float(bound * (2 * random.nextUniform() - 1))
        }
    }

    /// Forward FLOPs per image (multiply-add = 2) of the convolutions and the linear head.
    public func flopsPerImage(height: Int, width: Int) -> Int {
        var total = 2 * features * classes
        var size = (height, width)
        func count(_ layer: ConvBNLayout, _ input: (Int, Int)) -> (Int, Int) {
            let shape = Conv2DShape(
                inChannels: layer.inChannels, outChannels: layer.outChannels,
                kernel: layer.kernel, stride: layer.stride, padding: layer.padding,
                batch: 1, height: input.0, width: input.1, groups: layer.groups
            )
            total += shape.flopsPerImage
            return (shape.outHeight, shape.outWidth)
        }
        size = count(stem, size)
        for block in blocks {
            let input = size
            size = count(block.second, count(block.first, input))
            if let shortcut = block.shortcut { _ = count(shortcut, input) }
        }
        for block in preActivationBlocks {
            let input = size
            size = count(block.second, count(block.first, input))
            if let shortcut = block.shortcut { _ = count(shortcut, input) }
        }
        for block in invertedResidualBlocks {
            for layer in block.convolutions { size = count(layer, size) }
        }
        if let lastConvolution { _ = count(lastConvolution, size) }
        return total
    }
}

/// Declares the tensors of a model in PyTorch's naming (`layer1.0.conv1.weight`, ...).
struct LayoutBuilder {
    let parameters: ParameterStore
    let statistics: ParameterStore

    mutating func convBN(
        _ prefix: String, _ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int,
        convName: String = "conv1", bnName: String = "bn1", batchNorm: Bool = true,
        groups: Int = 1
    ) -> ConvBNLayout {
        let weight = parameters.declare(
            prefix + convName + ".weight",
            shape: [outChannels, inChannels / groups, kernel, kernel]
        )
        guard batchNorm else {
            return ConvBNLayout(
                inChannels: inChannels, outChannels: outChannels, kernel: kernel, stride: stride,
                weight: weight, gamma: -1, beta: -1, runningMean: -1, runningVariance: -1,
                batchNorm: false, groups: groups
            )
        }
        return ConvBNLayout(
            inChannels: inChannels, outChannels: outChannels, kernel: kernel, stride: stride,
            weight: weight,
            gamma: parameters.declare(prefix + bnName + ".weight", shape: [outChannels]),
            beta: parameters.declare(prefix + bnName + ".bias", shape: [outChannels]),
            runningMean: statistics.declare(prefix + bnName + ".running_mean", shape: [outChannels]),
            runningVariance: statistics.declare(
                prefix + bnName + ".running_var", shape: [outChannels]
            ),
            groups: groups
        )
    }

    mutating func stages(_ architecture: ResNetArchitecture) -> [BasicBlockLayout] {
        var blocks: [BasicBlockLayout] = []
        var channels = architecture.stemWidth
        for (stage, width) in architecture.stageWidths.enumerated() {
            for index in 0..<architecture.blocksPerStage {
                let stride = (stage > 0 && index == 0) ? 2 : 1
                let prefix = "layer\(stage + 1).\(index)."
                let first = convBN(prefix, channels, width, kernel: 3, stride: stride)
                let second = convBN(
                    prefix, width, width, kernel: 3, stride: 1, convName: "conv2", bnName: "bn2"
                )
                var shortcut: ConvBNLayout?
                if stride != 1 || channels != width {
                    shortcut = convBN(
                        prefix, channels, width, kernel: 1, stride: stride,
                        convName: "downsample.0", bnName: "downsample.1"
                    )
                }
                blocks.append(BasicBlockLayout(first: first, second: second, shortcut: shortcut))
                channels = width
            }
        }
        return blocks
    }

    mutating func batchNorm(_ name: String, _ channels: Int) -> BatchNormLayout {
        BatchNormLayout(
            channels: channels,
            gamma: parameters.declare(name + ".weight", shape: [channels]),
            beta: parameters.declare(name + ".bias", shape: [channels]),
            runningMean: statistics.declare(name + ".running_mean", shape: [channels]),
            runningVariance: statistics.declare(name + ".running_var", shape: [channels])
        )
    }

    /// Wide ResNet groups, tensors declared in forward order (`layer1.0.bn1`, `conv1`, `bn2`,
    /// `conv2`, `downsample.0`).
    mutating func preActivationStages(
        _ architecture: ResNetArchitecture
    ) -> [PreActivationBlockLayout] {
        var blocks: [PreActivationBlockLayout] = []
        var channels = architecture.stemWidth
        for (stage, width) in architecture.stageWidths.enumerated() {
            for index in 0..<architecture.blocksPerStage {
                let stride = (stage > 0 && index == 0) ? 2 : 1
                let prefix = "layer\(stage + 1).\(index)."
                let norm = batchNorm(prefix + "bn1", channels)
                let first = convBN(
                    prefix, channels, width, kernel: 3, stride: stride, bnName: "bn2"
                )
                let second = convBN(
                    prefix, width, width, kernel: 3, stride: 1, convName: "conv2",
                    batchNorm: false
                )
                var shortcut: ConvBNLayout?
                if stride != 1 || channels != width {
                    shortcut = convBN(
                        prefix, channels, width, kernel: 1, stride: stride,
                        convName: "downsample.0", batchNorm: false
                    )
                }
                blocks.append(PreActivationBlockLayout(
                    norm: norm, first: first, second: second, shortcut: shortcut
                ))
                channels = width
            }
        }
        return blocks
    }
}
