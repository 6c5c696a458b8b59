// Shapes: input, output, normalised input [N, D]; gamma, beta [D]; inverse std [N].

/// Layer normalisation over the last dimension, as PyTorch's `nn.LayerNorm(D)` (eps 1e-5,
/// biased variance): `y = gamma * (x - mean) / sqrt(var + eps) + beta` per row.
public enum LayerNorm {
    public static let epsilon = 1e-5

    /// Writes the output and saves the normalised input and the inverse standard deviation.
    public static func forward(
        output: UnsafeMutablePointer<Float>,
        normalised: UnsafeMutablePointer<Float>,
        inverseStd: UnsafeMutablePointer<Float>,
        input: UnsafePointer<Float>,
        gamma: UnsafePointer<Float>,
        beta: UnsafePointer<Float>,
        rows: Int,
        features: Int
    ) {
        for n in 0..<rows {
            let x = input + n * features
            var mean = 0.0
            for d in 0..<features { mean += Double(x[d]) }
            mean /= Double(features)
            var variance = 0.0
            for d in 0..<features {
                let centred = Double(x[d]) - mean
                variance += centred * centred
            }
            variance /= Double(features)
            let scale = 1 / (variance + epsilon).squareRoot()
            inverseStd[n] = Float(scale)
            for d in 0..<features {
                let xHat = Float((Double(x[d]) - mean) * scale)
                normalised[n * features + d] = xHat
                output[n * features + d] = gamma[d] * xHat + beta[d]
            }
        }
    }

    /// Adds the gradients of gamma, beta and the input.
    public static func backward(
        inputGradient: UnsafeMutablePointer<Float>,
        gammaGradient: UnsafeMutablePointer<Float>,
        betaGradient: UnsafeMutablePointer<Float>,
        outputGradient: UnsafePointer<Float>,
        normalised: UnsafePointer<Float>,
        inverseStd: UnsafePointer<Float>,
        gamma: UnsafePointer<Float>,
        rows: Int,
        features: Int
    ) {
        for n in 0..<rows {
            let dy = outputGradient + n * features
            let xHat = normalised + n * features
            // y = gamma * xHat + beta
            var sumGradient = 0.0
            var sumProjection = 0.0
            for d in 0..<features {
                gammaGradient[d] += dy[d] * xHat[d]
                betaGradient[d] += dy[d]
                let dXHat = Double(dy[d] * gamma[d])
                sumGradient += dXHat
                sumProjection += dXHat * Double(xHat[d])
            }
            // xHat = (x - mean) * inverseStd:
            // dx = inverseStd / D * (D * dXHat - sum(dXHat) - xHat * sum(dXHat * xHat))
            let scale = Double(inverseStd[n]) / Double(features)
            for d in 0..<features {
                let dXHat = Double(dy[d] * gamma[d])
                let value = Double(features) * dXHat - sumGradient - Double(xHat[d]) * sumProjection
                inputGradient[n * features + d] += Float(scale * value)
            }
        }
    }
}
