// Shapes: logits, softened probabilities and logit gradient [B, K]; labels [B]; stage outputs
// [C_s, B, H_s, W_s]; pooled features [C, B]; attention maps [B, H_s * W_s].

/// Values of the distillation terms of one step, each a batch mean before weighting.
struct DistillationTerms {
    /// The logit term: KD, or DKD's `alpha * TCKD + beta * NCKD`.
    var logit = 0.0
    /// The weighted feature term: `hint_beta * hint` or `at_beta * sum of AT`.
    var weightedFeature = 0.0
    /// Named parts reported per epoch (tckd, nckd, hint, at).
    var parts: [String: Double] = [:]
}

/// The distillation part of the student loss for one run: the logit term (KD or DKD) and the
/// feature term of FitNet or attention transfer, with the FitNet regressor and its optimiser.
final class DistillationObjective {
    let options: DistillationOptions
    let temperature: Double
    let classes: Int
    /// Softened student and teacher probabilities `[B, K]` saved by the logit forward.
    private let studentSoftened: Tensor
    private let teacherSoftened: Tensor
    private let hint: HintState?
    private let attention: [AttentionState]

    init(
        options: TrainingOptions, student: ResNetGraph, teacher: ResNetGraph?, seed: UInt64
    ) {
        self.options = options.distillation
        temperature = options.temperature
        classes = student.model.classes
        let batch = student.batch
        studentSoftened = Tensor(shape: [batch, classes])
        teacherSoftened = Tensor(shape: [batch, classes])
        let method = options.distillation.method
        hint = teacher.flatMap { teacher in
            method != .fitnet ? nil : HintState(
                layer: options.distillation.hintLayer, student: student, teacher: teacher,
                options: options, seed: seed
            )
        }
        attention = teacher.map { teacher in
            method != .attentionTransfer ? [] : (1...student.stageCount).map {
                AttentionState(stage: $0, student: student, teacher: teacher)
            }
        } ?? []
    }

    /// Computes the terms for one batch after both forwards ran on it.
    func forward(
        studentLogits: UnsafePointer<Float>,
        teacherLogits: UnsafePointer<Float>,
        labels: UnsafePointer<Int32>,
        student: ResNetGraph,
        teacher: ResNetGraph,
        batch: Int
    ) -> DistillationTerms {
        var terms = DistillationTerms()
        if options.method == .dkd {
            let parts = DKDLoss.forward(
                studentProbabilities: studentSoftened.data,
                teacherProbabilities: teacherSoftened.data, studentLogits: studentLogits,
                teacherLogits: teacherLogits, labels: labels, temperature: temperature,
                batch: batch, classes: classes
            )
            terms.logit = DKDLoss.combine(parts, alpha: options.dkdAlpha, beta: options.dkdBeta)
            terms.parts = ["tckd": parts.target, "nckd": parts.nonTarget]
        } else {
            terms.logit = KDLoss.forward(
                studentProbabilities: studentSoftened.data,
                teacherProbabilities: teacherSoftened.data, studentLogits: studentLogits,
                teacherLogits: teacherLogits, temperature: temperature, batch: batch,
                classes: classes
            )
        }
        if let hint {
            let value = hint.forward(student: student, teacher: teacher, batch: batch)
            terms.parts["hint"] = value
            terms.weightedFeature = options.hintBeta * value
        }
        if !attention.isEmpty {
            let value = attention.reduce(0) {
                $0 + $1.forward(student: student, teacher: teacher, batch: batch)
            }
            terms.parts["at"] = value
            terms.weightedFeature = options.attentionBeta * value
        }
        return terms
    }

    /// Adds `logitWeight` times the logit term's gradient to `logitGradient` and returns the
    /// feature gradients for `ResNetGraph.backward`, valid until the next call.
    func backward(
        logitGradient: UnsafeMutablePointer<Float>,
        labels: UnsafePointer<Int32>,
        logitWeight: Double,
        student: ResNetGraph,
        batch: Int
    ) -> FeatureGradients {
        if options.method == .dkd {
            DKDLoss.backward(
                studentLogitGradient: logitGradient, studentProbabilities: studentSoftened.data,
                teacherProbabilities: teacherSoftened.data, labels: labels,
                alpha: options.dkdAlpha, beta: options.dkdBeta, temperature: temperature,
                scale: logitWeight, batch: batch, classes: classes
            )
        } else {
            KDLoss.backward(
                studentLogitGradient: logitGradient, studentProbabilities: studentSoftened.data,
                teacherProbabilities: teacherSoftened.data, temperature: temperature,
                scale: logitWeight, batch: batch, classes: classes
            )
        }
        var gradients = FeatureGradients()
        if let hint {
            let gradient = hint.backward(student: student, scale: options.hintBeta, batch: batch)
            switch hint.layer {
            case .pooled: gradients.pooled = gradient
            case let .stage(stage): gradients.stages[stage] = gradient
            }
        }
        for state in attention {
            gradients.stages[state.stage] = state.backward(
                student: student, scale: options.attentionBeta, batch: batch
            )
        }
        return gradients
    }

    /// Updates the FitNet regressor, if any, with the gradients of the last backward.
    func step(learningRate: Double) {
        hint?.step(learningRate: learningRate)
    }

    /// Named buffers that a resumed run needs: the FitNet regressor and its SGD momentum,
    /// none for the other methods.
    var resumeBuffers: [ResumeCheckpoint.Buffer] {
        guard let hint else { return [] }
        let store = hint.parameters
        return [
            .init(
                name: "fitnet.regressor",
                values: Array(UnsafeBufferPointer(start: store.values, count: store.count))
            ),
            .init(name: "fitnet.regressor.sgd", values: hint.optimiser.stateValues),
        ]
    }

    /// Restores the buffers of `resumeBuffers` from `values`, keyed by buffer name. The
    /// caller has checked that the names and sizes match.
    func restoreBuffers(_ values: [String: [Float]]) {
        guard let hint, let regressor = values["fitnet.regressor"],
              let momentum = values["fitnet.regressor.sgd"]
        else { return }
        regressor.withUnsafeBufferPointer {
            hint.parameters.values.update(from: $0.baseAddress!, count: hint.parameters.count)
        }
        hint.optimiser.stateValues = momentum
    }
}

/// The FitNet regressor (1x1 convolution `[Ct, Cs]` with bias) and the hint buffers.
private final class HintState {
    let layer: HintLayer
    let studentChannels: Int
    let teacherChannels: Int
    /// Columns per sample: `H * W` of the stage output, 1 for the pooled feature.
    let columnsPerSample: Int
    let parameters = ParameterStore()
    let weight: Int
    let bias: Int
    let optimiser: SGD
    /// Saved `W f_s + b - f_t` `[Ct, N]` and the student feature gradient `[Cs, N]`.
    let difference: Tensor
    let featureGradient: Tensor

    init(
        layer: HintLayer, student: ResNetGraph, teacher: ResNetGraph, options: TrainingOptions,
        seed: UInt64
    ) {
        self.layer = layer
        let studentFeature = Self.feature(layer, of: student)
        let teacherFeature = Self.feature(layer, of: teacher)
        studentChannels = studentFeature.shape[0]
        teacherChannels = teacherFeature.shape[0]
        columnsPerSample = studentFeature.count / (studentChannels * student.batch)
        let teacherColumns = teacherFeature.count / (teacherChannels * teacher.batch)
        precondition(columnsPerSample == teacherColumns, "hint features differ in spatial size")
        weight = parameters.declare("hint.weight", shape: [teacherChannels, studentChannels])
        bias = parameters.declare("hint.bias", shape: [teacherChannels])
        parameters.allocate(withGradients: true)
        optimiser = SGD(
            parameterCount: parameters.count, momentum: options.momentum,
            nesterov: options.nesterov, weightDecay: options.weightDecay
        )
        let columns = columnsPerSample * student.batch
        difference = Tensor(shape: [teacherChannels, columns])
        featureGradient = Tensor(shape: [studentChannels, columns])
        initialise(seed: seed)
    }

    /// PyTorch's default `Conv2d` init: weight and bias uniform in +-1/sqrt(fan_in).
    private func initialise(seed: UInt64) {
        var random = RandomGenerator(seed: seed)
        let bound = 1 / Double(studentChannels).squareRoot()
        for i in 0..<parameters.count {
            parameters.values[i] = Float(bound * (2 * random.nextUniform() - 1))
        }
    }

    static func feature(_ layer: HintLayer, of graph: ResNetGraph) -> Tensor {
        switch layer {
        case .pooled: return graph.pooledFeature
        case let .stage(stage): return graph.stageOutput(stage)
        }
    }

    func forward(student: ResNetGraph, teacher: ResNetGraph, batch: Int) -> Double {
        parameters.zeroGradients()
        return FitNetHintLoss.forward(
            difference: difference.data, studentFeature: Self.feature(layer, of: student).data,
            teacherFeature: Self.feature(layer, of: teacher).data,
            weight: parameters.values + weight, bias: parameters.values + bias,
            studentChannels: studentChannels, teacherChannels: teacherChannels,
            columns: columnsPerSample * batch
        )
    }

    func backward(student: ResNetGraph, scale: Double, batch: Int) -> UnsafePointer<Float> {
        featureGradient.zero()
        FitNetHintLoss.backward(
            studentFeatureGradient: featureGradient.data,
            weightGradient: parameters.gradients + weight,
            biasGradient: parameters.gradients + bias, difference: difference.data,
            studentFeature: Self.feature(layer, of: student).data,
            weight: parameters.values + weight, scale: scale, studentChannels: studentChannels,
            teacherChannels: teacherChannels, columns: columnsPerSample * batch
        )
        return UnsafePointer(featureGradient.data)
    }

    func step(learningRate: Double) {
        optimiser.step(
            values: parameters.values, gradients: parameters.gradients, count: parameters.count,
            learningRate: learningRate
        )
    }
}

/// Attention-transfer buffers of one stage.
private final class AttentionState {
    let stage: Int
    let studentChannels: Int
    let teacherChannels: Int
    /// `H * W` of the stage output.
    let spatial: Int
    let studentAttention: Tensor
    let teacherAttention: Tensor
    let studentNorms: Tensor
    let featureGradient: Tensor

    init(stage: Int, student: ResNetGraph, teacher: ResNetGraph) {
        self.stage = stage
        let studentShape = student.stageOutput(stage).shape
        let teacherShape = teacher.stageOutput(stage).shape
        precondition(
            studentShape[2...] == teacherShape[2...], "stage \(stage) maps differ in spatial size"
        )
        studentChannels = studentShape[0]
        teacherChannels = teacherShape[0]
        spatial = studentShape[2] * studentShape[3]
        studentAttention = Tensor(shape: [student.batch, spatial])
        teacherAttention = Tensor(shape: [student.batch, spatial])
        studentNorms = Tensor(shape: [student.batch])
        featureGradient = Tensor(shape: studentShape)
    }

    func forward(student: ResNetGraph, teacher: ResNetGraph, batch: Int) -> Double {
        AttentionTransferLoss.forward(
            studentAttention: studentAttention.data, teacherAttention: teacherAttention.data,
            studentNorms: studentNorms.data, studentFeature: student.stageOutput(stage).data,
            teacherFeature: teacher.stageOutput(stage).data, studentChannels: studentChannels,
            teacherChannels: teacherChannels, batch: batch, spatial: spatial
        )
    }

    func backward(student: ResNetGraph, scale: Double, batch: Int) -> UnsafePointer<Float> {
        featureGradient.zero()
        AttentionTransferLoss.backward(
            studentFeatureGradient: featureGradient.data, studentAttention: studentAttention.data,
            teacherAttention: teacherAttention.data, studentNorms: studentNorms.data,
            studentFeature: student.stageOutput(stage).data, scale: scale,
            studentChannels: studentChannels, batch: batch, spatial: spatial
        )
        return UnsafePointer(featureGradient.data)
    }
}
