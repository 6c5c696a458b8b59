// Shapes: input [N, I] (one row per sample or token); weight [O, I]; bias [O]; output [N, O].

/// A fully connected layer on row-major activations, `output = input x weight^T + bias`, as
/// PyTorch's `nn.Linear`. `Linear` is the same layer for the feature-major `[C, B]` layout
/// that global pooling leaves.
public enum RowLinear {
    public static func forward(
        output: UnsafeMutablePointer<Float>,
        input: UnsafePointer<Float>,
        weight: UnsafePointer<Float>,
        bias: UnsafePointer<Float>,
        rows: Int,
        inFeatures: Int,
        outFeatures: Int
    ) {
        for n in 0..<rows {
            (output + n * outFeatures).update(from: bias, count: outFeatures)
        }
        // output[N, O] += input[N, I] x weight^T[I, O]
        GEMM.multiply(
            output, input, weight, m: rows, n: outFeatures, k: inFeatures, transposeB: true,
            accumulate: true
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
        rows: Int,
        inFeatures: Int,
        outFeatures: Int
    ) {
        // dBias[O] += sum over rows of dOutput[N, O]
        for n in 0..<rows {
            let row = outputGradient + n * outFeatures
            for o in 0..<outFeatures { biasGradient[o] += row[o] }
        }
        // dWeight[O, I] += dOutput^T[O, N] x input[N, I]
        GEMM.multiply(
            weightGradient, outputGradient, input, m: outFeatures, n: inFeatures, k: rows,
            transposeA: true, accumulate: true
        )
        guard let inputGradient else { return }
        // dInput[N, I] += dOutput[N, O] x weight[O, I]
        GEMM.multiply(
            inputGradient, outputGradient, weight, m: rows, n: inFeatures, k: outFeatures,
            accumulate: true
        )
    }
}
