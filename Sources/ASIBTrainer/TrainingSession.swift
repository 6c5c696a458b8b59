import Foundation

// Shapes: batch input [C, B, H, W]; labels [B]; logits, probabilities, gradients [B, K].

/// The buffers, optimiser and schedule of one run, and the training and evaluation epochs.
final class TrainingSession {
    let options: TrainingOptions
    let student: ResNetModel
    let teachers: TeacherEnsemble?
    let trainLoader: BatchLoader
    let testLoader: BatchLoader
    let optimiser: any Optimiser
    let schedule: LearningRateSchedule
    /// Graphs by batch size: the full batch and the smaller last batches of each split.
    private var graphs: [Int: ResNetGraph] = [:]
    /// Batch buffers sized for the full batch; smaller batches use their prefix.
    let input: Tensor
    var labels: [Int32]
    let probabilities: Tensor
    let teacherTarget: Tensor
    let logitGradient: Tensor
    /// Optimiser steps taken; the learning-rate schedule is indexed by it.
    var step = 0
    /// IB_MBM and the synergy head of an ASIB run (nil otherwise), built on first use.
    lazy var synergy: SynergyModule? = makeSynergyModule()
    /// The EMA copy of the student when `use_ema_teacher` is set.
    lazy var emaTeacher: EMATeacher? = options.asib.useEMATeacher && options.asib.enabled
        ? EMATeacher(
            student: student, options: options.asib, height: input.shape[2], width: input.shape[3]
        )
        : nil
    /// Noise of IB_MBM sampling and synergy-head dropout.
    var synergyRandom: RandomGenerator
    /// Running share of rows whose `auto` choice took the synergy target
    /// (`0.8 * previous + 0.2 * batch share`); feeds the IB_MBM skip rule.
    var synergyWinRatio = 0.0
    /// The 1-based student epoch in progress, counted within its stage.
    var currentEpoch = 0
    /// The mixed batch `[C, B, H, W]` that the student trains on when mixing is on; `input`
    /// keeps the clean batch for the teacher-side forwards.
    let mixedInput: Tensor
    /// The mixing of the current batch and the labels of each sample's partner.
    var batchMix = BatchMix()
    var partnerLabels: [Int32]
    /// Coefficients, partners and CutMix boxes, reseeded from the seed and the epoch at the
    /// start of every epoch so that a resumed run mixes as an uninterrupted one.
    var mixRandom = RandomGenerator(seed: 0)
    /// Averaging weights of the teachers in the current epoch, after the second teacher's
    /// decay; nil without teachers.
    var teacherWeights: [Float]?
    /// Student graphs without gradients for the clean-view synergy query, by batch size.
    var queryGraphs: [Int: ResNetGraph] = [:]
    /// Best synergy test accuracy (percent) evaluated in the current stage's A-Step.
    var stageBestSynergy: Double?
    /// Student parameter ranges that train under a partial freeze; nil trains all of them.
    var trainableRanges: [Range<Int>]?
    /// Whether the partial freeze of the current B-Step also freezes the student adapter
    /// (levels >= 1, which train only the last stages and the classifier).
    var studentAdapterFrozen = false
    /// The optimiser of the student adapter in the B-Step, where the feature-KD term trains
    /// it: the student's optimiser kind and settings, stepped at the student's learning rate,
    /// as in the original, where the adapter is part of the student network. Its state is
    /// separate from the adapter's A-Step AdamW. nil when the B-Step trains no adapter.
    lazy var studentAdapterOptimiser: (any Optimiser)? = synergy.flatMap { synergy in
        guard synergy.appliesFeatureKD, let adapter = synergy.studentAdapter else { return nil }
        return Self.makeStudentOptimiser(options: options, parameterCount: adapter.parameters.count)
    }

    init(
        options: TrainingOptions, student: ResNetModel, teachers: TeacherEnsemble?,
        train: ImageDataset, test: ImageDataset
    ) {
        self.options = options
        self.student = student
        self.teachers = teachers
        trainLoader = BatchLoader(
            dataset: train, batchSize: options.batchSize, augment: options.dataAugmentation,
            seed: options.seed &+ 1
        )
        testLoader = BatchLoader(
            dataset: test, batchSize: options.batchSize, augment: false, seed: 0
        )
        optimiser = Self.makeStudentOptimiser(
            options: options, parameterCount: student.parameters.count
        )
        let stepsPerEpoch = (train.count + options.batchSize - 1) / options.batchSize
        schedule = LearningRateSchedule(
            base: options.learningRate, minimum: options.minLearningRate,
            warmupEpochs: options.warmupEpochs, epochs: options.totalStudentEpochs,
            stepsPerEpoch: stepsPerEpoch, decay: options.learningRateDecay
        )
        let batch = options.batchSize
        input = Tensor(shape: [train.channels, batch, train.height, train.width])
        labels = [Int32](repeating: 0, count: batch)
        partnerLabels = labels
        mixedInput = Tensor(shape: options.studentStep.mixMode == .none ? [1] : input.shape)
        let logitShape = [batch, train.classes]
        probabilities = Tensor(shape: logitShape)
        teacherTarget = Tensor(shape: logitShape)
        logitGradient = Tensor(shape: logitShape)
        synergyRandom = RandomGenerator(seed: options.seed &+ 3)
    }

    /// Returns the student optimiser [optimizer]: AdamW or SGD with the student's momentum,
    /// Nesterov flag and weight decay.
    static func makeStudentOptimiser(options: TrainingOptions, parameterCount: Int) -> any Optimiser {
        options.optimizer == .adamw
            ? AdamW(parameterCount: parameterCount, weightDecay: options.weightDecay)
            : SGD(
                parameterCount: parameterCount, momentum: options.momentum,
                nesterov: options.nesterov, weightDecay: options.weightDecay
            )
    }

    /// The distillation terms, built on first use from the full-batch graphs.
    lazy var objective = DistillationObjective(
        options: options, student: graph(batch: options.batchSize),
        teacher: teachers?.featureGraph(batch: options.batchSize), seed: options.seed &+ 2
    )

    func graph(batch: Int) -> ResNetGraph {
        if let cached = graphs[batch] { return cached }
        let data = trainLoader.dataset
        let built = ResNetGraph(
            model: student, batch: batch, height: data.height, width: data.width,
            withGradients: true, bfloat16: options.useAMP
        )
        graphs[batch] = built
        return built
    }

    /// Trains one epoch and returns its mean metrics. `epoch` (1-based) counts across stages
    /// and picks the sample order. The KD warm-up and cool-down follow `stageEpoch` of
    /// `stageEpochs`, the position within the stage's B-Step, as in the original.
    func trainEpoch(
        _ epoch: Int, stageEpoch: Int? = nil, stageEpochs: Int? = nil
    ) throws -> [String: Double] {
        let started = Date()
        let local = stageEpoch ?? epoch
        currentEpoch = local
        let kdWeight = teachers == nil ? 0 : options.asib.cooledWeight(
            options.kdWeight(epoch: local), kdAlpha: options.kdAlpha, epoch: local,
            epochs: stageEpochs ?? options.epochs
        )
        mixRandom = RandomGenerator(
            seed: options.seed &+ 5 &+ UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15
        )
        teacherWeights = teachers.map {
            options.studentStep.averagingWeights($0.rawWeights, epoch: local)
        }
        var totals = EpochTotals()
        let order = trainLoader.order(epoch: epoch, shuffle: true)
        for indices in trainLoader.batches(of: order) {
            let rate = schedule.rate(atStep: step)
            var result = try trainStep(indices: indices, kdWeight: kdWeight, learningRate: rate)
            if step == 0 && options.useAMP && FaultInjection.nonFiniteLossWithAMP {
                result.loss = .nan
            }
            guard result.loss.isFinite else {
                throw TrainerError.nonFiniteLoss(epoch: epoch, step: step, value: result.loss)
            }
            totals.add(result, batch: indices.count, learningRate: rate)
            step += 1
        }
        var metrics = totals.means()
        metrics["tau"] = options.temperature
        metrics["kd_alpha"] = kdWeight
        if let teacherWeights, options.studentStep.teacher2DecayStartEpoch != nil {
            for (index, weight) in teacherWeights.enumerated() {
                metrics["teacher_w\(index)"] = Double(weight)
            }
        }
        metrics["epoch_sec"] = Date().timeIntervalSince(started)
        return metrics
    }

    /// Returns the test accuracy in percent, with BN running statistics.
    func evaluate() -> Double {
        var correct = 0
        let order = testLoader.order(epoch: 0, shuffle: false)
        for indices in testLoader.batches(of: order) {
            let batch = indices.count
            labels.withUnsafeMutableBufferPointer { labelBuffer in
                testLoader.fill(
                    input: input.data, labels: labelBuffer.baseAddress!, indices: indices,
                    training: false
                )
            }
            let logits = graph(batch: batch).forward(input: input.data, training: false)
            correct += countCorrect(logits, batch: batch)
        }
        return 100 * Double(correct) / Double(max(1, testLoader.dataset.count))
    }

    /// Clips the trainable student gradient to `grad_clip_norm` when that is above 0,
    /// applies one optimiser step to the trainable student parameters and updates the EMA
    /// copy. Returns whether it clipped. `adapter`, the student adapter when the B-Step
    /// trains it, is clipped jointly with the student and stepped by
    /// `studentAdapterOptimiser`.
    @discardableResult
    func stepStudent(learningRate: Double, adapter: ParameterStore? = nil) -> Bool {
        let parameters = student.parameters
        let ranges = trainableRanges ?? [0..<parameters.count]
        var clipped = false
        let maxNorm = options.studentStep.gradientClipNorm
        if maxNorm > 0 {
            var groups = [(gradients: parameters.gradients, ranges: ranges)]
            if let adapter { groups.append((adapter.gradients, [0..<adapter.count])) }
            let norm = GradientClipping.clip(groups: groups, maxNorm: maxNorm)
            clipped = norm > maxNorm
        }
        if let adapter, let studentAdapterOptimiser {
            studentAdapterOptimiser.step(
                values: adapter.values, gradients: adapter.gradients, count: adapter.count,
                learningRate: learningRate
            )
        }
        if trainableRanges != nil {
            optimiser.step(
                values: parameters.values, gradients: parameters.gradients, ranges: ranges,
                learningRate: learningRate
            )
        } else {
            optimiser.step(
                values: parameters.values, gradients: parameters.gradients,
                count: parameters.count, learningRate: learningRate
            )
        }
        emaTeacher?.update(from: student)
        return clipped
    }

    private func trainStep(
        indices: ArraySlice<Int>, kdWeight: Double, learningRate: Double
    ) throws -> StepResult {
        let batch = indices.count
        let classes = student.classes
        let network = graph(batch: batch)
        labels.withUnsafeMutableBufferPointer { labelBuffer in
            trainLoader.fill(
                input: input.data, labels: labelBuffer.baseAddress!, indices: indices,
                training: true
            )
        }
        mixBatch(batch: batch)

        // Forward: student logits on the (mixed) batch, CE and, with a KD weight, the
        // teachers' target and KD.
        student.parameters.zeroGradients()
        let studentInput = batchMix.isMixed ? mixedInput.data : input.data
        let logits = network.forward(input: studentInput, training: true)
        var result = StepResult()
        result.mix = batchMix.isMixed ? batchMix.lambda : nil
        // Training accuracy counts only unmixed batches: a mixed image has two labels.
        if !batchMix.isMixed { result.correct = countCorrect(logits, batch: batch) }
        result.ce = crossEntropyForward(logits: logits, batch: batch)
        var weightedFeature = 0.0
        if let synergy, let teachers {
            // The ASIB B-Step also runs at KD weight 0 (the end of the cool-down), so its
            // loss clamp and metrics stay in force.
            return try synergyStep(
                result: result, synergy: synergy, teachers: teachers, network: network,
                kdWeight: kdWeight, learningRate: learningRate, batch: batch
            )
        } else if let teachers, kdWeight > 0 {
            computeKDTarget(teachers: teachers, batch: batch)
            if options.distillation.usesTeacherFeatures && batchMix.isMixed {
                // Feature terms compare the same images: the feature teacher runs on the
                // student's mixed batch, whichever view the KD target used.
                teachers.featureGraph(batch: batch).forward(input: studentInput, training: false)
            }
            let teacherGraph = teachers.featureGraph(batch: batch)
            let terms = distillationLabels.withUnsafeBufferPointer {
                objective.forward(
                    studentLogits: logits, teacherLogits: teacherTarget.data,
                    labels: $0.baseAddress!, student: network, teacher: teacherGraph, batch: batch
                )
            }
            result.kd = terms.logit
            result.parts = terms.parts
            weightedFeature = terms.weightedFeature
        }
        result.loss = options.ceAlpha * result.ce + kdWeight * result.kd + weightedFeature
        guard result.loss.isFinite else { return result }

        // Backward: loss = ceAlpha * CE + kdWeight * (KD or DKD) + the weighted feature term,
        // then one optimiser step of the student and of the FitNet regressor.
        logitGradient.zero()
        crossEntropyBackward(scale: options.ceAlpha, batch: batch)
        var featureGradients = FeatureGradients()
        let distilling = teachers != nil && kdWeight > 0
        if distilling {
            featureGradients = distillationLabels.withUnsafeBufferPointer {
                objective.backward(
                    logitGradient: logitGradient.data, labels: $0.baseAddress!,
                    logitWeight: kdWeight, student: network, batch: batch
                )
            }
        }
        network.backward(logitGradient: logitGradient.data, featureGradients: featureGradients)
        let clipped = stepStudent(learningRate: learningRate)
        if options.studentStep.gradientClipNorm > 0 {
            result.parts["grad_clip_ratio"] = clipped ? 1 : 0
        }
        if distilling { objective.step(learningRate: learningRate) }
        return result
    }

    func countCorrect(_ logits: UnsafePointer<Float>, batch: Int) -> Int {
        let classes = student.classes
        var correct = 0
        for b in 0..<batch {
            let row = logits + b * classes
            var predicted = 0
            for k in 1..<classes where row[k] > row[predicted] { predicted = k }
            if predicted == Int(labels[b]) { correct += 1 }
        }
        return correct
    }
}

/// Losses and correct predictions of one training step (losses are batch means).
struct StepResult {
    var loss = 0.0
    var ce = 0.0
    var kd = 0.0
    /// Named parts of the distillation terms (tckd, nckd, hint, at).
    var parts: [String: Double] = [:]
    /// Correct predictions; counted only for unmixed batches.
    var correct = 0
    /// The mixing coefficient lambda of a mixed batch, nil for an unmixed one.
    var mix: Double?
}

/// Sums over an epoch's steps, weighted by batch size, for the epoch means.
struct EpochTotals {
    private var samples = 0
    private var steps = 0
    private var loss = 0.0
    private var ce = 0.0
    private var kd = 0.0
    private var parts: [String: Double] = [:]
    private var correct = 0
    private var learningRate = 0.0
    private var mixedSteps = 0
    private var lambdaTotal = 0.0

    mutating func add(_ result: StepResult, batch: Int, learningRate rate: Double) {
        samples += batch
        steps += 1
        loss += result.loss * Double(batch)
        ce += result.ce * Double(batch)
        kd += result.kd * Double(batch)
        for (name, value) in result.parts { parts[name, default: 0] += value * Double(batch) }
        correct += result.correct
        learningRate += rate
        if let lambda = result.mix {
            mixedSteps += 1
            lambdaTotal += lambda
        }
    }

    /// Returns the epoch means. `train_acc` is left out when any batch was mixed, and
    /// `mix_lambda_mean` (the mean lambda over mixed batches) is added then.
    func means() -> [String: Double] {
        let count = Double(max(samples, 1))
        var means = parts.mapValues { $0 / count }
        means.merge([
            "loss": loss / count, "ce": ce / count, "kd": kd / count,
            "lr": learningRate / Double(max(steps, 1)),
        ]) { _, fixed in fixed }
        if mixedSteps == 0 {
            means["train_acc"] = 100 * Double(correct) / count
        } else {
            means["mix_lambda_mean"] = lambdaTotal / Double(mixedSteps)
        }
        return means
    }
}
