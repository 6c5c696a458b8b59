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
    /// The 1-based student epoch in progress, counted within its stage.
    var currentEpoch = 0
    /// Best synergy test accuracy (percent) evaluated in the current stage's A-Step.
    var stageBestSynergy: Double?
    /// Student parameter ranges that train under a partial freeze; nil trains all of them.
    var trainableRanges: [Range<Int>]?

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
        optimiser = options.optimizer == .adamw
            ? AdamW(parameterCount: student.parameters.count, weightDecay: options.weightDecay)
            : SGD(
                parameterCount: student.parameters.count, momentum: options.momentum,
                nesterov: options.nesterov, weightDecay: options.weightDecay
            )
        let stepsPerEpoch = (train.count + options.batchSize - 1) / options.batchSize
        schedule = LearningRateSchedule(
            base: options.learningRate, minimum: options.minLearningRate,
            warmupEpochs: options.warmupEpochs, epochs: options.totalStudentEpochs,
            stepsPerEpoch: stepsPerEpoch
        )
        let batch = options.batchSize
        input = Tensor(shape: [train.channels, batch, train.height, train.width])
        labels = [Int32](repeating: 0, count: batch)
        let logitShape = [batch, train.classes]
        probabilities = Tensor(shape: logitShape)
        teacherTarget = Tensor(shape: logitShape)
        logitGradient = Tensor(shape: logitShape)
        synergyRandom = RandomGenerator(seed: options.seed &+ 3)
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
    /// and picks the sample order; the KD warm-up and cool-down follow `stageEpoch` of
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

    /// Applies one optimiser step to the student and updates its EMA copy.
    func stepStudent(learningRate: Double) {
        if let trainableRanges {
            optimiser.step(
                values: student.parameters.values, gradients: student.parameters.gradients,
                ranges: trainableRanges, learningRate: learningRate
            )
        } else {
            optimiser.step(
                values: student.parameters.values, gradients: student.parameters.gradients,
                count: student.parameters.count, learningRate: learningRate
            )
        }
        emaTeacher?.update(from: student)
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

        // Forward: student logits, CE and, with a KD weight, the teachers' target and KD.
        student.parameters.zeroGradients()
        let logits = network.forward(input: input.data, training: true)
        var result = StepResult()
        result.correct = countCorrect(logits, batch: batch)
        result.ce = labels.withUnsafeBufferPointer {
            CrossEntropyLoss.forward(
                probabilities: probabilities.data, logits: logits, labels: $0.baseAddress!,
                smoothing: options.labelSmoothing, batch: batch, classes: classes
            )
        }
        var weightedFeature = 0.0
        if let synergy, let teachers {
            // The ASIB B-Step also runs at KD weight 0 (the end of the cool-down), so its
            // loss clamp and metrics stay in force.
            return try synergyStep(
                result: result, synergy: synergy, teachers: teachers, network: network,
                kdWeight: kdWeight, learningRate: learningRate, batch: batch
            )
        } else if let teachers, kdWeight > 0 {
            teachers.computeTarget(output: teacherTarget.data, input: input.data, batch: batch)
            let teacherGraph = teachers.featureGraph(batch: batch)
            let terms = labels.withUnsafeBufferPointer {
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
        labels.withUnsafeBufferPointer {
            CrossEntropyLoss.backward(
                logitGradient: logitGradient.data, probabilities: probabilities.data,
                labels: $0.baseAddress!, smoothing: options.labelSmoothing,
                scale: options.ceAlpha, batch: batch, classes: classes
            )
        }
        var featureGradients = FeatureGradients()
        let distilling = teachers != nil && kdWeight > 0
        if distilling {
            featureGradients = labels.withUnsafeBufferPointer {
                objective.backward(
                    logitGradient: logitGradient.data, labels: $0.baseAddress!,
                    logitWeight: kdWeight, student: network, batch: batch
                )
            }
        }
        network.backward(logitGradient: logitGradient.data, featureGradients: featureGradients)
        stepStudent(learningRate: learningRate)
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
    var correct = 0
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

    mutating func add(_ result: StepResult, batch: Int, learningRate rate: Double) {
        samples += batch
        steps += 1
        loss += result.loss * Double(batch)
        ce += result.ce * Double(batch)
        kd += result.kd * Double(batch)
        for (name, value) in result.parts { parts[name, default: 0] += value * Double(batch) }
        correct += result.correct
        learningRate += rate
    }

    func means() -> [String: Double] {
        let count = Double(max(samples, 1))
        var means = parts.mapValues { $0 / count }
        means.merge([
            "loss": loss / count, "ce": ce / count, "kd": kd / count,
            "train_acc": 100 * Double(correct) / count,
            "lr": learningRate / Double(max(steps, 1)),
        ]) { _, fixed in fixed }
        return means
    }
}
