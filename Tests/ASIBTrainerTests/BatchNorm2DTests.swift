import Testing
@testable import ASIBTrainer

// Shapes: input and output [C, B, H, W] with C = 2 and N = B * H * W = 6 per channel.

private struct BatchNormFixture {
    let channels = 2
    let perChannel = 6
    let input: Tensor
    let gamma: Tensor
    let beta: Tensor
    let output: Tensor
    let savedMean = Tensor(shape: [2])
    let savedInverseStd = Tensor(shape: [2])
    let runningMean = Tensor(shape: [2])
    let runningVariance = Tensor(shape: [2], values: [1, 1])

    init(input: [Float]) {
        self.input = Tensor(shape: [12], values: input)
        gamma = Tensor(shape: [2], values: [1.5, 0.5])
        beta = Tensor(shape: [2], values: [0.25, -1])
        output = Tensor(shape: [12])
    }

    func forward(training: Bool) {
        BatchNorm2D.forward(
            output: output.data, savedMean: savedMean.data,
            savedInverseStd: savedInverseStd.data, runningMean: runningMean.data,
            runningVariance: runningVariance.data, input: input.data, gamma: gamma.data,
            beta: beta.data, channels: channels, perChannel: perChannel, training: training
        )
    }
}

@Test func batchNormTrainingNormalisesEachChannel() {
    let fixture = BatchNormFixture(input: [1, 2, 3, 4, 5, 6, 10, 10, 10, 10, 10, 16])
    fixture.forward(training: true)
    // Channel 0: mean 3.5, biased variance 35/12; y = 1.5 * (x - 3.5) / sqrt(35/12 + 1e-5) + 0.25.
    let inverseStd = 1 / (35.0 / 12 + 1e-5).squareRoot()
    #expect(abs(Double(fixture.output.values[0]) - (1.5 * -2.5 * inverseStd + 0.25)) < 1e-5)
    #expect(abs(Double(fixture.savedMean.values[1]) - 11) < 1e-6)
}

@Test func batchNormUpdatesRunningStatistics() {
    let fixture = BatchNormFixture(input: [1, 2, 3, 4, 5, 6, 10, 10, 10, 10, 10, 16])
    fixture.forward(training: true)
    // running = 0.9 * old + 0.1 * batch; the variance uses the unbiased estimate 3.5.
    #expect(abs(fixture.runningMean.values[0] - 0.35) < 1e-6)
    #expect(abs(fixture.runningVariance.values[0] - (0.9 + 0.35)) < 1e-6)
}

@Test func batchNormEvalUsesRunningStatistics() {
    let fixture = BatchNormFixture(input: [1, 2, 3, 4, 5, 6, 10, 10, 10, 10, 10, 16])
    fixture.runningMean.data[0] = 2
    fixture.runningVariance.data[0] = 4
    fixture.forward(training: false)
    // y = 1.5 * (1 - 2) / sqrt(4 + 1e-5) + 0.25
    #expect(abs(Double(fixture.output.values[0]) - (1.5 * -1 / (4 + 1e-5).squareRoot() + 0.25)) < 1e-6)
    #expect(fixture.runningMean.values[0] == 2)
}

@Test func batchNormGradientsMatchFiniteDifferences() {
    let fixture = BatchNormFixture(input: GradientCheck.random(12, seed: 3))
    let projection = GradientCheck.random(12, seed: 4)
    func loss() -> Double {
        fixture.forward(training: true)
        return GradientCheck.project(fixture.output.data, projection)
    }
    _ = loss()
    let inputGradient = Tensor(shape: [12])
    let gammaGradient = Tensor(shape: [2])
    let betaGradient = Tensor(shape: [2])
    let outputGradient = Tensor(shape: [12], values: projection)
    BatchNorm2D.backward(
        inputGradient: inputGradient.data, gammaGradient: gammaGradient.data,
        betaGradient: betaGradient.data, outputGradient: outputGradient.data,
        savedMean: fixture.savedMean.data, savedInverseStd: fixture.savedInverseStd.data,
        input: fixture.input.data, gamma: fixture.gamma.data, channels: 2, perChannel: 6
    )
    let numericInput = GradientCheck.numeric(fixture.input.data, count: 12, eps: 1e-3, loss: loss)
    let numericGamma = GradientCheck.numeric(fixture.gamma.data, count: 2, eps: 1e-3, loss: loss)
    let numericBeta = GradientCheck.numeric(fixture.beta.data, count: 2, eps: 1e-3, loss: loss)
    #expect(GradientCheck.relativeError(inputGradient.values, numericInput) < GradientCheck.tolerance)
    #expect(GradientCheck.relativeError(gammaGradient.values, numericGamma) < GradientCheck.tolerance)
    #expect(GradientCheck.relativeError(betaGradient.values, numericBeta) < GradientCheck.tolerance)
}
