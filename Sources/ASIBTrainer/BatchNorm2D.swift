import Foundation

// Shapes: input and output [C, B, H, W], seen as C contiguous runs of N = B * H * W values;
// gamma, beta, running mean/variance, saved mean and saved inverse std [C].

/// Batch normalisation over a mini-batch, as PyTorch's `BatchNorm2d` (eps 1e-5, momentum 0.1).
public enum BatchNorm2D {
    public static let epsilon: Float = 1e-5
    public static let momentum: Float = 0.1

    /// Normalises each channel. In training mode it uses the batch statistics, saves the mean
    /// and inverse standard deviation for the backward pass, and moves the running statistics
    /// by `momentum` (running variance from the unbiased batch variance). In eval mode it uses
    /// the running statistics and leaves them alone.
    public static func forward(
        output: UnsafeMutablePointer<Float>,
        savedMean: UnsafeMutablePointer<Float>,
        savedInverseStd: UnsafeMutablePointer<Float>,
        runningMean: UnsafeMutablePointer<Float>,
        runningVariance: UnsafeMutablePointer<Float>,
        input: UnsafePointer<Float>,
        gamma: UnsafePointer<Float>,
        beta: UnsafePointer<Float>,
        channels: Int,
        perChannel n: Int,
        training: Bool
    ) {
        Parallel.forEach(channels) { c in
            let x = input + c * n
            let y = output + c * n
            var mean: Float
            var inverseStd: Float
            if training {
                let (batchMean, variance) = meanAndVariance(x, n)
                mean = batchMean
                inverseStd = 1 / (variance + epsilon).squareRoot()
                savedMean[c] = mean
                savedInverseStd[c] = inverseStd
                let unbiased = n > 1 ? variance * Float(n) / Float(n - 1) : variance
                runningMean[c] = (1 - momentum) * runningMean[c] + momentum * mean
                runningVariance[c] = (1 - momentum) * runningVariance[c] + momentum * unbiased
            } else {
                mean = runningMean[c]
                inverseStd = 1 / (runningVariance[c] + epsilon).squareRoot()
            }
            // y = gamma * (x - mean) * inverseStd + beta = scale * x + shift
            let scale = gamma[c] * inverseStd
            let shift = beta[c] - mean * scale
            for i in 0..<n { y[i] = x[i] * scale + shift }
        }
    }

    /// Adds the training-mode gradients of input, gamma and beta.
    public static func backward(
        inputGradient: UnsafeMutablePointer<Float>,
        gammaGradient: UnsafeMutablePointer<Float>,
        betaGradient: UnsafeMutablePointer<Float>,
        outputGradient: UnsafePointer<Float>,
        savedMean: UnsafePointer<Float>,
        savedInverseStd: UnsafePointer<Float>,
        input: UnsafePointer<Float>,
        gamma: UnsafePointer<Float>,
        channels: Int,
        perChannel n: Int
    ) {
        Parallel.forEach(channels) { c in
            let x = input + c * n
            let dy = outputGradient + c * n
            let dx = inputGradient + c * n
            let mean = savedMean[c]
            let inverseStd = savedInverseStd[c]

            // y = gamma * xhat + beta: dBeta = sum(dy), dGamma = sum(dy * xhat).
            let (sumDyDouble, sumDyCentered) = VectorSum.gradientSums(dy, x, mean: mean, n)
            let sumDy = Float(sumDyDouble)
            let sumDyXhat = Float(sumDyCentered) * inverseStd
            betaGradient[c] += sumDy
            gammaGradient[c] += sumDyXhat

            // xhat = (x - mean) * inverseStd with batch mean and variance:
            // dx = gamma * inverseStd * (dy - mean(dy) - xhat * mean(dy * xhat)).
            let scale = gamma[c] * inverseStd
            let meanDy = sumDy / Float(n)
            let meanDyXhat = sumDyXhat / Float(n)
            for i in 0..<n {
                let xhat = (x[i] - mean) * inverseStd
                dx[i] += scale * (dy[i] - meanDy - xhat * meanDyXhat)
            }
        }
    }

    /// Returns the mean and the biased variance, in two passes for accuracy.
    private static func meanAndVariance(_ x: UnsafePointer<Float>, _ n: Int) -> (Float, Float) {
        let mean = Float(VectorSum.sum(x, n) / Double(n))
        let squares = VectorSum.squaredDeviations(x, mean: mean, n)
        return (mean, Float(squares / Double(n)))
    }
}
