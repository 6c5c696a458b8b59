import CBLAS

// Shapes: input [Cin, B, H, W]; weight [Cout, Cin / g, k, k]; output [Cout, B, Ho, Wo].
// The columns of one group [Cin / g * k * k, B * Ho * Wo] live in scratch shared by every
// convolution of a model.

/// A 2-D convolution without bias. With one group it is one GEMM over the whole batch:
/// `output[Cout, B*Ho*Wo] = weight[Cout, Cin*k*k] x columns[Cin*k*k, B*Ho*Wo]`. A grouped
/// convolution runs that GEMM once per group on the group's channel slices, which are
/// contiguous in the `[C, B, H, W]` layout. A depthwise one uses `DepthwiseConv2D`.
public enum Conv2D {
    /// Scratch floats the forward and backward passes need for `shape` (zero for 1x1 stride 1
    /// and for depthwise convolutions).
    public static func scratchCount(_ shape: Conv2DShape) -> Int {
        shape.isPointwise || shape.isDepthwise ? 0 : shape.patchSize * shape.outputPixels
    }

    public static func forward(
        output: UnsafeMutablePointer<Float>,
        input: UnsafePointer<Float>,
        weight: UnsafePointer<Float>,
        shape: Conv2DShape,
        scratch: UnsafeMutablePointer<Float>?,
        rounding: BFloat16Workspace? = nil
    ) {
        if shape.groups == 1 {
            forwardOneGroup(
                output: output, input: input, weight: weight, shape: shape, scratch: scratch,
                rounding: rounding
            )
            return
        }
        if shape.isDepthwise {
            var input = input
            var weight = weight
            if let rounding {
                input = rounding.rounded(input, count: shape.inputCount, slot: 0)
                weight = rounding.rounded(weight, count: shape.weightCount, slot: 1)
            }
            DepthwiseConv2D.forward(output: output, input: input, weight: weight, shape: shape)
            return
        }
        let group = shape.singleGroup
        for index in 0..<shape.groups {
            forwardOneGroup(
                output: output + index * group.outputCount,
                input: input + index * group.inputCount,
                weight: weight + index * group.weightCount, shape: group, scratch: scratch,
                rounding: rounding
            )
        }
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
        if shape.groups == 1 {
            backwardOneGroup(
                inputGradient: inputGradient, weightGradient: weightGradient,
                outputGradient: outputGradient, input: input, weight: weight, shape: shape,
                scratch: scratch, rounding: rounding
            )
            return
        }
        if shape.isDepthwise {
            backwardDepthwise(
                inputGradient: inputGradient, weightGradient: weightGradient,
                outputGradient: outputGradient, input: input, weight: weight, shape: shape,
                rounding: rounding
            )
            return
        }
        let group = shape.singleGroup
        for index in 0..<shape.groups {
            backwardOneGroup(
                inputGradient: inputGradient.map { $0 + index * group.inputCount },
                weightGradient: weightGradient + index * group.weightCount,
                outputGradient: outputGradient + index * group.outputCount,
                input: input + index * group.inputCount,
                weight: weight + index * group.weightCount, shape: group, scratch: scratch,
                rounding: rounding
            )
        }
    }

    /// Rounds the operands of each product to bfloat16 precision first when `rounding` is set,
    /// as the GEMM path does.
    private static func backwardDepthwise(
        inputGradient: UnsafeMutablePointer<Float>?,
        weightGradient: UnsafeMutablePointer<Float>,
        outputGradient: UnsafePointer<Float>,
        input: UnsafePointer<Float>,
        weight: UnsafePointer<Float>,
        shape: Conv2DShape,
        rounding: BFloat16Workspace?
    ) {
        var outputGradient = outputGradient
        var input = input
        var weight = weight
        if let rounding {
            outputGradient = rounding.rounded(outputGradient, count: shape.outputCount, slot: 0)
            input = rounding.rounded(input, count: shape.inputCount, slot: 1)
        }
        DepthwiseConv2D.backwardWeight(
            weightGradient: weightGradient, outputGradient: outputGradient, input: input,
            shape: shape
        )
        guard let inputGradient else { return }
        if let rounding {
            weight = rounding.rounded(weight, count: shape.weightCount, slot: 1)
        }
        DepthwiseConv2D.backwardInput(
            inputGradient: inputGradient, outputGradient: outputGradient, weight: weight,
            shape: shape
        )
    }

    private static func forwardOneGroup(
        output: UnsafeMutablePointer<Float>,
        input: UnsafePointer<Float>,
        weight: UnsafePointer<Float>,
        shape: Conv2DShape,
        scratch: UnsafeMutablePointer<Float>?,
        rounding: BFloat16Workspace?
    ) {
        let columns = patchMatrix(input: input, shape: shape, scratch: scratch)
        GEMM.multiply(
            output, weight, columns,
            m: shape.outChannels, n: shape.outputPixels, k: shape.patchSize, rounding: rounding
        )
    }

    private static func backwardOneGroup(
        inputGradient: UnsafeMutablePointer<Float>?,
        weightGradient: UnsafeMutablePointer<Float>,
        outputGradient: UnsafePointer<Float>,
        input: UnsafePointer<Float>,
        weight: UnsafePointer<Float>,
        shape: Conv2DShape,
        scratch: UnsafeMutablePointer<Float>?,
        rounding: BFloat16Workspace?
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
