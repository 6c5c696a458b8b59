// Shapes: input [Cin, B, H, W]; convolution output and unit output [Cout, B, Ho, Wo];
// saved BN statistics [Cout].

/// Convolution, batch norm (unless the layout has none) and an optional ReLU or ReLU6 for one
/// batch size, with their activation and activation-gradient buffers.
final class ConvBNUnit {
    let layout: ConvBNLayout
    let shape: Conv2DShape
    let activation: UnitActivation
    /// Convolution output `[Cout, B, Ho, Wo]`, the BN input saved for the backward pass.
    let convolutionOutput: Tensor
    /// BN output `[Cout, B, Ho, Wo]`, activated in place.
    let output: Tensor
    let savedMean: Tensor
    let savedInverseStd: Tensor
    /// Gradients of the convolution output and, with an activation, of the BN output (nil for
    /// eval-only).
    private let convolutionOutputGradient: Tensor?
    private let normalizedGradient: Tensor?
    private var input: UnsafePointer<Float>?
    /// Rounds the convolution's GEMM inputs to bfloat16 precision when set.
    let rounding: BFloat16Workspace?

    init(
        layout: ConvBNLayout, batch: Int, height: Int, width: Int, activation: UnitActivation,
        withGradients: Bool, rounding: BFloat16Workspace? = nil
    ) {
        self.layout = layout
        self.rounding = rounding
        self.activation = activation
        shape = Conv2DShape(
            inChannels: layout.inChannels, outChannels: layout.outChannels,
            kernel: layout.kernel, stride: layout.stride, padding: layout.padding,
            batch: batch, height: height, width: width, groups: layout.groups
        )
        let dimensions = [shape.outChannels, batch, shape.outHeight, shape.outWidth]
        convolutionOutput = Tensor(shape: dimensions)
        output = Tensor(shape: dimensions)
        savedMean = Tensor(shape: [shape.outChannels])
        savedInverseStd = Tensor(shape: [shape.outChannels])
        convolutionOutputGradient = withGradients ? Tensor(shape: dimensions) : nil
        normalizedGradient = withGradients && activation != .identity ? Tensor(shape: dimensions) : nil
    }

    func forward(
        input: UnsafePointer<Float>,
        model: ResNetModel,
        scratch: UnsafeMutablePointer<Float>?,
        training: Bool
    ) {
        self.input = input
        let values = model.parameters.values
        let statistics = model.statistics.values
        Conv2D.forward(
            output: convolutionOutput.data, input: input, weight: values + layout.weight,
            shape: shape, scratch: scratch, rounding: rounding
        )
        guard layout.batchNorm else {
            output.data.update(from: convolutionOutput.data, count: output.count)
            activation.forward(output.data, count: output.count)
            return
        }
        BatchNorm2D.forward(
            output: output.data, savedMean: savedMean.data, savedInverseStd: savedInverseStd.data,
            runningMean: statistics + layout.runningMean,
            runningVariance: statistics + layout.runningVariance,
            input: convolutionOutput.data, gamma: values + layout.gamma, beta: values + layout.beta,
            channels: shape.outChannels, perChannel: shape.outputPixels, training: training
        )
        activation.forward(output.data, count: output.count)
    }

    /// Adds the parameter gradients to the model and, when given, the input gradient.
    func backward(
        inputGradient: UnsafeMutablePointer<Float>?,
        outputGradient: UnsafePointer<Float>,
        model: ResNetModel,
        scratch: UnsafeMutablePointer<Float>?
    ) {
        guard let convolutionOutputGradient, let input else {
            preconditionFailure("backward through a unit built without gradients or forward pass")
        }
        let values = model.parameters.values
        let gradients = model.parameters.gradients

        // Activation: output = relu(bn) or relu6(bn)
        var bnOutputGradient = outputGradient
        if let normalizedGradient {
            normalizedGradient.zero()
            activation.backward(
                inputGradient: normalizedGradient.data, outputGradient: outputGradient,
                output: output.data, count: output.count
            )
            bnOutputGradient = UnsafePointer(normalizedGradient.data)
        }

        // BN: bn = gamma * (conv - mean) / std + beta
        convolutionOutputGradient.zero()
        if layout.batchNorm {
            BatchNorm2D.backward(
                inputGradient: convolutionOutputGradient.data,
                gammaGradient: gradients + layout.gamma, betaGradient: gradients + layout.beta,
                outputGradient: bnOutputGradient,
                savedMean: savedMean.data, savedInverseStd: savedInverseStd.data,
                input: convolutionOutput.data, gamma: values + layout.gamma,
                channels: shape.outChannels, perChannel: shape.outputPixels
            )
        } else {
            convolutionOutputGradient.data.update(from: bnOutputGradient, count: output.count)
        }

        // Convolution: conv = weight * input
        Conv2D.backward(
            inputGradient: inputGradient, weightGradient: gradients + layout.weight,
            outputGradient: convolutionOutputGradient.data, input: input,
            weight: values + layout.weight, shape: shape, scratch: scratch, rounding: rounding
        )
    }
}
