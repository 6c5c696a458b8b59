import Testing
@testable import ASIBTrainer

// Shapes: input [Cin, B, H, W]; weight [Cout, Cin, k, k]; output [Cout, B, Ho, Wo].

/// The 4x4 image with values 1...16 in row-major order.
private let ramp: [Float] = (1...16).map(Float.init)

private func convolve(_ input: [Float], _ weight: [Float], _ shape: Conv2DShape) -> [Float] {
    let inputTensor = Tensor(shape: [shape.inputCount], values: input)
    let weightTensor = Tensor(shape: [shape.weightCount], values: weight)
    let output = Tensor(shape: [shape.outputCount])
    let scratch = Tensor(shape: [max(1, Conv2D.scratchCount(shape))])
    Conv2D.forward(
        output: output.data, input: inputTensor.data, weight: weightTensor.data, shape: shape,
        scratch: scratch.data
    )
    return output.values
}

private func shape(
    cin: Int = 1, cout: Int = 1, k: Int = 3, stride: Int = 1, padding: Int = 1,
    batch: Int = 1, size: Int = 4
) -> Conv2DShape {
    Conv2DShape(
        inChannels: cin, outChannels: cout, kernel: k, stride: stride, padding: padding,
        batch: batch, height: size, width: size
    )
}

@Test func convOnesKernelSumsNeighbours() {
    let output = convolve(ramp, [Float](repeating: 1, count: 9), shape())
    // Hand sums of the in-image 3x3 neighbourhoods of the ramp.
    #expect(output[0] == 14)
    #expect(output[1] == 24)
    #expect(output[5] == 54)
    #expect(output[15] == 54)
}

@Test func convTopLeftKernelShiftsImage() {
    var kernel = [Float](repeating: 0, count: 9)
    kernel[0] = 1
    let output = convolve(ramp, kernel, shape())
    // Cross-correlation: out[y, x] = in[y - 1, x - 1], zero on the first row and column.
    #expect(output[0] == 0)
    #expect(output[3] == 0)
    #expect(output[5] == 1)
    #expect(output[15] == 11)
}

@Test func convStrideTwoSamplesEveryOtherPosition() {
    let output = convolve(ramp, [Float](repeating: 1, count: 9), shape(stride: 2))
    #expect(output == [14, 30, 57, 99])
}

@Test func convWithoutPaddingKeepsValidWindows() {
    let output = convolve(ramp, [Float](repeating: 1, count: 9), shape(padding: 0))
    #expect(output == [54, 63, 90, 99])
}

@Test func pointwiseConvMixesChannels() {
    // Two input channels of one 1x2 image mixed by [[1, 2], [3, 4]].
    let shape = Conv2DShape(
        inChannels: 2, outChannels: 2, kernel: 1, stride: 1, padding: 0, batch: 1,
        height: 1, width: 2
    )
    let output = convolve([1, 2, 10, 20], [1, 2, 3, 4], shape)
    #expect(output == [21, 42, 43, 86])
}

/// Checks dInput and dWeight of a convolution by central differences.
func checkConvGradients(_ shape: Conv2DShape, seed: UInt64) -> (Double, Double) {
    let input = Tensor(shape: [shape.inputCount], values: GradientCheck.random(shape.inputCount, seed: seed))
    let weight = Tensor(
        shape: [shape.weightCount], values: GradientCheck.random(shape.weightCount, seed: seed + 1)
    )
    let projection = GradientCheck.random(shape.outputCount, seed: seed + 2)
    let output = Tensor(shape: [shape.outputCount])
    let scratch = Tensor(shape: [max(1, Conv2D.scratchCount(shape))])
    func loss() -> Double {
        Conv2D.forward(
            output: output.data, input: input.data, weight: weight.data, shape: shape,
            scratch: scratch.data
        )
        return GradientCheck.project(output.data, projection)
    }
    let inputGradient = Tensor(shape: [shape.inputCount])
    let weightGradient = Tensor(shape: [shape.weightCount])
    let outputGradient = Tensor(shape: [shape.outputCount], values: projection)
    Conv2D.backward(
        inputGradient: inputGradient.data, weightGradient: weightGradient.data,
        outputGradient: outputGradient.data, input: input.data, weight: weight.data,
        shape: shape, scratch: scratch.data
    )
    let numericInput = GradientCheck.numeric(input.data, count: shape.inputCount, loss: loss)
    let numericWeight = GradientCheck.numeric(weight.data, count: shape.weightCount, loss: loss)
    return (
        GradientCheck.relativeError(inputGradient.values, numericInput),
        GradientCheck.relativeError(weightGradient.values, numericWeight)
    )
}

@Test(arguments: [
    shape(cin: 2, cout: 3, k: 3, stride: 1, padding: 1, batch: 2, size: 5),
    shape(cin: 2, cout: 3, k: 3, stride: 2, padding: 1, batch: 2, size: 5),
    shape(cin: 2, cout: 2, k: 3, stride: 2, padding: 0, batch: 2, size: 6),
    shape(cin: 3, cout: 2, k: 1, stride: 1, padding: 0, batch: 2, size: 4),
    shape(cin: 3, cout: 2, k: 1, stride: 2, padding: 0, batch: 2, size: 4),
])
func convGradientsMatchFiniteDifferences(_ shape: Conv2DShape) {
    let (inputError, weightError) = checkConvGradients(shape, seed: 11)
    #expect(inputError < GradientCheck.tolerance)
    #expect(weightError < GradientCheck.tolerance)
}

@Test func convBackwardAccumulatesIntoGradients() {
    let shape = shape(cin: 1, cout: 1, k: 3, stride: 1, padding: 1, batch: 1, size: 4)
    let input = Tensor(shape: [16], values: ramp)
    let weight = Tensor(shape: [9], values: [Float](repeating: 1, count: 9))
    let outputGradient = Tensor(shape: [16], values: [Float](repeating: 1, count: 16))
    let inputGradient = Tensor(shape: [16], values: [Float](repeating: 5, count: 16))
    let weightGradient = Tensor(shape: [9], values: [Float](repeating: 5, count: 9))
    let scratch = Tensor(shape: [Conv2D.scratchCount(shape)])
    Conv2D.backward(
        inputGradient: inputGradient.data, weightGradient: weightGradient.data,
        outputGradient: outputGradient.data, input: input.data, weight: weight.data,
        shape: shape, scratch: scratch.data
    )
    // A corner pixel feeds 4 outputs, the centre weight sees every pixel (sum 136).
    #expect(inputGradient.values[0] == 5 + 4)
    #expect(weightGradient.values[4] == 5 + 136)
}
