import ASIBConfig
import Foundation
import Testing
@testable import ASIBTrainer

// The A-Step feature-KD term FKD_A = mean_b [ cw_b * mean_d (s_bd - mu_bd)^2 ], its gradient,
// its width rule, and the IB_MBM width derived from distill_out_dim.

@Test func featureKDMatchesHandComputedValue() {
    // Row 0: cw 0.5 * ((1 - 0)^2 + (2 - 0)^2) / 2 = 1.25. Row 1: 1 * ((0 - 1)^2 + (0 - 3)^2) / 2
    // = 5. The mean over the two rows is 3.125.
    let student: [Float] = [1, 2, 0, 0]
    let mu: [Float] = [0, 0, 1, 3]
    let value = FeatureDistillationLoss.forward(
        student: student, mu: mu, weights: [0.5, 1], batch: 2, features: 2
    )
    #expect(abs(value - 3.125) < 1e-12)
}

@Test func aStepFeatureKDGradientMatchesFiniteDifferences() {
    let batch = 3
    let features = 5
    let student = GradientCheck.random(batch * features, seed: 41)
    let mu = Tensor(shape: [batch, features], values: GradientCheck.random(batch * features, seed: 42))
    let weights = [0.5, 1, 0.25]
    let scale = 0.7
    func loss() -> Double {
        scale * FeatureDistillationLoss.forward(
            student: student, mu: mu.data, weights: weights, batch: batch, features: features
        )
    }
    let gradient = Tensor(shape: [batch, features])
    FeatureDistillationLoss.backward(
        muGradient: gradient.data, student: student, mu: mu.data, weights: weights, scale: scale,
        batch: batch, features: features
    )
    let numeric = GradientCheck.numeric(mu.data, count: mu.count, eps: 1e-2, loss: loss)
    #expect(GradientCheck.relativeError(gradient.values, numeric) < GradientCheck.tolerance)
    // The backward adds to the buffer rather than overwriting it.
    let before = gradient.values
    FeatureDistillationLoss.backward(
        muGradient: gradient.data, student: student, mu: mu.data, weights: weights, scale: scale,
        batch: batch, features: features
    )
    for (doubled, single) in zip(gradient.values, before) {
        #expect(abs(doubled - 2 * single) < 1e-6)
    }
}

/// A synergy module whose query is the student's pooled feature of width 8, equal to the
/// IB_MBM width, with trained adapters on two teachers of widths 6 and 10. The loss is CE of
/// the head plus beta * IB KL plus alpha * FKD_A, with the certainty weights held at their
/// values at the starting point, because the A-Step detaches them.
private final class FeatureKDCase {
    let batch = 3
    let classes = 4
    let embed = 8
    let module: SynergyModule
    let studentPooled = GradientCheck.random(8 * 3, seed: 51)
    let teacherPooled = [GradientCheck.random(6 * 3, seed: 52), GradientCheck.random(10 * 3, seed: 53)]
    var labels: [Int32] = [2, 0, 3]
    let probabilities = Tensor(shape: [3, 4])
    let beta = 0.2
    let alpha = 0.7
    var certainty: [Double] = []

    init() {
        var options = ASIBOptions()
        options.embed = embed
        options.heads = 2
        options.logvarClip = 5
        options.useDistillationAdapter = true
        options.distillOutDim = 5
        options.trainDistillAdapters = true
        options.featureKDAlphaInA = alpha
        options.minCertaintyWeight = 0.1
        module = SynergyModule(
            options: options, studentWidth: 8, teacherWidths: [6, 10], classes: classes,
            batch: batch, seed: 54
        )
        _ = loss()
        certainty = module.certainty(batch: batch).map { min(max($0, 0.1), 1) }
    }

    func loss() -> Double {
        studentPooled.withUnsafeBufferPointer { student in
            teacherPooled[0].withUnsafeBufferPointer { first in
                teacherPooled[1].withUnsafeBufferPointer { second in
                    module.load(
                        studentPooled: student.baseAddress!,
                        teacherPooled: [first.baseAddress!, second.baseAddress!], batch: batch
                    )
                }
            }
        }
        module.block.forward(
            queryFeature: module.query.data, teacherTokens: module.tokens.data, batch: batch,
            sample: false
        )
        let logits = module.head.forward(z: module.block.z.data, batch: batch, random: nil)
        let ce = CrossEntropyLoss.forward(
            probabilities: probabilities.data, logits: logits, labels: &labels, smoothing: 0,
            batch: batch, classes: classes
        )
        let kl = InformationBottleneckLoss.forward(
            mu: module.block.mu.data, logvar: module.block.logvar.data, batch: batch, features: embed
        )
        guard !certainty.isEmpty else { return ce + beta * kl }
        let featureKD = FeatureDistillationLoss.forward(
            student: module.query.data, mu: module.block.mu.data, weights: certainty, batch: batch,
            features: embed
        )
        return ce + beta * kl + alpha * featureKD
    }

    /// Runs the forward and the backward of the loss into every gradient buffer, in the
    /// order of the A-Step.
    func backward() {
        _ = loss()
        module.zeroGradients()
        module.block.zeroOutputGradients()
        let logitGradient = Tensor(shape: [batch, classes])
        CrossEntropyLoss.backward(
            logitGradient: logitGradient.data, probabilities: probabilities.data, labels: &labels,
            smoothing: 0, scale: 1, batch: batch, classes: classes
        )
        InformationBottleneckLoss.backward(
            muGradient: module.block.muGradient.data, logvarGradient: module.block.logvarGradient.data,
            mu: module.block.mu.data, logvar: module.block.logvar.data, beta: beta, batch: batch,
            features: embed
        )
        FeatureDistillationLoss.backward(
            muGradient: module.block.muGradient.data, student: module.query.data,
            mu: module.block.mu.data, weights: certainty, scale: alpha, batch: batch, features: embed
        )
        module.backward(logitGradient: logitGradient.data, batch: batch)
    }
}

@Test func aStepLossWithFeatureKDMatchesFiniteDifferences() {
    let example = FeatureKDCase()
    #expect(example.module.computesFeatureKD)
    #expect(example.module.queryWidth == example.embed)
    example.backward()
    var stores: [(String, ParameterStore)] = [
        ("ib_mbm", example.module.block.parameters), ("head", example.module.head.parameters),
    ]
    for (index, adapter) in example.module.teacherAdapters.enumerated() {
        stores.append(("teacher adapter \(index)", adapter.parameters))
    }
    for (name, store) in stores {
        let analytic = Array(UnsafeBufferPointer(start: store.gradients, count: store.count))
        let numeric = GradientCheck.numeric(store.values, count: store.count, eps: 1e-3, loss: example.loss)
        let error = GradientCheck.relativeError(analytic, numeric)
        #expect(error < GradientCheck.tolerance, "\(name): \(error)")
    }
}

@Test func featureKDChangesIBMBMGradient() {
    // The same case without the feature-KD term gives another IB_MBM gradient, so the check
    // above covers the term rather than passing on the other terms alone.
    let with = FeatureKDCase()
    with.backward()
    let store = with.module.block.parameters
    let withFeatureKD = Array(UnsafeBufferPointer(start: store.gradients, count: store.count))
    let without = FeatureKDCase()
    without.certainty = without.certainty.map { _ in 0 }
    without.backward()
    let other = without.module.block.parameters
    let withoutFeatureKD = Array(UnsafeBufferPointer(start: other.gradients, count: other.count))
    let difference = zip(withFeatureKD, withoutFeatureKD).map { Double(abs($0 - $1)) }.max() ?? 0
    #expect(difference > 1e-4)
}

@Test func featureKDWidthRule() throws {
    var options = ASIBOptions()
    options.embed = 16
    // No weight: nothing to check.
    try SynergyModule.checkFeatureKDWidth(options: options, studentWidth: 64)
    // feat_kd_alpha alone: skipped with a log line, no error.
    options.featureKDAlpha = 0.05
    try SynergyModule.checkFeatureKDWidth(options: options, studentWidth: 64)
    // feat_kd_alpha_in_a with unequal widths: an error that names the keys to change.
    options.featureKDAlphaInA = 0.5
    #expect {
        try SynergyModule.checkFeatureKDWidth(options: options, studentWidth: 64)
    } throws: { error in
        let message = "\(error)"
        return message.contains("feat_kd_alpha_in_a") && message.contains("ib_mbm_out_dim")
            && message.contains("distill_out_dim") && message.contains("feat_kd_key")
            && message.contains("width 64")
    }
    // Equal widths pass, whether the query is the pooled feature or the adapter output.
    try SynergyModule.checkFeatureKDWidth(options: options, studentWidth: 16)
    options.useDistillationAdapter = true
    options.queryFromAdapter = true
    options.distillOutDim = 16
    try SynergyModule.checkFeatureKDWidth(options: options, studentWidth: 64)
}

@Test func featureKDRunsOnlyAtEqualWidths() {
    for (alpha, alphaInA, width, expected) in [
        (0.0, 0.0, 8, false), (0.05, 0.0, 8, true), (0.0, 0.5, 8, true), (0.05, 0.0, 6, false),
    ] {
        var options = ASIBOptions()
        options.embed = 8
        options.heads = 2
        options.featureKDAlpha = alpha
        options.featureKDAlphaInA = alphaInA
        let module = SynergyModule(
            options: options, studentWidth: width, teacherWidths: [5, 5], classes: 3, batch: 2,
            seed: 1
        )
        #expect(module.computesFeatureKD == expected, "\(alpha), \(alphaInA), width \(width)")
    }
}

// MARK: - IB_MBM width from distill_out_dim

private func asibOptions(_ values: [String: ConfigValue]) throws -> ASIBOptions {
    try ASIBOptions(config: .map(values))
}

@Test func ibmbmWidthFollowsDistillOutDim() throws {
    let adapter: [String: ConfigValue] = [
        "use_distillation_adapter": .bool(true), "distill_out_dim": .int(24),
    ]
    #expect(try asibOptions(adapter).embed == 24)
    // A null ib_mbm_out_dim counts as unset.
    #expect(try asibOptions(adapter.merging(["ib_mbm_out_dim": .null]) { $1 }).embed == 24)
    // A set ib_mbm_out_dim wins.
    #expect(try asibOptions(adapter.merging(["ib_mbm_out_dim": .int(32)]) { $1 }).embed == 32)
    // Without the adapters, or with distill_out_dim 0 (the F / 4 default), d stays 512.
    let off = adapter.merging(["use_distillation_adapter": .bool(false)]) { $1 }
    #expect(try asibOptions(off).embed == 512)
    let defaultWidth = adapter.merging(["distill_out_dim": .int(0)]) { $1 }
    #expect(try asibOptions(defaultWidth).embed == 512)
}

private let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

@Test func composedMethodsGiveDerivedIBMBMWidth() throws {
    let composer = ConfigComposer(configRoot: repositoryRoot.appendingPathComponent("configs"))
    func width(_ overrides: [String]) throws -> Int {
        let composed = try composer.compose(primary: "base", overrides: overrides, source: "test")
        return try TrainingOptions(config: composed.value).asib.embed
    }
    // The asib method file turns the adapters on and sets no IB_MBM width.
    #expect(try width(["method=asib", "++distill_out_dim=24"]) == 24)
    #expect(try width(["method=asib", "++distill_out_dim=24", "++ib_mbm_out_dim=40"]) == 40)
    // asib_stage sets both widths to 512; an override of distill_out_dim alone leaves the
    // file's ib_mbm_out_dim in place.
    #expect(try width(["method=asib_stage"]) == 512)
    #expect(try width(["method=asib_stage", "++distill_out_dim=64"]) == 512)
}
