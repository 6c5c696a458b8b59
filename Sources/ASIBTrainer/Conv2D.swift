import CBLAS

// Shapes: input [Cin, B, H, W]; weight [Cout, Cin, k, k]; output [Cout, B, Ho, Wo];
// columns [Cin * k * k, B * Ho * Wo] (scratch shared by every convolution of a model).

/// A 2-D convolution without bias, computed as one GEMM over the whole batch:
/// `output[Cout, B*Ho*Wo] = weight[Cout, Cin*k*k] x columns[Cin*k*k, B*Ho*Wo]`.
public enum Conv2D {
    /// Scratch floats the forward and backward passes need for `shape` (zero for 1x1 stride 1).
    public static func scratchCount(_ shape: Conv2DShape) -> Int {
        shape.isPointwise ? 0 : shape.patchSize * shape.outputPixels
    }

    public static func forward(
        output: UnsafeMutablePointer<Float>,
        input: UnsafePointer<Float>,
        weight: UnsafePointer<Float>,
        shape: Conv2DShape,
        scratch: UnsafeMutablePointer<Float>?,
        rounding: BFloat16Workspace? = nil
    ) {
        let columns = patchMatrix(input: input, shape: shape, scratch: scratch)
        GEMM.multiply(
            output, weight, columns,
            m: shape.outChannels, n: shape.outputPixels, k: shape.patchSize, rounding: rounding
        )
    }

    /// Adds the gradients of the weight and, when `inputGradient` is given, of the input.
    /// A `rounding` workspace rounds the inputs of every product to bfloat16 precision.
    public static func backward(
        inputGradient: UnsafeMutablePointer<Float>?,
        weightGradient: UnsafeMutablePointer<Float>,
        outputGradient: UnsafePointer<Float>,
        input: UnsafePointer<Float>,
        weight: UnsafePointer<Float>,
        shape: Conv2DShape,
        scratch: UnsafeMutablePointer<Float>?,
        rounding: BFloat16Workspace? = nil
    ) {
        let (m, n, k) = (shape.outChannels, shape.outputPixels, shape.patchSize)

        // Weight: output = weight x columns, so dWeight += dOutput x columns^T.
        let columns = patchMatrix(input: input, shape: shape, scratch: scratch)
        GEMM.multiply(
            weightGradient, outputGradient, columns, m: m, n: k, k: n,
            transposeB: true, accumulate: true, rounding: rounding
        )
        guard let inputGradient else { return }

        // Input: dColumns = weight^T x dOutput, folded back onto the input positions.
        if shape.isPointwise {
            GEMM.multiply(
                inputGradient, weight, outputGradient, m: k, n: n, k: m,
                transposeA: true, accumulate: true, rounding: rounding
            )
            return
        }
        let columnGradient = scratch!
        GEMM.multiply(
            columnGradient, weight, outputGradient, m: k, n: n, k: m, transposeA: true,
            rounding: rounding
        )
        Im2Col.fold(inputGradient: inputGradient, columns: columnGradient, shape: shape)
    }

    private static func patchMatrix(
        input: UnsafePointer<Float>,
        shape: Conv2DShape,
        scratch: UnsafeMutablePointer<Float>?
    ) -> UnsafePointer<Float> {
        if shape.isPointwise { return input }
        guard let scratch else { preconditionFailure("convolution \(shape) needs a scratch buffer") }
        Im2Col.unfold(columns: scratch, input: input, shape: shape)
        return UnsafePointer(scratch)
    }
}
