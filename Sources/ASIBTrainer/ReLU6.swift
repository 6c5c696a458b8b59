// Shapes: input, output and gradients of any shape, `count` elements.

/// The clipped rectifier `min(max(0, x), 6)` of MobileNetV2; output may alias input.
public enum ReLU6 {
    public static func forward(
        output: UnsafeMutablePointer<Float>,
        input: UnsafePointer<Float>,
        count: Int
    ) {
        for i in 0..<count { output[i] = min(max(input[i], 0), 6) }
    }

    /// Adds `dOutput` where the output lies strictly between 0 and 6. The derivative is taken
    /// from the output so the forward pass may run in place; at the kinks x = 0 and x = 6 it is
    /// 0, as in PyTorch's `hardtanh` backward.
    public static func backward(
        inputGradient: UnsafeMutablePointer<Float>,
        outputGradient: UnsafePointer<Float>,
        output: UnsafePointer<Float>,
        count: Int
    ) {
        // Two selects on loaded values instead of branches, so the loop vectorizes.
        for i in 0..<count {
            let value = output[i]
            let gradient = outputGradient[i]
            let belowSix = value < 6 ? gradient : 0
            inputGradient[i] += value > 0 ? belowSix : 0
        }
    }
}

/// The activation that follows a convolution unit's batch norm.
enum UnitActivation {
    case identity
    case relu
    case relu6

    func forward(_ values: UnsafeMutablePointer<Float>, count: Int) {
        switch self {
        case .identity: return
        case .relu: ReLU.forward(output: values, input: values, count: count)
        case .relu6: ReLU6.forward(output: values, input: values, count: count)
        }
    }

    /// Adds the input gradient for `outputGradient`, reading the derivative from `output`.
    func backward(
        inputGradient: UnsafeMutablePointer<Float>,
        outputGradient: UnsafePointer<Float>,
        output: UnsafePointer<Float>,
        count: Int
    ) {
        switch self {
        case .identity:
            for i in 0..<count { inputGradient[i] += outputGradient[i] }
        case .relu:
            ReLU.backward(
                inputGradient: inputGradient, outputGradient: outputGradient, output: output,
                count: count
            )
        case .relu6:
            ReLU6.backward(
                inputGradient: inputGradient, outputGradient: outputGradient, output: output,
                count: count
            )
        }
    }
}
