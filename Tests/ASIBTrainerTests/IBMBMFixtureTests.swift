import Foundation
import Testing
@testable import ASIBTrainer

// One IB_MBM + synergy-head step compared with PyTorch (Fixtures/ibmbm_step, written by
// scripts/fixtures/make_reference.py in float64): CE of the head on z plus beta times the IB
// KL, once with z = mu and once with z = mu + std * noise for the stored noise.
// Tolerance 1e-4 relative for outputs and losses, 1e-4 L2-relative per gradient tensor.

private let tolerance = 1e-4

@Test(arguments: ["mean", "sample"])
func ibmbmStepMatchesPyTorch(_ step: String) throws {
    let fixture = try FixtureFile("ibmbm_step")
    let batch = try fixture.integer("batch")
    let classes = try fixture.integer("classes")
    let embed = try fixture.integer("embed")
    let shape = IBMBMShape(
        queryDim: try fixture.integer("query_dim"), keyValueDim: try fixture.integer("kv_dim"),
        tokens: try fixture.integer("tokens"), embed: embed, heads: try fixture.integer("heads"),
        logvarClip: try fixture.number("logvar_clip"), minStd: try fixture.number("min_std")
    )
    let block = IBMBM(shape: shape, batch: batch, seed: 0)
    let head = SynergyHead(
        embed: embed, classes: classes, dropout: 0, learnableTemperature: true,
        initialLogTemperature: 0, batch: batch, seed: 0
    )
    for (prefix, store) in [("block", block.parameters), ("head", head.parameters)] {
        for entry in store.entries {
            let weights = try fixture.tensor("weight.\(prefix).\(entry.name)")
            try #require(weights.count == entry.count, "size of \(prefix).\(entry.name)")
            for i in 0..<entry.count { store.values[entry.offset + i] = weights[i] }
        }
    }
    let query = Tensor(shape: [batch, shape.queryDim], values: try fixture.tensor("query"))
    let tokens = Tensor(
        shape: [batch * shape.tokens, shape.keyValueDim], values: try fixture.tensor("tokens")
    )
    let noise = try fixture.tensor("noise")
    for i in 0..<noise.count { block.noise.data[i] = noise[i] }
    var labels = fixture.manifest.labels
    let smoothing = try fixture.number("label_smoothing")
    let beta = try fixture.number("ib_beta")

    // Forward: z, logits, CE + beta * KL.
    block.forward(queryFeature: query.data, teacherTokens: tokens.data, batch: batch, sample: step == "sample")
    let logits = head.forward(z: block.z.data, batch: batch, random: nil)
    let probabilities = Tensor(shape: [batch, classes])
    let ce = CrossEntropyLoss.forward(
        probabilities: probabilities.data, logits: logits, labels: &labels, smoothing: smoothing,
        batch: batch, classes: classes
    )
    let kl = InformationBottleneckLoss.forward(
        mu: block.mu.data, logvar: block.logvar.data, batch: batch, features: embed
    )
    let losses = ["ce": ce, "kl": kl, "loss": ce + beta * kl]
    for (name, value) in losses {
        let expected = try fixture.scalar(step, name)
        #expect(abs(value - expected) / abs(expected) < tolerance, "\(name): \(value) vs \(expected)")
    }
    let outputs: [(String, Tensor)] = [("z", block.z), ("logvar", block.logvar), ("logits", head.logits)]
    for (name, tensor) in outputs {
        let expected = try fixture.tensor("\(step).\(name)")
        let error = GradientCheck.relativeError(tensor.values, expected.map(Double.init))
        #expect(error < tolerance, "\(name): \(error)")
    }

    // Backward through the head, the KL and the block.
    block.zeroOutputGradients()
    let logitGradient = Tensor(shape: [batch, classes])
    CrossEntropyLoss.backward(
        logitGradient: logitGradient.data, probabilities: probabilities.data, labels: &labels,
        smoothing: smoothing, scale: 1, batch: batch, classes: classes
    )
    head.backward(zGradient: block.zGradient.data, logitGradient: logitGradient.data, z: block.z.data, batch: batch)
    InformationBottleneckLoss.backward(
        muGradient: block.muGradient.data, logvarGradient: block.logvarGradient.data,
        mu: block.mu.data, logvar: block.logvar.data, beta: beta, batch: batch, features: embed
    )
    block.backward(
        queryFeatureGradient: nil, teacherTokensGradient: nil, queryFeature: query.data,
        teacherTokens: tokens.data, batch: batch
    )
    for (prefix, store) in [("block", block.parameters), ("head", head.parameters)] {
        for entry in store.entries {
            let swift = Array(UnsafeBufferPointer(start: store.gradients + entry.offset, count: entry.count))
            let expected = try fixture.tensor("\(step).grad.\(prefix).\(entry.name)")
            let error = GradientCheck.relativeError(swift, expected.map(Double.init))
            #expect(error < tolerance, "\(prefix).\(entry.name): \(error)")
        }
    }
}
