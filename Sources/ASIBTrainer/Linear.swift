// Shapes: input [C, B] (feature-major, as global pooling leaves it); weight [K, C]; bias [K];
// output [B, K] (sample-major, as the losses read it).

/// A fully connected layer `output = input^T x weight^T + bias`.
public enum Linear {
    public static func forward(
        output: UnsafeMutablePointer<Float>,
        input: UnsafePointer<Float>,
        weight: UnsafePointer<Float>,
        bias: UnsafePointer<Float>,
        batch: Int,
        inFeatures: Int,
        outFeatures: Int,
        rounding: BFloat16Workspace? = nil
    ) {
        for b in 0..<batch {
            (output + b * outFeatures).update(from: bias, count: outFeatures)
        }
        // output[B, K] += input^T[B, C] x weight^T[C, K]
        GEMM.multiply(
            output, input, weight, m: batch, n: outFeatures, k: inFeatures,
            transposeA: true, transposeB: true, accumulate: true, rounding: rounding
        )
    }

    /// Adds the gradients of weight, bias and, when `inputGradient` is given, of the input.
    public static func backward(
        inputGradient: UnsafeMutablePointer<Float>?,
        weightGradient: UnsafeMutablePointer<Float>,
        biasGradient: UnsafeMutablePointer<Float>,
        outputGradient: UnsafePointer<Float>,
        input: UnsafePointer<Float>,
        weight: UnsafePointer<Float>,
        batch: Int,
        inFeatures: Int,
        outFeatures: Int,
        rounding: BFloat16Workspace? = nil
    ) {
        // dBias[K] += sum over b of dOutput[b, K]
        for b in 0..<batch {
            let row = outputGradient + b * outFeatures
            for k in 0..<outFeatures { biasGradient[k] += row[k] }
        }
        // dWeight[K, C] += dOutput^T[K, B] x input^T[B, C]
        GEMM.multiply(
            weightGradient, outputGradient, input, m: outFeatures, n: inFeatures, k: batch,
            transposeA: true, transposeB: true, accumulate: true, rounding: rounding
        )
        guard let inputGradient else { return }
        // dInput[C, B] += weight^T[C, K] x dOutput^T[K, B]
        GEMM.multiply(
            inputGradient, weight, outputGradient, m: inFeatures, n: batch, k: outFeatures,
            transposeA: true, transposeB: true, accumulate: true, rounding: rounding
        )
    }
}
