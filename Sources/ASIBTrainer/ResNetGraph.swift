// Shapes: input [Cin, B, H, W]; block outputs [C, B, H', W']; pooled features [C, B];
// logits [B, K].

/// The activations of a `ResNetModel` for one batch size and image size, allocated once and
/// reused by every step, with the forward and backward drivers.
public final class ResNetGraph {
    public let model: ResNetModel
    public let batch: Int
    let stem: ConvBNUnit
    let blocks: [any ResidualBlock]
    /// The BN-ReLU before the pooling of a pre-activation architecture.
    let finalNorm: NormReLUUnit?
    /// Gradient of the final norm's output.
    private let finalNormGradient: Tensor?
    /// The 1x1 conv-BN-ReLU6 before the pooling of a MobileNetV2, and its output gradient.
    let lastConvolution: ConvBNUnit?
    private let lastConvolutionGradient: Tensor?
    /// `H * W` of the map that the global average pooling reads.
    private let poolingPlaneSize: Int
    /// Pooled features `[C, B]` and their gradient.
    let pooled: Tensor
    let pooledGradient: Tensor?
    /// Logits `[B, K]`.
    public let logits: Tensor
    /// Stem output gradient `[C, B, H, W]`.
    private let stemOutputGradient: Tensor?
    /// im2col matrix shared by every convolution.
    private let scratch: Tensor
    /// Rounds the inputs of every GEMM to bfloat16 precision; nil computes in float32.
    let rounding: BFloat16Workspace?

    /// Builds the buffers for one batch size. `bfloat16` rounds the inputs of every matrix
    /// product, forward and backward, to bfloat16 precision (mixed-precision training).
    public init(
        model: ResNetModel, batch: Int, height: Int, width: Int, withGradients: Bool,
        bfloat16: Bool = false
    ) {
        self.model = model
        self.batch = batch
        let rounding = bfloat16 ? BFloat16Workspace() : nil
        self.rounding = rounding
        let stemActivation: UnitActivation = model.architecture.mobileNetV2 != nil
            ? .relu6 : model.architecture.preActivation ? .identity : .relu
        stem = ConvBNUnit(
            layout: model.stem, batch: batch, height: height, width: width,
            activation: stemActivation, withGradients: withGradients, rounding: rounding
        )
        var blocks: [any ResidualBlock] = []
        var size = (stem.shape.outHeight, stem.shape.outWidth)
        for layout in model.blocks {
            let block = BasicBlock(
                layout: layout, batch: batch, height: size.0, width: size.1,
                withGradients: withGradients, rounding: rounding
            )
            blocks.append(block)
            size = (block.second.shape.outHeight, block.second.shape.outWidth)
        }
        for layout in model.preActivationBlocks {
            let block = PreActivationBlock(
                layout: layout, batch: batch, height: size.0, width: size.1,
                withGradients: withGradients, rounding: rounding
            )
            blocks.append(block)
            size = (block.second.shape.outHeight, block.second.shape.outWidth)
        }
        for layout in model.invertedResidualBlocks {
            let block = InvertedResidualBlock(
                layout: layout, batch: batch, height: size.0, width: size.1,
                withGradients: withGradients, rounding: rounding
            )
            blocks.append(block)
            size = (block.projection.shape.outHeight, block.projection.shape.outWidth)
        }
        self.blocks = blocks
        finalNorm = model.finalNorm.map {
            NormReLUUnit(
                layout: $0, batch: batch, height: size.0, width: size.1,
                withGradients: withGradients
            )
        }
        finalNormGradient = withGradients ? finalNorm.map { Tensor(shape: $0.output.shape) } : nil
        let lastConvolution = model.lastConvolution.map {
            ConvBNUnit(
                layout: $0, batch: batch, height: size.0, width: size.1, activation: .relu6,
                withGradients: withGradients, rounding: rounding
            )
        }
        self.lastConvolution = lastConvolution
        lastConvolutionGradient = withGradients
            ? lastConvolution.map { Tensor(shape: $0.output.shape) } : nil
        poolingPlaneSize = lastConvolution.map { $0.shape.outHeight * $0.shape.outWidth }
            ?? size.0 * size.1
        pooled = Tensor(shape: [model.features, batch])
        pooledGradient = withGradients ? Tensor(shape: pooled.shape) : nil
        logits = Tensor(shape: [batch, model.classes])
        stemOutputGradient = withGradients ? Tensor(shape: stem.output.shape) : nil
        let units = [stem] + blocks.flatMap(\.units) + (lastConvolution.map { [$0] } ?? [])
        scratch = Tensor(shape: [units.map { Conv2D.scratchCount($0.shape) }.max() ?? 0])
    }

    /// Runs the network on `input` `[Cin, B, H, W]` and returns the logits `[B, K]`.
    @discardableResult
    public func forward(input: UnsafePointer<Float>, training: Bool) -> UnsafeMutablePointer<Float> {
        stem.forward(input: input, model: model, scratch: scratch.data, training: training)
        var current = UnsafePointer(stem.output.data)
        for block in blocks {
            block.forward(input: current, model: model, scratch: scratch.data, training: training)
            current = UnsafePointer(block.output.data)
        }
        if let finalNorm {
            finalNorm.forward(input: current, model: model, training: training)
            current = UnsafePointer(finalNorm.output.data)
        }
        if let lastConvolution {
            lastConvolution.forward(
                input: current, model: model, scratch: scratch.data, training: training
            )
            current = UnsafePointer(lastConvolution.output.data)
        }
        GlobalAvgPool2D.forward(
            output: pooled.data, input: current, planes: model.features * batch,
            planeSize: poolingPlaneSize
        )
        Linear.forward(
            output: logits.data, input: pooled.data,
            weight: model.parameters.values + model.linearWeight,
            bias: model.parameters.values + model.linearBias,
            batch: batch, inFeatures: model.features, outFeatures: model.classes,
            rounding: rounding
        )
        return logits.data
    }

    /// Adds the gradients of all parameters for `logitGradient` `[B, K]` to the model's
    /// gradient buffer; call after `forward(training: true)` on the same input.
    /// `featureGradients` adds loss gradients that reach the pooled feature or stage outputs
    /// directly (feature distillation).
    public func backward(
        logitGradient: UnsafePointer<Float>,
        featureGradients: FeatureGradients = FeatureGradients()
    ) {
        guard let pooledGradient, let stemOutputGradient else {
            preconditionFailure("backward through a graph built without gradients")
        }
        let parameters = model.parameters

        // Head: logits = pooled^T x weight^T + bias
        pooledGradient.zero()
        Linear.backward(
            inputGradient: pooledGradient.data,
            weightGradient: parameters.gradients + model.linearWeight,
            biasGradient: parameters.gradients + model.linearBias,
            outputGradient: logitGradient, input: pooled.data,
            weight: parameters.values + model.linearWeight,
            batch: batch, inFeatures: model.features, outFeatures: model.classes,
            rounding: rounding
        )
        if let extra = featureGradients.pooled {
            for i in 0..<pooledGradient.count { pooledGradient.data[i] += extra[i] }
        }

        // Global average pooling onto the last block's output gradient, through the final
        // BN-ReLU or the last convolution where there is one.
        let lastGradient = blocks.last?.outputGradient ?? stemOutputGradient
        lastGradient.zero()
        let pooledInputGradient = finalNormGradient ?? lastConvolutionGradient ?? lastGradient
        pooledInputGradient.zero()
        GlobalAvgPool2D.backward(
            inputGradient: pooledInputGradient.data, outputGradient: pooledGradient.data,
            planes: model.features * batch, planeSize: poolingPlaneSize
        )
        if let finalNorm, let finalNormGradient {
            finalNorm.backward(
                inputGradient: lastGradient.data, outputGradient: finalNormGradient.data,
                model: model
            )
        }
        if let lastConvolution, let lastConvolutionGradient {
            lastConvolution.backward(
                inputGradient: lastGradient.data, outputGradient: lastConvolutionGradient.data,
                model: model, scratch: scratch.data
            )
        }

        // Blocks in reverse; each adds into the previous block's output gradient.
        for index in blocks.indices.reversed() {
            addStageGradient(featureGradients, intoOutputOf: index)
            let target = index > 0 ? blocks[index - 1].outputGradient! : stemOutputGradient
            target.zero()
            blocks[index].backward(inputGradient: target.data, model: model, scratch: scratch.data)
        }
        stem.backward(
            inputGradient: nil, outputGradient: stemOutputGradient.data, model: model,
            scratch: scratch.data
        )
    }
}
