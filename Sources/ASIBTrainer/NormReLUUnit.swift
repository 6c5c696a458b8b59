// Shapes: input, output and gradients [C, B, H, W]; saved BN statistics [C].

/// Batch norm followed by ReLU for one batch size, with its activation buffers: the
/// pre-activation of a Wide ResNet block and the norm before the pooling.
final class NormReLUUnit {
    let layout: BatchNormLayout
    let perChannel: Int
    /// `relu(bn(x))` `[C, B, H, W]`.
    let output: Tensor
    let savedMean: Tensor
    let savedInverseStd: Tensor
    /// Gradient of the BN output (nil for eval-only).
    private let normalizedGradient: Tensor?
    private var input: UnsafePointer<Float>?

    init(layout: BatchNormLayout, batch: Int, height: Int, width: Int, withGradients: Bool) {
        self.layout = layout
        perChannel = batch * height * width
        let dimensions = [layout.channels, batch, height, width]
        output = Tensor(shape: dimensions)
        savedMean = Tensor(shape: [layout.channels])
        savedInverseStd = Tensor(shape: [layout.channels])
        normalizedGradient = withGradients ? Tensor(shape: dimensions) : nil
    }

    func forward(input: UnsafePointer<Float>, model: ResNetModel, training: Bool) {
        self.input = input
        let values = model.parameters.values
        let statistics = model.statistics.values
        BatchNorm2D.forward(
            output: output.data, savedMean: savedMean.data, savedInverseStd: savedInverseStd.data,
            runningMean: statistics + layout.runningMean,
            runningVariance: statistics + layout.runningVariance,
            input: input, gamma: values + layout.gamma, beta: values + layout.beta,
            channels: layout.channels, perChannel: perChannel, training: training
        )
        ReLU.forward(output: output.data, input: output.data, count: output.count)
    }

    /// Adds the gamma and beta gradients to the model and the input gradient to
    /// `inputGradient`.
    func backward(
        inputGradient: UnsafeMutablePointer<Float>,
        outputGradient: UnsafePointer<Float>,
        model: ResNetModel
    ) {
        guard let normalizedGradient, let input else {
            preconditionFailure("backward through a unit built without gradients or forward pass")
        }
        let gradients = model.parameters.gradients
        normalizedGradient.zero()
        ReLU.backward(
            inputGradient: normalizedGradient.data, outputGradient: outputGradient,
            output: output.data, count: output.count
        )
        BatchNorm2D.backward(
            inputGradient: inputGradient,
            gammaGradient: gradients + layout.gamma, betaGradient: gradients + layout.beta,
            outputGradient: normalizedGradient.data,
            savedMean: savedMean.data, savedInverseStd: savedInverseStd.data,
            input: input, gamma: model.parameters.values + layout.gamma,
            channels: layout.channels, perChannel: perChannel
        )
    }
}
