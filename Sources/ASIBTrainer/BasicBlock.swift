// Shapes: input [Cin, B, H, W]; output [Cout, B, Ho, Wo].

/// One BasicBlock for one batch size: `relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))`.
final class BasicBlock: ResidualBlock {
    let first: ConvBNUnit
    let second: ConvBNUnit
    let shortcut: ConvBNUnit?
    /// Block output `[Cout, B, Ho, Wo]` after the residual sum and ReLU.
    let output: Tensor
    /// Gradient of the block output, filled by the next layer.
    let outputGradient: Tensor?
    /// Gradient of the residual sum and of the first unit's output.
    private let sumGradient: Tensor?
    private let firstOutputGradient: Tensor?
    private var input: UnsafePointer<Float>?

    init(
        layout: BasicBlockLayout, batch: Int, height: Int, width: Int, withGradients: Bool,
        rounding: BFloat16Workspace? = nil
    ) {
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
        sumGradient = withGradients ? Tensor(shape: output.shape) : nil
        firstOutputGradient = withGradients ? Tensor(shape: first.output.shape) : nil
    }

    var units: [ConvBNUnit] { [first, second] + (shortcut.map { [$0] } ?? []) }

    func forward(
        input: UnsafePointer<Float>,
        model: ResNetModel,
        scratch: UnsafeMutablePointer<Float>?,
        training: Bool
    ) {
        self.input = input
        first.forward(input: input, model: model, scratch: scratch, training: training)
        second.forward(
            input: first.output.data, model: model, scratch: scratch, training: training
        )
        var residual = input
        if let shortcut {
            shortcut.forward(input: input, model: model, scratch: scratch, training: training)
            residual = UnsafePointer(shortcut.output.data)
        }
        // output = relu(second + residual)
        let count = output.count
        let main = second.output.data
        let out = output.data
        for i in 0..<count { out[i] = max(main[i] + residual[i], 0) }
    }

    /// Adds the parameter gradients to the model and the input gradient to `inputGradient`.
    func backward(
        inputGradient: UnsafeMutablePointer<Float>,
        model: ResNetModel,
        scratch: UnsafeMutablePointer<Float>?
    ) {
        guard let outputGradient, let sumGradient, let firstOutputGradient else {
            preconditionFailure("backward through a block built without gradients")
        }
        // output = relu(sum)
        sumGradient.zero()
        ReLU.backward(
            inputGradient: sumGradient.data, outputGradient: outputGradient.data,
            output: output.data, count: output.count
        )

        // sum = second(first(x)) + shortcut(x): both branches receive dSum.
        firstOutputGradient.zero()
        second.backward(
            inputGradient: firstOutputGradient.data, outputGradient: sumGradient.data,
            model: model, scratch: scratch
        )
        first.backward(
            inputGradient: inputGradient, outputGradient: firstOutputGradient.data,
            model: model, scratch: scratch
        )
        if let shortcut {
            shortcut.backward(
                inputGradient: inputGradient, outputGradient: sumGradient.data,
                model: model, scratch: scratch
            )
        } else {
            let count = sumGradient.count
            let dSum = sumGradient.data
            for i in 0..<count { inputGradient[i] += dSum[i] }
        }
    }
}
