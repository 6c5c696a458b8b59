// Shapes: input [Cin, B, H, W]; expanded [t * Cin, B, H, W]; depthwise output
// [t * Cin, B, Ho, Wo]; output [Cout, B, Ho, Wo].

/// A MobileNetV2 inverted residual block: 1x1 expansion conv-BN-ReLU6 (absent when the factor is
/// 1), 3x3 depthwise conv-BN-ReLU6 with the block's stride, 1x1 projection conv-BN, plus the
/// input when `residual` (stride 1 and Cin == Cout). There is no activation after the sum.
struct InvertedResidualLayout {
    let expansion: ConvBNLayout?
    let depthwise: ConvBNLayout
    let projection: ConvBNLayout
    let residual: Bool

    /// Convolutions in forward order.
    var convolutions: [ConvBNLayout] {
        (expansion.map { [$0] } ?? []) + [depthwise, projection]
    }
}

extension LayoutBuilder {
    /// Declares the blocks of every row in torchvision's names: `features.i.conv.0.0` (the
    /// expansion or, with factor 1, the depthwise convolution), its BN `conv.0.1`, and so on up
    /// to the projection `conv.2` with BN `conv.3` (`conv.1` and `conv.2` with factor 1).
    mutating func invertedResidualBlocks(
        _ settings: MobileNetV2Settings
    ) -> [InvertedResidualLayout] {
        var blocks: [InvertedResidualLayout] = []
        var channels = settings.stemWidth
        for row in settings.rows {
            for index in 0..<row.count {
                let stride = index == 0 ? row.stride : 1
                let prefix = "features.\(blocks.count + 1).conv."
                let hidden = channels * row.expansion
                var expansion: ConvBNLayout?
                var next = 0
                if row.expansion != 1 {
                    expansion = convBN(
                        prefix, channels, hidden, kernel: 1, stride: 1, convName: "0.0",
                        bnName: "0.1"
                    )
                    next = 1
                }
                let depthwise = convBN(
                    prefix, hidden, hidden, kernel: 3, stride: stride, convName: "\(next).0",
                    bnName: "\(next).1", groups: hidden
                )
                let projection = convBN(
                    prefix, hidden, row.channels, kernel: 1, stride: 1, convName: "\(next + 1)",
                    bnName: "\(next + 2)"
                )
                blocks.append(InvertedResidualLayout(
                    expansion: expansion, depthwise: depthwise, projection: projection,
                    residual: stride == 1 && channels == row.channels
                ))
                channels = row.channels
            }
        }
        return blocks
    }
}

/// One inverted residual block for one batch size.
final class InvertedResidualBlock: ResidualBlock {
    let layout: InvertedResidualLayout
    let expansion: ConvBNUnit?
    let depthwise: ConvBNUnit
    let projection: ConvBNUnit
    /// Block output `[Cout, B, Ho, Wo]`: the projection plus the input when `layout.residual`.
    let output: Tensor
    let outputGradient: Tensor?
    /// Gradients of the expansion output and of the depthwise output.
    private let expandedGradient: Tensor?
    private let depthwiseGradient: Tensor?

    init(
        layout: InvertedResidualLayout, batch: Int, height: Int, width: Int,
        withGradients: Bool, rounding: BFloat16Workspace? = nil
    ) {
        self.layout = layout
        expansion = layout.expansion.map {
            ConvBNUnit(
                layout: $0, batch: batch, height: height, width: width, activation: .relu6,
                withGradients: withGradients, rounding: rounding
            )
        }
        depthwise = ConvBNUnit(
            layout: layout.depthwise, batch: batch, height: height, width: width,
            activation: .relu6, withGradients: withGradients, rounding: rounding
        )
        projection = ConvBNUnit(
            layout: layout.projection, batch: batch, height: depthwise.shape.outHeight,
            width: depthwise.shape.outWidth, activation: .identity,
            withGradients: withGradients, rounding: rounding
        )
        output = Tensor(shape: projection.output.shape)
        outputGradient = withGradients ? Tensor(shape: output.shape) : nil
        expandedGradient = withGradients ? expansion.map { Tensor(shape: $0.output.shape) } : nil
        depthwiseGradient = withGradients ? Tensor(shape: depthwise.output.shape) : nil
    }

    var units: [ConvBNUnit] { (expansion.map { [$0] } ?? []) + [depthwise, projection] }

    func forward(
        input: UnsafePointer<Float>,
        model: ResNetModel,
        scratch: UnsafeMutablePointer<Float>?,
        training: Bool
    ) {
        var current = input
        if let expansion {
            expansion.forward(input: current, model: model, scratch: scratch, training: training)
            current = UnsafePointer(expansion.output.data)
        }
        depthwise.forward(input: current, model: model, scratch: scratch, training: training)
        projection.forward(
            input: depthwise.output.data, model: model, scratch: scratch, training: training
        )
        output.data.update(from: projection.output.data, count: output.count)
        if layout.residual {
            let out = output.data
            for i in 0..<output.count { out[i] += input[i] }
        }
    }

    /// Adds the parameter gradients to the model and the input gradient to `inputGradient`.
    func backward(
        inputGradient: UnsafeMutablePointer<Float>,
        model: ResNetModel,
        scratch: UnsafeMutablePointer<Float>?
    ) {
        guard let outputGradient, let depthwiseGradient else {
            preconditionFailure("backward through a block built without gradients")
        }
        // output = projection(depthwise(expansion(x))) + x: both terms receive dOutput.
        depthwiseGradient.zero()
        projection.backward(
            inputGradient: depthwiseGradient.data, outputGradient: outputGradient.data,
            model: model, scratch: scratch
        )
        if let expansion, let expandedGradient {
            expandedGradient.zero()
            depthwise.backward(
                inputGradient: expandedGradient.data, outputGradient: depthwiseGradient.data,
                model: model, scratch: scratch
            )
            expansion.backward(
                inputGradient: inputGradient, outputGradient: expandedGradient.data,
                model: model, scratch: scratch
            )
        } else {
            depthwise.backward(
                inputGradient: inputGradient, outputGradient: depthwiseGradient.data,
                model: model, scratch: scratch
            )
        }
        if layout.residual {
            let dOutput = outputGradient.data
            for i in 0..<outputGradient.count { inputGradient[i] += dOutput[i] }
        }
    }
}
