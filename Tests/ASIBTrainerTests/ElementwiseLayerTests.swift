import Testing
@testable import ASIBTrainer

// Gradient checks and hand values for ReLU, pooling, linear and dropout.

@Test func reluGradientMatchesFiniteDifferences() {
    // Inputs at least 0.2 away from the kink at zero, so eps 1e-2 never crosses it.
    let raw = GradientCheck.random(20, seed: 5)
    let input = Tensor(shape: [20], values: raw.map { $0 >= 0 ? $0 + 0.2 : $0 - 0.2 })
    let output = Tensor(shape: [20])
    let projection = GradientCheck.random(20, seed: 6)
    func loss() -> Double {
        ReLU.forward(output: output.data, input: input.data, count: 20)
        return GradientCheck.project(output.data, projection)
    }
    _ = loss()
    let inputGradient = Tensor(shape: [20])
    let outputGradient = Tensor(shape: [20], values: projection)
    ReLU.backward(
        inputGradient: inputGradient.data, outputGradient: outputGradient.data,
        output: output.data, count: 20
    )
    let numeric = GradientCheck.numeric(input.data, count: 20, loss: loss)
    #expect(GradientCheck.relativeError(inputGradient.values, numeric) < GradientCheck.tolerance)
}

@Test func globalAveragePoolingAveragesPlanes() {
    let input = Tensor(shape: [2, 1, 2, 2], values: [1, 2, 3, 4, 10, 20, 30, 40])
    let output = Tensor(shape: [2, 1])
    GlobalAvgPool2D.forward(output: output.data, input: input.data, planes: 2, planeSize: 4)
    #expect(output.values == [2.5, 25])
}

@Test func globalAveragePoolingGradientMatchesFiniteDifferences() {
    let input = Tensor(shape: [18], values: GradientCheck.random(18, seed: 7))
    let output = Tensor(shape: [2])
    let projection = GradientCheck.random(2, seed: 8)
    func loss() -> Double {
        GlobalAvgPool2D.forward(output: output.data, input: input.data, planes: 2, planeSize: 9)
        return GradientCheck.project(output.data, projection)
    }
    let inputGradient = Tensor(shape: [18])
    let outputGradient = Tensor(shape: [2], values: projection)
    GlobalAvgPool2D.backward(
        inputGradient: inputGradient.data, outputGradient: outputGradient.data, planes: 2,
        planeSize: 9
    )
    let numeric = GradientCheck.numeric(input.data, count: 18, loss: loss)
    #expect(GradientCheck.relativeError(inputGradient.values, numeric) < GradientCheck.tolerance)
}

@Test func averagePoolingAveragesWindows() {
    // One 4x4 plane with values 1...16 and 2x2 windows.
    let input = Tensor(shape: [1, 1, 4, 4], values: (1...16).map(Float.init))
    let output = Tensor(shape: [1, 1, 2, 2])
    AvgPool2D.forward(output: output.data, input: input.data, planes: 1, height: 4, width: 4, window: 2)
    #expect(output.values == [3.5, 5.5, 11.5, 13.5])
}

@Test func averagePoolingGradientMatchesFiniteDifferences() {
    let input = Tensor(shape: [2 * 36], values: GradientCheck.random(72, seed: 9))
    let output = Tensor(shape: [2 * 9])
    let projection = GradientCheck.random(18, seed: 10)
    func loss() -> Double {
        AvgPool2D.forward(output: output.data, input: input.data, planes: 2, height: 6, width: 6, window: 2)
        return GradientCheck.project(output.data, projection)
    }
    let inputGradient = Tensor(shape: [72])
    let outputGradient = Tensor(shape: [18], values: projection)
    AvgPool2D.backward(
        inputGradient: inputGradient.data, outputGradient: outputGradient.data, planes: 2,
        height: 6, width: 6, window: 2
    )
    let numeric = GradientCheck.numeric(input.data, count: 72, loss: loss)
    #expect(GradientCheck.relativeError(inputGradient.values, numeric) < GradientCheck.tolerance)
}

@Test func linearComputesAffineMap() {
    // Input [C=2, B=2] contains samples (1, 2) and (3, 4); weight [[1, 0], [1, 1], [0, 2]].
    let input = Tensor(shape: [2, 2], values: [1, 3, 2, 4])
    let weight = Tensor(shape: [3, 2], values: [1, 0, 1, 1, 0, 2])
    let bias = Tensor(shape: [3], values: [0.5, 0, -1])
    let output = Tensor(shape: [2, 3])
    Linear.forward(
        output: output.data, input: input.data, weight: weight.data, bias: bias.data,
        batch: 2, inFeatures: 2, outFeatures: 3
    )
    #expect(output.values == [1.5, 3, 3, 3.5, 7, 7])
}

@Test func linearGradientsMatchFiniteDifferences() {
    let (batch, inFeatures, outFeatures) = (3, 4, 5)
    let input = Tensor(shape: [inFeatures, batch], values: GradientCheck.random(12, seed: 12))
    let weight = Tensor(shape: [outFeatures, inFeatures], values: GradientCheck.random(20, seed: 13))
    let bias = Tensor(shape: [outFeatures], values: GradientCheck.random(5, seed: 14))
    let output = Tensor(shape: [batch, outFeatures])
    let projection = GradientCheck.random(15, seed: 15)
    func loss() -> Double {
        Linear.forward(
            output: output.data, input: input.data, weight: weight.data, bias: bias.data,
            batch: batch, inFeatures: inFeatures, outFeatures: outFeatures
        )
        return GradientCheck.project(output.data, projection)
    }
    let inputGradient = Tensor(shape: [12])
    let weightGradient = Tensor(shape: [20])
    let biasGradient = Tensor(shape: [5])
    let outputGradient = Tensor(shape: [15], values: projection)
    Linear.backward(
        inputGradient: inputGradient.data, weightGradient: weightGradient.data,
        biasGradient: biasGradient.data, outputGradient: outputGradient.data, input: input.data,
        weight: weight.data, batch: batch, inFeatures: inFeatures, outFeatures: outFeatures
    )
    let numericInput = GradientCheck.numeric(input.data, count: 12, loss: loss)
    let numericWeight = GradientCheck.numeric(weight.data, count: 20, loss: loss)
    let numericBias = GradientCheck.numeric(bias.data, count: 5, loss: loss)
    #expect(GradientCheck.relativeError(inputGradient.values, numericInput) < GradientCheck.tolerance)
    #expect(GradientCheck.relativeError(weightGradient.values, numericWeight) < GradientCheck.tolerance)
    #expect(GradientCheck.relativeError(biasGradient.values, numericBias) < GradientCheck.tolerance)
}

@Test func dropoutGradientWithFixedMaskMatchesFiniteDifferences() {
    let input = Tensor(shape: [10], values: GradientCheck.random(10, seed: 16))
    let mask = Tensor(shape: [10], values: [2, 0, 2, 2, 0, 0, 2, 2, 0, 2])
    let output = Tensor(shape: [10])
    let projection = GradientCheck.random(10, seed: 17)
    func loss() -> Double {
        Dropout.applyMask(output: output.data, mask: mask.data, input: input.data, count: 10)
        return GradientCheck.project(output.data, projection)
    }
    let inputGradient = Tensor(shape: [10])
    let outputGradient = Tensor(shape: [10], values: projection)
    Dropout.backward(
        inputGradient: inputGradient.data, outputGradient: outputGradient.data, mask: mask.data,
        count: 10
    )
    let numeric = GradientCheck.numeric(input.data, count: 10, loss: loss)
    #expect(GradientCheck.relativeError(inputGradient.values, numeric) < GradientCheck.tolerance)
}

@Test func dropoutMaskIsSeededAndScaled() {
    let input = Tensor(shape: [1000], values: [Float](repeating: 1, count: 1000))
    let first = Tensor(shape: [1000])
    let second = Tensor(shape: [1000])
    let mask = Tensor(shape: [1000])
    var random = RandomGenerator(seed: 42)
    Dropout.forward(
        output: first.data, mask: mask.data, input: input.data, probability: 0.25, count: 1000,
        random: &random
    )
    random = RandomGenerator(seed: 42)
    Dropout.forward(
        output: second.data, mask: mask.data, input: input.data, probability: 0.25, count: 1000,
        random: &random
    )
    let kept = first.values.filter { $0 != 0 }
    #expect(first.values == second.values)
    #expect(kept.allSatisfy { abs($0 - 4.0 / 3.0) < 1e-6 })
    #expect((650...850).contains(kept.count))
}
