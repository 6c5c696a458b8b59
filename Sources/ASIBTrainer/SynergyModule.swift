import ASIBSupport
import Foundation

// Shapes: student query rows [B, Cs] (the pooled student feature, transposed); teacher
// tokens [B * T, Dkv], one row per sample and teacher; synergy logits [B, K].

/// IB_MBM, the synergy head and the distillation adapters of an ASIB run, their A-Step
/// optimisers, and the synergy accuracy that gates distillation.
///
/// The key/value tokens are the teachers' pooled features or, with
/// `use_distillation_adapter`, the teachers' adapter outputs, which share one width. The
/// query is the student's pooled feature (`feat_kd_key: feat_2d`) or the student adapter
/// output (`distill_feat`). With `train_distill_adapter_only` the A-Step trains the teacher
/// adapters through IB_MBM's key/value path and, for a `distill_feat` query, the student
/// adapter through the query path. The original ASIB code trains the student adapter only
/// through the B-Step feature-KD term, so with `feat_kd_alpha: 0` its query stays a random
/// projection. Training it in the A-Step lets the query learn. With `feat_kd_alpha` > 0 the
/// B-Step trains the student adapter too, through the feature-KD term, with the student's
/// optimiser settings (see `SynergyModule+FeatureKD` and
/// `TrainingSession.studentAdapterOptimiser`); it never trains the teacher adapters.
final class SynergyModule {
    let options: ASIBOptions
    let block: IBMBM
    let head: SynergyHead
    /// One adapter per teacher, empty without `use_distillation_adapter`.
    let teacherAdapters: [DistillationAdapter]
    /// The student adapter, present only for a `distill_feat` query.
    let studentAdapter: DistillationAdapter?
    private let blockOptimiser: AdamW
    private let headOptimiser: AdamW
    /// AdamW of each trained adapter (teachers, then the student), empty when none trains.
    private let adapterOptimisers: [AdamW]
    let studentWidth: Int
    let queryWidth: Int
    let tokenWidth: Int
    let teacherCount: Int
    /// Whether the A-Step computes feature KD: a feature-KD weight is positive and the query
    /// width equals the IB_MBM width.
    let computesFeatureKD: Bool
    /// Query rows and teacher tokens of the last `load`.
    let query: Tensor
    let tokens: Tensor
    private let queryGradient: Tensor
    private let tokensGradient: Tensor
    private let adapterOutputGradient: Tensor
    /// EMA of the evaluated synergy accuracy (fraction); nil before the first evaluation.
    var accuracyEMA: Double?

    /// Returns the token width of each teacher: its adapter output width with adapters, else
    /// its pooled-feature width.
    static func tokenWidths(options: ASIBOptions, teacherWidths: [Int]) -> [Int] {
        guard options.useDistillationAdapter else { return teacherWidths }
        return teacherWidths.map {
            DistillationAdapter.widths(
                features: $0, outDim: options.distillOutDim, hiddenDim: options.distillHiddenDim
            ).out
        }
    }

    /// Checks that the teacher tokens share one width, which IB_MBM's key/value projection
    /// needs.
    static func checkTokenWidths(options: ASIBOptions, teacherWidths: [Int]) throws {
        let widths = tokenWidths(options: options, teacherWidths: teacherWidths)
        guard Set(widths).count > 1 else { return }
        if options.useDistillationAdapter {
            let value = options.distillOutDim > 0 ? "\(options.distillOutDim)" : "not set"
            throw TrainerError.invalidOption(
                key: "distill_out_dim", value: value,
                allowed: "one output width for every teacher adapter, e.g. distill_out_dim: "
                    + "\(widths.min() ?? 1), because the default F / 4 gives the teachers of "
                    + "pooled widths \(teacherWidths) adapter widths \(widths)"
            )
        }
        throw TrainerError.invalidOption(
            key: "use_distillation_adapter", value: "false",
            allowed: "true: the teachers' pooled features have different widths "
                + "\(teacherWidths), and adapters map them to one token width for IB_MBM"
        )
    }

    /// Returns the width of the student's `feat_kd_key` feature, the IB_MBM query.
    static func queryWidth(options: ASIBOptions, studentWidth: Int) -> Int {
        guard options.useDistillationAdapter && options.queryFromAdapter else { return studentWidth }
        return DistillationAdapter.widths(
            features: studentWidth, outDim: options.distillOutDim, hiddenDim: options.distillHiddenDim
        ).out
    }

    /// Checks that A-Step feature KD can run: it needs the query width to equal the IB_MBM
    /// width d. The original ASIB code skips the term silently when they differ. Here a
    /// positive `feat_kd_alpha_in_a` with unequal widths is an error, because that weight
    /// would otherwise have no effect. With only `feat_kd_alpha` positive the term adds
    /// nothing to the A-Step loss, so it is skipped with one log line.
    static func checkFeatureKDWidth(options: ASIBOptions, studentWidth: Int) throws {
        guard options.featureKDAlpha > 0 || options.featureKDAlphaInA > 0 else { return }
        let width = queryWidth(options: options, studentWidth: studentWidth)
        guard width != options.embed else { return }
        let feature = options.queryFromAdapter ? "distill_feat" : "feat_2d"
        if options.featureKDAlphaInA > 0 {
            throw TrainerError.invalidOption(
                key: "feat_kd_alpha_in_a", value: "\(options.featureKDAlphaInA)",
                allowed: "0, or equal widths of the student feature (feat_kd_key: \(feature), "
                    + "width \(width)) and IB_MBM (ib_mbm_out_dim: \(options.embed)); set "
                    + "ib_mbm_out_dim to \(width), or use feat_kd_key: distill_feat with "
                    + "distill_out_dim: \(options.embed)"
            )
        }
        Log.notice(
            "A-Step feature KD skipped: student feature and IB_MBM widths differ",
            ["feat_kd_key": feature, "width": width, "ib_mbm_out_dim": options.embed]
        )
    }

    init(
        options: ASIBOptions, studentWidth: Int, teacherWidths: [Int], classes: Int, batch: Int,
        seed: UInt64
    ) {
        self.options = options
        self.studentWidth = studentWidth
        let widths = Self.tokenWidths(options: options, teacherWidths: teacherWidths)
        precondition(Set(widths).count <= 1, "teacher token widths differ: \(widths)")
        tokenWidth = widths.first ?? 0
        teacherCount = teacherWidths.count
        let adapterWidths = { (features: Int) in
            DistillationAdapter.widths(
                features: features, outDim: options.distillOutDim,
                hiddenDim: options.distillHiddenDim
            )
        }
        teacherAdapters = options.useDistillationAdapter
            ? teacherWidths.enumerated().map { index, features in
                let (hidden, out) = adapterWidths(features)
                return DistillationAdapter(
                    inFeatures: features, hidden: hidden, outFeatures: out, batch: batch,
                    seed: seed &+ 10 &+ UInt64(index)
                )
            }
            : []
        if options.useDistillationAdapter && options.queryFromAdapter {
            let (hidden, out) = adapterWidths(studentWidth)
            studentAdapter = DistillationAdapter(
                inFeatures: studentWidth, hidden: hidden, outFeatures: out, batch: batch,
                seed: seed &+ 9
            )
        } else {
            studentAdapter = nil
        }
        queryWidth = studentAdapter?.outFeatures ?? studentWidth
        computesFeatureKD = (options.featureKDAlpha > 0 || options.featureKDAlphaInA > 0)
            && queryWidth == options.embed
        let shape = IBMBMShape(
            queryDim: queryWidth, keyValueDim: tokenWidth, tokens: teacherCount,
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
        let trained = options.trainDistillAdapters
            ? teacherAdapters + (studentAdapter.map { [$0] } ?? []) : []
        adapterOptimisers = trained.map {
            AdamW(parameterCount: $0.parameters.count, weightDecay: options.weightDecay)
        }
        query = Tensor(shape: [batch, queryWidth])
        tokens = Tensor(shape: [batch * teacherCount, tokenWidth])
        queryGradient = Tensor(shape: [batch, queryWidth])
        tokensGradient = Tensor(shape: [batch * teacherCount, tokenWidth])
        adapterOutputGradient = Tensor(shape: [batch, tokenWidth])
    }

    /// The adapters that the A-Step trains, in the order of their optimisers.
    var trainedAdapters: [DistillationAdapter] {
        options.trainDistillAdapters ? teacherAdapters + (studentAdapter.map { [$0] } ?? []) : []
    }

    /// Copies the pooled features of the last forwards into the query rows and the tokens,
    /// through the adapters where there are any.
    func load(student: ResNetGraph, teachers: [ResNetGraph], batch: Int) {
        load(
            studentPooled: student.pooledFeature.data,
            teacherPooled: teachers.prefix(teacherCount).map { UnsafePointer($0.pooledFeature.data) },
            batch: batch
        )
    }

    /// Fills the query rows and tokens from feature-major pooled features `[F, B]`.
    func load(
        studentPooled: UnsafePointer<Float>, teacherPooled: [UnsafePointer<Float>], batch: Int
    ) {
        if let studentAdapter {
            studentAdapter.forward(pooled: studentPooled, batch: batch)
            query.data.update(from: studentAdapter.output.data, count: batch * queryWidth)
        } else {
            for b in 0..<batch {
                for c in 0..<studentWidth {
                    query.data[b * studentWidth + c] = studentPooled[c * batch + b]
                }
            }
        }
        for (t, feature) in teacherPooled.enumerated() {
            if teacherAdapters.isEmpty {
                for b in 0..<batch {
                    let row = tokens.data + (b * teacherCount + t) * tokenWidth
                    for c in 0..<tokenWidth { row[c] = feature[c * batch + b] }
                }
                continue
            }
            let adapter = teacherAdapters[t]
            adapter.forward(pooled: feature, batch: batch)
            for b in 0..<batch {
                (tokens.data + (b * teacherCount + t) * tokenWidth).update(
                    from: adapter.output.data + b * tokenWidth, count: tokenWidth
                )
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
    /// in the block's output gradients, through IB_MBM and the trained adapters, then steps
    /// the optimisers.
    func backwardAndStep(logitGradient: UnsafePointer<Float>, batch: Int) {
        backward(logitGradient: logitGradient, batch: batch)
        step()
    }

    /// Zeroes every parameter gradient of the block, the head and the adapters.
    func zeroGradients() {
        block.parameters.zeroGradients()
        head.parameters.zeroGradients()
        for adapter in teacherAdapters { adapter.parameters.zeroGradients() }
        studentAdapter?.parameters.zeroGradients()
    }

    /// Adds the gradients of `logitGradient` (and of the output gradients already in the
    /// block) to the head, IB_MBM and, when they train, the adapters.
    func backward(logitGradient: UnsafePointer<Float>, batch: Int) {
        head.backward(
            zGradient: block.zGradient.data, logitGradient: logitGradient, z: block.z.data,
            batch: batch
        )
        let trainTeacherAdapters = options.trainDistillAdapters && !teacherAdapters.isEmpty
        let trainStudentAdapter = options.trainDistillAdapters && studentAdapter != nil
        if trainTeacherAdapters { tokensGradient.zero() }
        if trainStudentAdapter { queryGradient.zero() }
        block.backward(
            queryFeatureGradient: trainStudentAdapter ? queryGradient.data : nil,
            teacherTokensGradient: trainTeacherAdapters ? tokensGradient.data : nil,
            queryFeature: query.data, teacherTokens: tokens.data, batch: batch
        )
        if trainTeacherAdapters {
            for (t, adapter) in teacherAdapters.enumerated() {
                for b in 0..<batch {
                    (adapterOutputGradient.data + b * tokenWidth).update(
                        from: tokensGradient.data + (b * teacherCount + t) * tokenWidth,
                        count: tokenWidth
                    )
                }
                adapter.backward(
                    outputGradient: adapterOutputGradient.data, inputGradient: nil, batch: batch
                )
            }
        }
        if trainStudentAdapter, let studentAdapter {
            studentAdapter.backward(
                outputGradient: queryGradient.data, inputGradient: nil, batch: batch
            )
        }
    }

    /// Steps the three AdamW groups: adapters and head at the A-Step learning rate, IB_MBM at
    /// `learning rate * ib_mbm_lr_factor`.
    func step() {
        let rate = options.learningRate
        blockOptimiser.step(
            values: block.parameters.values, gradients: block.parameters.gradients,
            count: block.parameters.count, learningRate: rate * options.ibLearningRateFactor
        )
        headOptimiser.step(
            values: head.parameters.values, gradients: head.parameters.gradients,
            count: head.parameters.count, learningRate: rate
        )
        for (adapter, optimiser) in zip(trainedAdapters, adapterOptimisers) {
            optimiser.step(
                values: adapter.parameters.values, gradients: adapter.parameters.gradients,
                count: adapter.parameters.count, learningRate: rate
            )
        }
    }

    /// Named parameter and optimiser buffers, which resume checkpoints store.
    var stateBuffers: [(name: String, store: ParameterStore?, optimiser: AdamW?)] {
        var buffers: [(name: String, store: ParameterStore?, optimiser: AdamW?)] = [
            ("ib_mbm", block.parameters, nil), ("ib_mbm.adamw", nil, blockOptimiser),
            ("synergy_head", head.parameters, nil), ("synergy_head.adamw", nil, headOptimiser),
        ]
        for (index, adapter) in teacherAdapters.enumerated() {
            buffers.append(("adapter.teacher\(index + 1)", adapter.parameters, nil))
        }
        if let studentAdapter { buffers.append(("adapter.student", studentAdapter.parameters, nil)) }
        for (index, optimiser) in adapterOptimisers.enumerated() {
            buffers.append(("adapter.adamw\(index)", nil, optimiser))
        }
        return buffers
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
