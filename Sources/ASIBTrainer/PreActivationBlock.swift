// Shapes: input [Cin, B, H, W]; output [Cout, B, Ho, Wo].

/// One pre-activation block for one batch size: with `a = relu(bn1(x))`,
/// `conv2(relu(bn2(conv1(a)))) + shortcut`, the shortcut being `x` or `convShortcut(a)`.
final class PreActivationBlock: ResidualBlock {
    let norm: NormReLUUnit
    /// conv1 with bn2 and ReLU.
    let first: ConvBNUnit
    /// conv2 without a norm.
    let second: ConvBNUnit
    /// 1x1 convolution without a norm, where the shape changes.
    let shortcut: ConvBNUnit?
    /// Block output `[Cout, B, Ho, Wo]`, the residual sum.
    let output: Tensor
    let outputGradient: Tensor?
    /// Gradients of the pre-activated input and of the first unit's output.
    private let normGradient: Tensor?
    private let firstOutputGradient: Tensor?

    init(
        layout: PreActivationBlockLayout, batch: Int, height: Int, width: Int,
        withGradients: Bool, rounding: BFloat16Workspace? = nil
    ) {
        norm = NormReLUUnit(
            layout: layout.norm, batch: batch, height: height, width: width,
            withGradients: withGradients
        )
        first = ConvBNUnit(
            layout: layout.first, batch: batch, height: height, width: width, activation: .relu,
            withGradients: withGradients, rounding: rounding
        )
        second = ConvBNUnit(
            layout: layout.second, batch: batch, height: first.shape.outHeight,
            width: first.shape.outWidth, activation: .identity, withGradients: withGradients,
            rounding: rounding
        )
        shortcut = layout.shortcut.map {
            ConvBNUnit(
                layout: $0, batch: batch, height: height, width: width, activation: .identity,
                withGradients: withGradients, rounding: rounding
            )
        }
        output = Tensor(shape: second.output.shape)
        outputGradient = withGradients ? Tensor(shape: output.shape) : nil
        normGradient = withGradients ? Tensor(shape: norm.output.shape) : nil
        firstOutputGradient = withGradients ? Tensor(shape: first.output.shape) : nil
    }

    var units: [ConvBNUnit] { [first, second] + (shortcut.map { [$0] } ?? []) }

    func forward(
        input: UnsafePointer<Float>,
        model: ResNetModel,
        scratch: UnsafeMutablePointer<Float>?,
        training: Bool
    ) {
        norm.forward(input: input, model: model, training: training)
        let activated = UnsafePointer(norm.output.data)
        first.forward(input: activated, model: model, scratch: scratch, training: training)
        second.forward(
            input: first.output.data, model: model, scratch: scratch, training: training
        )
        var residual = input
        if let shortcut {
            shortcut.forward(input: activated, model: model, scratch: scratch, training: training)
            residual = UnsafePointer(shortcut.output.data)
        }
        let main = second.output.data
        let out = output.data
        for i in 0..<output.count { out[i] = main[i] + residual[i] }
    }

    /// Adds the parameter gradients to the model and the input gradient to `inputGradient`.
    func backward(
        inputGradient: UnsafeMutablePointer<Float>,
        model: ResNetModel,
        scratch: UnsafeMutablePointer<Float>?
    ) {
        guard let outputGradient, let normGradient, let firstOutputGradient else {
            preconditionFailure("backward through a block built without gradients")
        }
        // output = second(first(a)) + shortcut: both branches receive dOutput.
        firstOutputGradient.zero()
        second.backward(
            inputGradient: firstOutputGradient.data, outputGradient: outputGradient.data,
            model: model, scratch: scratch
        )
        normGradient.zero()
        first.backward(
            inputGradient: normGradient.data, outputGradient: firstOutputGradient.data,
            model: model, scratch: scratch
        )
        if let shortcut {
            shortcut.backward(
                inputGradient: normGradient.data, outputGradient: outputGradient.data,
                model: model, scratch: scratch
            )
        } else {
            let dOutput = outputGradient.data
            for i in 0..<outputGradient.count { inputGradient[i] += dOutput[i] }
        }
        // a = relu(bn1(x))
        norm.backward(
            inputGradient: inputGradient, outputGradient: normGradient.data, model: model
        )
    }
}

/// A residual block as the graph drives it: `BasicBlock`, `PreActivationBlock` or
/// `InvertedResidualBlock`.
protocol ResidualBlock: AnyObject {
    /// Block output `[Cout, B, Ho, Wo]`.
    var output: Tensor { get }
    /// Gradient of the block output, filled by the next layer (nil for eval-only).
    var outputGradient: Tensor? { get }
    /// Convolution units, for sizing the shared im2col scratch.
    var units: [ConvBNUnit] { get }
    func forward(
        input: UnsafePointer<Float>, model: ResNetModel, scratch: UnsafeMutablePointer<Float>?,
        training: Bool
    )
    /// Adds the parameter gradients to the model and the input gradient to `inputGradient`.
    func backward(
        inputGradient: UnsafeMutablePointer<Float>, model: ResNetModel,
        scratch: UnsafeMutablePointer<Float>?
    )
}
