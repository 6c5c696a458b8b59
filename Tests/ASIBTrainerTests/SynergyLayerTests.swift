import Foundation
import Testing
@testable import ASIBTrainer

// LayerNorm, GELU, multi-head attention, IB_MBM, the synergy head and the IB KL term:
// closed forms and finite-difference gradients (GradientCheck.tolerance, 1e-2 relative).
// Shapes: rows [N, D]; IB_MBM query [B, Dq], tokens [B * T, Dkv], outputs [B, E].

@Test func layerNormGradientsMatchFiniteDifferences() {
    let (rows, features) = (3, 6)
    let input = Tensor(shape: [rows, features], values: GradientCheck.random(18, seed: 61))
    let gamma = Tensor(shape: [features], values: GradientCheck.random(6, seed: 62))
    let beta = Tensor(shape: [features], values: GradientCheck.random(6, seed: 63))
    let projection = GradientCheck.random(18, seed: 64)
    let output = Tensor(shape: [rows, features])
    let normalised = Tensor(shape: [rows, features])
    let inverseStd = Tensor(shape: [rows])
    func loss() -> Double {
        LayerNorm.forward(
            output: output.data, normalised: normalised.data, inverseStd: inverseStd.data,
            input: input.data, gamma: gamma.data, beta: beta.data, rows: rows, features: features
        )
        return GradientCheck.project(output.data, projection)
    }
    _ = loss()
    let inputGradient = Tensor(shape: [rows, features])
    let gammaGradient = Tensor(shape: [features])
    let betaGradient = Tensor(shape: [features])
    LayerNorm.backward(
        inputGradient: inputGradient.data, gammaGradient: gammaGradient.data,
        betaGradient: betaGradient.data, outputGradient: projection, normalised: normalised.data,
        inverseStd: inverseStd.data, gamma: gamma.data, rows: rows, features: features
    )
    for (name, values, gradient) in [
        ("input", input, inputGradient), ("gamma", gamma, gammaGradient), ("beta", beta, betaGradient),
    ] {
        let numeric = GradientCheck.numeric(values.data, count: values.count, eps: 1e-2, loss: loss)
        let error = GradientCheck.relativeError(gradient.values, numeric)
        #expect(error < GradientCheck.tolerance, "\(name): \(error)")
    }
}

@Test func layerNormRowsHaveZeroMeanUnitVariance() {
    let input = Tensor(shape: [2, 4], values: [1, 2, 3, 4, -5, 0, 5, 10])
    let ones = Tensor(shape: [4], values: [1, 1, 1, 1])
    let zeros = Tensor(shape: [4])
    let output = Tensor(shape: [2, 4])
    let normalised = Tensor(shape: [2, 4])
    let inverseStd = Tensor(shape: [2])
    LayerNorm.forward(
        output: output.data, normalised: normalised.data, inverseStd: inverseStd.data,
        input: input.data, gamma: ones.data, beta: zeros.data, rows: 2, features: 4
    )
    for row in 0..<2 {
        let values = output.values[(row * 4)..<(row * 4 + 4)].map(Double.init)
        let mean = values.reduce(0, +) / 4
        let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / 4
        #expect(abs(mean) < 1e-6, "row \(row)")
        // Biased variance with eps 1e-5 in the denominator.
        #expect(abs(variance - 1) < 1e-4, "row \(row)")
    }
}

@Test func geluMatchesErfForm() {
    // GELU(1) = Phi(1) = 0.8413447460685429; GELU(-1) = -(1 - Phi(1)); GELU(0) = 0.
    let input = Tensor(shape: [3], values: [1, -1, 0])
    let output = Tensor(shape: [3])
    GELU.forward(output: output.data, input: input.data, count: 3)
    #expect(abs(Double(output.values[0]) - 0.8413447460685429) < 1e-6)
    #expect(abs(Double(output.values[1]) + 0.15865525393145707) < 1e-6)
    #expect(output.values[2] == 0)
}

@Test func geluGradientMatchesFiniteDifferences() {
    let input = Tensor(shape: [12], values: GradientCheck.random(12, seed: 65, scale: 2))
    let projection = GradientCheck.random(12, seed: 66)
    let output = Tensor(shape: [12])
    func loss() -> Double {
        GELU.forward(output: output.data, input: input.data, count: 12)
        return GradientCheck.project(output.data, projection)
    }
    let gradient = Tensor(shape: [12])
    GELU.backward(inputGradient: gradient.data, outputGradient: projection, input: input.data, count: 12)
    let numeric = GradientCheck.numeric(input.data, count: 12, eps: 1e-2, loss: loss)
    #expect(GradientCheck.relativeError(gradient.values, numeric) < GradientCheck.tolerance)
}

@Test(arguments: [(1, 3, 1), (2, 2, 4), (3, 1, 2)])
func attentionGradientsMatchFiniteDifferences(_ queryTokens: Int, _ keyTokens: Int, _ heads: Int) {
    let (batch, embed) = (2, 8)
    let store = ParameterStore()
    let offsets = AttentionParameters.declare("", embed: embed, in: store)
    store.allocate(withGradients: true)
    for (i, value) in GradientCheck.random(store.count, seed: 67, scale: 0.4).enumerated() {
        store.values[i] = value
    }
    let attention = MultiHeadAttention(
        embed: embed, heads: heads, batch: batch, queryTokens: queryTokens, keyTokens: keyTokens,
        parameters: offsets
    )
    let query = Tensor(
        shape: [batch * queryTokens, embed],
        values: GradientCheck.random(batch * queryTokens * embed, seed: 68)
    )
    let keyValue = Tensor(
        shape: [batch * keyTokens, embed],
        values: GradientCheck.random(batch * keyTokens * embed, seed: 69)
    )
    let projection = GradientCheck.random(batch * queryTokens * embed, seed: 70)
    func loss() -> Double {
        attention.forward(query: query.data, keyValue: keyValue.data, store: store, batch: batch)
        return GradientCheck.project(attention.output.data, projection)
    }
    _ = loss()
    let queryGradient = Tensor(shape: query.shape)
    let keyValueGradient = Tensor(shape: keyValue.shape)
    store.zeroGradients()
    attention.backward(
        queryGradient: queryGradient.data, keyValueGradient: keyValueGradient.data,
        outputGradient: projection, query: query.data, keyValue: keyValue.data, store: store,
        batch: batch
    )
    let parameterGradient = Array(UnsafeBufferPointer(start: store.gradients, count: store.count))
    let cases: [(String, UnsafeMutablePointer<Float>, Int, [Float])] = [
        ("query", query.data, query.count, queryGradient.values),
        ("keyValue", keyValue.data, keyValue.count, keyValueGradient.values),
        ("parameters", store.values, store.count, parameterGradient),
    ]
    for (name, values, count, analytic) in cases {
        let numeric = GradientCheck.numeric(values, count: count, eps: 1e-2, loss: loss)
        let error = GradientCheck.relativeError(analytic, numeric)
        #expect(error < GradientCheck.tolerance, "\(name): \(error)")
    }
}

@Test func attentionWeightsAverageIdenticalValues() {
    // With every key/value token equal, any softmax weights give that token's value, so the
    // output is out_proj(in_proj_v(token)) whatever the query.
    let (embed, tokens) = (4, 3)
    let store = ParameterStore()
    let offsets = AttentionParameters.declare("", embed: embed, in: store)
    store.allocate(withGradients: false)
    for (i, value) in GradientCheck.random(store.count, seed: 71).enumerated() { store.values[i] = value }
    let attention = MultiHeadAttention(
        embed: embed, heads: 2, batch: 1, queryTokens: 1, keyTokens: tokens, parameters: offsets
    )
    let token: [Float] = [0.5, -1, 2, 0.25]
    let keyValue = Tensor(shape: [tokens, embed], values: token + token + token)
    let single = Tensor(shape: [1, embed], values: token)
    let query = Tensor(shape: [1, embed], values: GradientCheck.random(4, seed: 72))
    attention.forward(query: query.data, keyValue: keyValue.data, store: store, batch: 1)
    let first = attention.output.values
    let one = MultiHeadAttention(
        embed: embed, heads: 2, batch: 1, queryTokens: 1, keyTokens: 1, parameters: offsets
    )
    one.forward(query: single.data, keyValue: single.data, store: store, batch: 1)
    for (a, b) in zip(first, one.output.values) { #expect(abs(a - b) < 1e-5) }
}

/// A small IB_MBM with a synergy head; the loss is CE of the head on z plus beta * IB KL.
private final class SynergyCase {
    let shape = IBMBMShape(
        queryDim: 5, keyValueDim: 4, tokens: 2, embed: 8, heads: 2, logvarClip: 0.5, minStd: 0.01
    )
    let block: IBMBM
    let head: SynergyHead
    let query = Tensor(shape: [3, 5], values: GradientCheck.random(15, seed: 81))
    let tokens = Tensor(shape: [6, 4], values: GradientCheck.random(24, seed: 82))
    var labels: [Int32] = [0, 3, 1]
    let probabilities = Tensor(shape: [3, 4])
    let beta = 0.3
    let sample: Bool

    init(sample: Bool) {
        self.sample = sample
        block = IBMBM(shape: shape, batch: 3, seed: 83)
        head = SynergyHead(
            embed: 8, classes: 4, dropout: 0, learnableTemperature: true,
            initialLogTemperature: 0.2, batch: 3, seed: 84
        )
        var random = RandomGenerator(seed: 85)
        block.drawNoise(batch: 3, random: &random)
    }

    func loss() -> Double {
        block.forward(queryFeature: query.data, teacherTokens: tokens.data, batch: 3, sample: sample)
        let logits = head.forward(z: block.z.data, batch: 3, random: nil)
        let ce = CrossEntropyLoss.forward(
            probabilities: probabilities.data, logits: logits, labels: &labels, smoothing: 0.1,
            batch: 3, classes: 4
        )
        let kl = InformationBottleneckLoss.forward(
            mu: block.mu.data, logvar: block.logvar.data, batch: 3, features: 8
        )
        return ce + beta * kl
    }

    /// Returns the analytic gradients of the block, the head, the query and the tokens.
    func gradients() -> (block: [Float], head: [Float], query: [Float], tokens: [Float]) {
        _ = loss()
        block.parameters.zeroGradients()
        head.parameters.zeroGradients()
        block.zeroOutputGradients()
        let logitGradient = Tensor(shape: [3, 4])
        CrossEntropyLoss.backward(
            logitGradient: logitGradient.data, probabilities: probabilities.data, labels: &labels,
            smoothing: 0.1, scale: 1, batch: 3, classes: 4
        )
        head.backward(zGradient: block.zGradient.data, logitGradient: logitGradient.data, z: block.z.data, batch: 3)
        InformationBottleneckLoss.backward(
            muGradient: block.muGradient.data, logvarGradient: block.logvarGradient.data,
            mu: block.mu.data, logvar: block.logvar.data, beta: beta, batch: 3, features: 8
        )
        let queryGradient = Tensor(shape: query.shape)
        let tokensGradient = Tensor(shape: tokens.shape)
        block.backward(
            queryFeatureGradient: queryGradient.data, teacherTokensGradient: tokensGradient.data,
            queryFeature: query.data, teacherTokens: tokens.data, batch: 3
        )
        return (
            Array(UnsafeBufferPointer(start: block.parameters.gradients, count: block.parameters.count)),
            Array(UnsafeBufferPointer(start: head.parameters.gradients, count: head.parameters.count)),
            queryGradient.values, tokensGradient.values
        )
    }
}

@Test(arguments: [false, true])
func ibmbmGradientsMatchFiniteDifferences(_ sample: Bool) {
    let example = SynergyCase(sample: sample)
    let analytic = example.gradients()
    let cases: [(String, UnsafeMutablePointer<Float>, Int, [Float])] = [
        ("block", example.block.parameters.values, example.block.parameters.count, analytic.block),
        ("head", example.head.parameters.values, example.head.parameters.count, analytic.head),
        ("query", example.query.data, example.query.count, analytic.query),
        ("tokens", example.tokens.data, example.tokens.count, analytic.tokens),
    ]
    for (name, values, count, gradient) in cases {
        let numeric = GradientCheck.numeric(values, count: count, eps: 1e-3, loss: example.loss)
        let error = GradientCheck.relativeError(gradient, numeric)
        #expect(error < GradientCheck.tolerance, "\(name): \(error)")
    }
}

@Test func ibmbmClampsLogvarAndSamplesOnlyWhenAsked() {
    let example = SynergyCase(sample: false)
    _ = example.loss()
    let mu = example.block.mu.values
    #expect(example.block.z.values == mu)
    #expect(example.block.logvar.values.allSatisfy { abs($0) <= 0.5 })
    #expect(example.block.logvarRaw.values.contains { abs($0) > 0.5 })

    let sampled = SynergyCase(sample: true)
    _ = sampled.loss()
    #expect(sampled.block.z.values != sampled.block.mu.values)
    for i in 0..<24 {
        let expected = sampled.block.mu.values[i] + sampled.block.std.values[i] * sampled.block.noise.values[i]
        #expect(abs(sampled.block.z.values[i] - expected) < 1e-6)
    }
}

@Test func informationBottleneckMatchesClosedForm() {
    // mu = 1, logvar = 0: k = -(1 + 0 - 1 - 1) / 2 = 0.5 per entry; 2 entries per sample.
    let mu = Tensor(shape: [2, 2], values: [1, 1, 1, 1])
    let logvar = Tensor(shape: [2, 2])
    let kl = InformationBottleneckLoss.forward(mu: mu.data, logvar: logvar.data, batch: 2, features: 2)
    #expect(abs(kl - 1) < 1e-12)
    let muGradient = Tensor(shape: [2, 2])
    let logvarGradient = Tensor(shape: [2, 2])
    InformationBottleneckLoss.backward(
        muGradient: muGradient.data, logvarGradient: logvarGradient.data, mu: mu.data,
        logvar: logvar.data, beta: 2, batch: 2, features: 2
    )
    // d/dmu = beta * mu / B = 1; d/dlogvar = beta * (e^0 - 1) / 2 / B = 0.
    #expect(muGradient.values == [1, 1, 1, 1])
    #expect(logvarGradient.values == [0, 0, 0, 0])
}

@Test func informationBottleneckBetaWarmsUp() {
    // ib_beta 5e-5 with 4 warm-up epochs: 0, 1.25e-5, 2.5e-5, 3.75e-5, 5e-5, 5e-5.
    let expected = [0, 1.25e-5, 2.5e-5, 3.75e-5, 5e-5, 5e-5]
    for (epoch, value) in expected.enumerated() {
        let beta = InformationBottleneckLoss.beta(5e-5, epoch: epoch, warmupEpochs: 4)
        #expect(abs(beta - value) < 1e-15, "epoch \(epoch)")
    }
}
