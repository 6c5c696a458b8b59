import Testing
@testable import ASIBTrainer

// Shapes: input [Cin, B, H, W]; weight [Cout, Cin / g, k, k]; output [Cout, B, Ho, Wo].

private func groupedShape(
    cin: Int, cout: Int, groups: Int, k: Int = 3, stride: Int, padding: Int, size: Int = 5
) -> Conv2DShape {
    Conv2DShape(
        inChannels: cin, outChannels: cout, kernel: k, stride: stride, padding: padding,
        batch: 2, height: size, width: size, groups: groups
    )
}

/// Computes a grouped cross-correlation from its definition by direct loops, independent of
/// im2col and of `DepthwiseConv2D`.
private func referenceConvolution(
    _ input: [Float], _ weight: [Float], _ shape: Conv2DShape
) -> [Float] {
    let (h, w, oh, ow) = (shape.height, shape.width, shape.outHeight, shape.outWidth)
    let (k, b) = (shape.kernel, shape.batch)
    let inPerGroup = shape.inChannels / shape.groups
    let outPerGroup = shape.outChannels / shape.groups
    var output = [Float](repeating: 0, count: shape.outputCount)
    for o in 0..<shape.outChannels {
        let group = o / outPerGroup
        for image in 0..<b {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    var total = 0.0
                    for j in 0..<inPerGroup {
                        let c = group * inPerGroup + j
                        for ky in 0..<k {
                            for kx in 0..<k {
                                let iy = oy * shape.stride - shape.padding + ky
                                let ix = ox * shape.stride - shape.padding + kx
                                guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                                let x = input[((c * b + image) * h + iy) * w + ix]
                                let weightIndex = ((o * inPerGroup + j) * k + ky) * k + kx
                                total += Double(x) * Double(weight[weightIndex])
                            }
                        }
                    }
                    output[((o * b + image) * oh + oy) * ow + ox] = Float(total)
                }
            }
        }
    }
    return output
}

private let groupedShapes = [
    groupedShape(cin: 3, cout: 3, groups: 3, stride: 1, padding: 1),
    groupedShape(cin: 3, cout: 3, groups: 3, stride: 2, padding: 1),
    groupedShape(cin: 2, cout: 2, groups: 2, stride: 2, padding: 0, size: 6),
    groupedShape(cin: 4, cout: 6, groups: 2, stride: 1, padding: 1),
    groupedShape(cin: 4, cout: 6, groups: 2, stride: 2, padding: 1),
    groupedShape(cin: 4, cout: 2, groups: 2, k: 1, stride: 1, padding: 0),
    // Depthwise with a channel multiplier of 2 runs through the per-group GEMM path.
    groupedShape(cin: 2, cout: 4, groups: 2, stride: 2, padding: 1),
]

@Test(arguments: groupedShapes)
func groupedConvMatchesDirectLoop(_ shape: Conv2DShape) {
    let input = GradientCheck.random(shape.inputCount, seed: 31)
    let weight = GradientCheck.random(shape.weightCount, seed: 32)
    let expected = referenceConvolution(input, weight, shape)
    let output = Tensor(shape: [shape.outputCount])
    let inputTensor = Tensor(shape: [shape.inputCount], values: input)
    let weightTensor = Tensor(shape: [shape.weightCount], values: weight)
    let scratch = Tensor(shape: [max(1, Conv2D.scratchCount(shape))])
    Conv2D.forward(
        output: output.data, input: inputTensor.data, weight: weightTensor.data, shape: shape,
        scratch: scratch.data
    )
    // Float32 sums of at most 18 products of unit normals: 1e-5 absolute is ample.
    let maxDifference = zip(output.values, expected).map { abs($0 - $1) }.max() ?? 0
    #expect(maxDifference < 1e-5)
}

@Test(arguments: groupedShapes)
func groupedConvGradientsMatchFiniteDifferences(_ shape: Conv2DShape) {
    let (inputError, weightError) = checkConvGradients(shape, seed: 41)
    #expect(inputError < GradientCheck.tolerance)
    #expect(weightError < GradientCheck.tolerance)
}

@Test func groupedConvWeightHasPyTorchLayout() {
    let shape = groupedShape(cin: 4, cout: 6, groups: 2, stride: 1, padding: 1)
    #expect(shape.patchSize == 2 * 9)
    #expect(shape.weightCount == 6 * 2 * 9)
    #expect(shape.isDepthwise == false)
    let depthwise = groupedShape(cin: 8, cout: 8, groups: 8, stride: 2, padding: 1)
    #expect(depthwise.weightCount == 8 * 9)
    #expect(depthwise.isDepthwise)
    #expect(Conv2D.scratchCount(depthwise) == 0)
    // Each of the 6 x 25 outputs sums (Cin / g) * 9 = 18 products, and FLOPs count 2 per
    // multiply-add.
    #expect(shape.flopsPerImage == 2 * 6 * 18 * 25)
}

@Test func depthwiseBackwardAccumulatesIntoGradients() {
    // Two 4x4 channels with values 1...16, all-ones 3x3 kernels and output gradient, padding 1.
    let depthwise = Conv2DShape(
        inChannels: 2, outChannels: 2, kernel: 3, stride: 1, padding: 1, batch: 1,
        height: 4, width: 4, groups: 2
    )
    let ramp: [Float] = (1...16).map(Float.init)
    let input = Tensor(shape: [32], values: ramp + ramp)
    let weight = Tensor(shape: [18], values: [Float](repeating: 1, count: 18))
    let outputGradient = Tensor(shape: [32], values: [Float](repeating: 1, count: 32))
    let inputGradient = Tensor(shape: [32], values: [Float](repeating: 5, count: 32))
    let weightGradient = Tensor(shape: [18], values: [Float](repeating: 5, count: 18))
    Conv2D.backward(
        inputGradient: inputGradient.data, weightGradient: weightGradient.data,
        outputGradient: outputGradient.data, input: input.data, weight: weight.data,
        shape: depthwise, scratch: nil
    )
    // In both channels a corner pixel feeds 4 outputs, and the centre weight multiplies every
    // pixel (sum 136).
    #expect(inputGradient.values[0] == 5 + 4)
    #expect(inputGradient.values[16] == 5 + 4)
    #expect(weightGradient.values[4] == 5 + 136)
    #expect(weightGradient.values[13] == 5 + 136)
    // The top-left weight multiplies the pixels of rows and columns 0...2:
    // 1+2+3+5+6+7+9+10+11.
    #expect(weightGradient.values[0] == 5 + 54)
}

/// Compares one depthwise convolution (4 channels, 2 images of 7x7, 3x3 kernel, stride 2,
/// padding 1) with PyTorch's `conv2d(groups=4)`, computed in float64 by
/// scripts/fixtures/make_reference.py into Fixtures/depthwise_step. The output must agree
/// within 1e-5 absolute, and the gradients of `sum(output * projection)` within 1e-4
/// L2-relative per tensor.
@Test func depthwiseConvMatchesPyTorch() throws {
    let fixture = try FixtureFile("depthwise_step")
    let channels = try fixture.integer("channels")
    let size = try fixture.integer("size")
    let shape = Conv2DShape(
        inChannels: channels, outChannels: channels, kernel: try fixture.integer("kernel"),
        stride: try fixture.integer("stride"), padding: try fixture.integer("padding"),
        batch: try fixture.integer("batch"), height: size, width: size, groups: channels
    )
    #expect(shape.isDepthwise)
    let input = Tensor(shape: [shape.inputCount], values: try fixture.tensor("input"))
    let weight = Tensor(shape: [shape.weightCount], values: try fixture.tensor("weight"))
    let projection = Tensor(shape: [shape.outputCount], values: try fixture.tensor("projection"))
    let output = Tensor(shape: [shape.outputCount])
    Conv2D.forward(
        output: output.data, input: input.data, weight: weight.data, shape: shape, scratch: nil
    )
    let expected = try fixture.tensor("output")
    let maxDifference = zip(output.values, expected).map { abs($0 - $1) }.max() ?? 0
    #expect(maxDifference < 1e-5)
    let loss = GradientCheck.project(output.data, projection.values)
    #expect(abs(loss - (try fixture.scalar("step", "loss"))) < 1e-4)

    let inputGradient = Tensor(shape: [shape.inputCount])
    let weightGradient = Tensor(shape: [shape.weightCount])
    Conv2D.backward(
        inputGradient: inputGradient.data, weightGradient: weightGradient.data,
        outputGradient: projection.data, input: input.data, weight: weight.data, shape: shape,
        scratch: nil
    )
    let expectedInput = try fixture.tensor("grad.input").map(Double.init)
    let expectedWeight = try fixture.tensor("grad.weight").map(Double.init)
    #expect(GradientCheck.relativeError(inputGradient.values, expectedInput) < 1e-4)
    #expect(GradientCheck.relativeError(weightGradient.values, expectedWeight) < 1e-4)
}

/// With a bfloat16 workspace, a depthwise convolution must compute exactly what it computes in
/// float32 on operands rounded to bfloat16 beforehand, as the GEMM path does.
@Test func depthwiseRoundingMatchesRoundedOperands() {
    let shape = groupedShape(cin: 3, cout: 3, groups: 3, stride: 2, padding: 1)
    let input = GradientCheck.random(shape.inputCount, seed: 71)
    let weight = GradientCheck.random(shape.weightCount, seed: 72)
    let outputGradient = GradientCheck.random(shape.outputCount, seed: 73)

    func run(_ input: [Float], _ weight: [Float], _ outputGradient: [Float], rounding: Bool)
        -> (output: [Float], inputGradient: [Float], weightGradient: [Float])
    {
        let inputTensor = Tensor(shape: [shape.inputCount], values: input)
        let weightTensor = Tensor(shape: [shape.weightCount], values: weight)
        let gradientTensor = Tensor(shape: [shape.outputCount], values: outputGradient)
        let output = Tensor(shape: [shape.outputCount])
        let inputGradient = Tensor(shape: [shape.inputCount])
        let weightGradient = Tensor(shape: [shape.weightCount])
        let workspace = rounding ? BFloat16Workspace() : nil
        Conv2D.forward(
            output: output.data, input: inputTensor.data, weight: weightTensor.data,
            shape: shape, scratch: nil, rounding: workspace
        )
        Conv2D.backward(
            inputGradient: inputGradient.data, weightGradient: weightGradient.data,
            outputGradient: gradientTensor.data, input: inputTensor.data,
            weight: weightTensor.data, shape: shape, scratch: nil, rounding: workspace
        )
        #expect(inputTensor.values == input)
        #expect(weightTensor.values == weight)
        return (output.values, inputGradient.values, weightGradient.values)
    }

    let reduced = run(input, weight, outputGradient, rounding: true)
    let rounded = run(
        input.map(BFloat16.round), weight.map(BFloat16.round), outputGradient.map(BFloat16.round),
        rounding: false
    )
    let exact = run(input, weight, outputGradient, rounding: false)
    #expect(reduced.output == rounded.output)
    #expect(reduced.inputGradient == rounded.inputGradient)
    #expect(reduced.weightGradient == rounded.weightGradient)
    #expect(reduced.output != exact.output)
}
