// Shapes: input, output and gradients of any shape, `count` elements.

/// The rectified linear unit `max(0, x)`; output may alias input.
public enum ReLU {
    public static func forward(
        output: UnsafeMutablePointer<Float>,
        input: UnsafePointer<Float>,
        count: Int
    ) {
        for i in 0..<count { output[i] = max(input[i], 0) }
    }

    /// Adds `dOutput` where the output is positive: the derivative of max(0, x) taken from the
    /// output, so the forward pass may run in place.
    public static func backward(
        inputGradient: UnsafeMutablePointer<Float>,
        outputGradient: UnsafePointer<Float>,
        output: UnsafePointer<Float>,
        count: Int
    ) {
        for i in 0..<count where output[i] > 0 {
            inputGradient[i] += outputGradient[i]
        }
    }
}
