// Shapes: input, output, mask and gradients of any shape, `count` elements.

/// Inverted dropout: each element is kept with probability `1 - p` and scaled by `1 / (1 - p)`.
public enum Dropout {
    /// Draws a fresh mask of `0` or `1 / (1 - p)` from `random` and applies it.
    public static func forward(
        output: UnsafeMutablePointer<Float>,
        mask: UnsafeMutablePointer<Float>,
        input: UnsafePointer<Float>,
        probability p: Double,
        count: Int,
        random: inout RandomGenerator
    ) {
        precondition(p >= 0 && p < 1, "dropout probability \(p) is outside [0, 1)")
        let keptScale = Float(1 / (1 - p))
        for i in 0..<count {
            mask[i] = random.nextUniform() < p ? 0 : keptScale
        }
        applyMask(output: output, mask: mask, input: input, count: count)
    }

    /// Applies a given mask: `output = input * mask`.
    public static func applyMask(
        output: UnsafeMutablePointer<Float>,
        mask: UnsafePointer<Float>,
        input: UnsafePointer<Float>,
        count: Int
    ) {
        for i in 0..<count { output[i] = input[i] * mask[i] }
    }

    /// Adds `dOutput * mask`.
    public static func backward(
        inputGradient: UnsafeMutablePointer<Float>,
        outputGradient: UnsafePointer<Float>,
        mask: UnsafePointer<Float>,
        count: Int
    ) {
        for i in 0..<count { inputGradient[i] += outputGradient[i] * mask[i] }
    }
}
