import Foundation

// Shapes: student query rows [B, Cs] (the pooled student feature, transposed); teacher
// tokens [B * T, Dkv], one row per sample and teacher; synergy logits [B, K].

/// IB_MBM and the synergy head of an ASIB run, their A-Step optimisers, and the synergy
/// accuracy that gates distillation.
///
/// The query is the student's pooled feature and the key/value tokens are the teachers'
/// pooled features. NOTE: the networks here have no distillation adapters, so teachers of
/// different widths are zero-padded to the widest. The original trains adapters to a common
/// width in the A-Step.
final class SynergyModule {
    let options: ASIBOptions
    let block: IBMBM
    let head: SynergyHead
    private let blockOptimiser: AdamW
    private let headOptimiser: AdamW
    let studentWidth: Int
    let tokenWidth: Int
    let teacherCount: Int
    /// Query rows and teacher tokens of the last `load`.
    let query: Tensor
    let tokens: Tensor
    /// EMA of the evaluated synergy accuracy (fraction); nil before the first evaluation.
    private(set) var accuracyEMA: Double?

    init(
        options: ASIBOptions, studentWidth: Int, teacherWidths: [Int], classes: Int, batch: Int,
        seed: UInt64
    ) {
        self.options = options
        self.studentWidth = studentWidth
        tokenWidth = teacherWidths.max() ?? 0
        teacherCount = teacherWidths.count
        let shape = IBMBMShape(
            queryDim: studentWidth, keyValueDim: tokenWidth, tokens: teacherCount,
            embed: options.embed, heads: options.heads, logvarClip: options.logvarClip,
            minStd: options.minStd
        )
        block = IBMBM(shape: shape, batch: batch, seed: seed)
        head = SynergyHead(
            embed: options.embed, classes: classes, dropout: options.headDropout,
            learnableTemperature: options.learnableTemperature,
            initialLogTemperature: options.initialLogTemperature, batch: batch, seed: seed &+ 1
        )
        blockOptimiser = AdamW(
            parameterCount: block.parameters.count, weightDecay: options.weightDecay
        )
        headOptimiser = AdamW(
            parameterCount: head.parameters.count, weightDecay: options.weightDecay
        )
        query = Tensor(shape: [batch, studentWidth])
        tokens = Tensor(shape: [batch * teacherCount, tokenWidth])
    }

    /// Copies the pooled features of the last forwards into the query rows and the tokens.
    func load(student: ResNetGraph, teachers: [ResNetGraph], batch: Int) {
        let pooled = student.pooledFeature.data
        for b in 0..<batch {
            for c in 0..<studentWidth { query.data[b * studentWidth + c] = pooled[c * batch + b] }
        }
        tokens.zero()
        for (t, teacher) in teachers.prefix(teacherCount).enumerated() {
            let width = teacher.pooledFeature.shape[0]
            let feature = teacher.pooledFeature.data
            for b in 0..<batch {
                let row = tokens.data + (b * teacherCount + t) * tokenWidth
                for c in 0..<width { row[c] = feature[c * batch + b] }
            }
        }
    }

    /// Runs IB_MBM and the head on the loaded inputs and returns the head logits. Training
    /// samples z and feeds it to the head; evaluation uses z = mu.
    @discardableResult
    func forward(
        batch: Int, training: Bool, random: inout RandomGenerator
    ) -> UnsafeMutablePointer<Float> {
        if training { block.drawNoise(batch: batch, random: &random) }
        block.forward(
            queryFeature: query.data, teacherTokens: tokens.data, batch: batch, sample: training
        )
        guard training, options.headDropout > 0 else {
            return head.forward(z: block.z.data, batch: batch, random: nil)
        }
        return withUnsafeMutablePointer(to: &random) {
            head.forward(z: block.z.data, batch: batch, random: $0)
        }
    }

    /// Back-propagates `logitGradient` through the head and, with the KL gradients already
    /// in the block's output gradients, through IB_MBM, then steps both optimisers.
    func backwardAndStep(logitGradient: UnsafePointer<Float>, batch: Int) {
        head.backward(
            zGradient: block.zGradient.data, logitGradient: logitGradient, z: block.z.data,
            batch: batch
        )
        block.backward(
            queryFeatureGradient: nil, teacherTokensGradient: nil, queryFeature: query.data,
            teacherTokens: tokens.data, batch: batch
        )
        blockOptimiser.step(
            values: block.parameters.values, gradients: block.parameters.gradients,
            count: block.parameters.count,
            learningRate: options.learningRate * options.ibLearningRateFactor
        )
        headOptimiser.step(
            values: head.parameters.values, gradients: head.parameters.gradients,
            count: head.parameters.count, learningRate: options.learningRate
        )
    }

    /// Per-sample certainty `mean_e exp(-logvar)` of the last forward.
    func certainty(batch: Int) -> [Double] {
        let e = options.embed
        return (0..<batch).map { b in
            var total = 0.0
            for i in 0..<e { total += exp(-Double(block.logvar.data[b * e + i])) }
            return total / Double(e)
        }
    }

    /// Records an evaluated accuracy (percent) in the EMA
    /// `alpha * previous + (1 - alpha) * accuracy`, the first value taken as is.
    func recordAccuracy(_ percent: Double) {
        let fraction = percent / 100
        guard let previous = accuracyEMA else {
            accuracyEMA = fraction
            return
        }
        accuracyEMA = options.synergyEMAAlpha * previous + (1 - options.synergyEMAAlpha) * fraction
    }

    /// Whether the synergy accuracy opens the KD gate: an accuracy was measured, it is
    /// positive, and it reaches `enable_kd_after_syn_acc`.
    var gateOpen: Bool {
        guard let accuracy = accuracyEMA, accuracy > 0 else { return false }
        return options.gateAccuracy <= 0 || accuracy >= options.gateAccuracy
    }
}
