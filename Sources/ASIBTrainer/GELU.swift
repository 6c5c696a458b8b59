import Foundation

// Shapes: input, output and gradients [count], any layout.

/// The exact (erf) GELU, as PyTorch's default `nn.GELU()`: `y = x * Phi(x)` with the standard
/// normal CDF `Phi(x) = (1 + erf(x / sqrt 2)) / 2`.
public enum GELU {
    public static func forward(
        output: UnsafeMutablePointer<Float>,
        input: UnsafePointer<Float>,
        count: Int
    ) {
        for i in 0..<count {
            let x = Double(input[i])
            output[i] = Float(x * 0.5 * (1 + erf(x / 2.0.squareRoot())))
        }
    }

    /// Adds `dy * (Phi(x) + x * phi(x))`, with phi the standard normal density.
    public static func backward(
        inputGradient: UnsafeMutablePointer<Float>,
        outputGradient: UnsafePointer<Float>,
        input: UnsafePointer<Float>,
        count: Int
    ) {
        let inverseRootTwoPi = 1 / (2 * Double.pi).squareRoot()
        for i in 0..<count {
            let x = Double(input[i])
            let cdf = 0.5 * (1 + erf(x / 2.0.squareRoot()))
            let density = inverseRootTwoPi * exp(-0.5 * x * x)
            inputGradient[i] += Float(Double(outputGradient[i]) * (cdf + x * density))
        }
    }
}
