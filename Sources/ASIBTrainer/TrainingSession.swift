import Foundation

// Shapes: batch input [C, B, H, W]; labels [B]; logits, probabilities, gradients [B, K].

/// The buffers, optimiser and schedule of one run, and the training and evaluation epochs.
final class TrainingSession {
    let options: TrainingOptions
    let student: ResNetModel
    let teachers: TeacherEnsemble?
    let trainLoader: BatchLoader
    let testLoader: BatchLoader
    let optimiser: SGD
    let schedule: LearningRateSchedule
    /// Graphs by batch size: the full batch and the smaller last batches of each split.
    private var graphs: [Int: ResNetGraph] = [:]
    /// Batch buffers sized for the full batch; smaller batches use their prefix.
    private let input: Tensor
    private var labels: [Int32]
    private let probabilities: Tensor
    private let studentSoftened: Tensor
    private let teacherSoftened: Tensor
    private let teacherTarget: Tensor
    private let logitGradient: Tensor
    /// Optimiser steps taken; the learning-rate schedule is indexed by it.
    var step = 0

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
        optimiser = SGD(
            parameterCount: student.parameters.count, momentum: options.momentum,
            nesterov: options.nesterov, weightDecay: options.weightDecay
        )
        let stepsPerEpoch = (train.count + options.batchSize - 1) / options.batchSize
        schedule = LearningRateSchedule(
            base: options.learningRate, minimum: options.minLearningRate,
            warmupEpochs: options.warmupEpochs, epochs: options.epochs,
            stepsPerEpoch: stepsPerEpoch
        )
        let batch = options.batchSize
        input = Tensor(shape: [train.channels, batch, train.height, train.width])
        labels = [Int32](repeating: 0, count: batch)
        let logitShape = [batch, train.classes]
        probabilities = Tensor(shape: logitShape)
        studentSoftened = Tensor(shape: logitShape)
        teacherSoftened = Tensor(shape: logitShape)
        teacherTarget = Tensor(shape: logitShape)
        logitGradient = Tensor(shape: logitShape)
    }

    private func graph(batch: Int) -> ResNetGraph {
        if let cached = graphs[batch] { return cached }
        let data = trainLoader.dataset
        let built = ResNetGraph(
            model: student, batch: batch, height: data.height, width: data.width,
            withGradients: true
        )
        graphs[batch] = built
        return built
    }

    /// Trains one epoch (1-based) and returns its mean metrics.
    func trainEpoch(_ epoch: Int) throws -> [String: Double] {
        let started = Date()
        let kdWeight = teachers == nil ? 0 : options.kdWeight(epoch: epoch)
        var totals = EpochTotals()
        let order = trainLoader.order(epoch: epoch, shuffle: true)
        for indices in trainLoader.batches(of: order) {
            let rate = schedule.rate(atStep: step)
            let result = try trainStep(indices: indices, kdWeight: kdWeight, learningRate: rate)
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
        if let teachers, kdWeight > 0 {
            teachers.computeTarget(output: teacherTarget.data, input: input.data, batch: batch)
            result.kd = KDLoss.forward(
                studentProbabilities: studentSoftened.data,
                teacherProbabilities: teacherSoftened.data, studentLogits: logits,
                teacherLogits: teacherTarget.data, temperature: options.temperature,
                batch: batch, classes: classes
            )
        }
        result.loss = options.ceAlpha * result.ce + kdWeight * result.kd
        guard result.loss.isFinite else { return result }

        // Backward: loss = ceAlpha * CE + kdWeight * KD, then one SGD step.
        logitGradient.zero()
        labels.withUnsafeBufferPointer {
            CrossEntropyLoss.backward(
                logitGradient: logitGradient.data, probabilities: probabilities.data,
                labels: $0.baseAddress!, smoothing: options.labelSmoothing,
                scale: options.ceAlpha, batch: batch, classes: classes
            )
        }
        if teachers != nil && kdWeight > 0 {
            KDLoss.backward(
                studentLogitGradient: logitGradient.data,
                studentProbabilities: studentSoftened.data,
                teacherProbabilities: teacherSoftened.data, temperature: options.temperature,
                scale: kdWeight, batch: batch, classes: classes
            )
        }
        network.backward(logitGradient: logitGradient.data)
        optimiser.step(
            values: student.parameters.values, gradients: student.parameters.gradients,
            count: student.parameters.count, learningRate: learningRate
        )
        return result
    }

    private func countCorrect(_ logits: UnsafePointer<Float>, batch: Int) -> Int {
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
    var correct = 0
}

/// Sums over an epoch's steps, weighted by batch size, for the epoch means.
struct EpochTotals {
    private var samples = 0
    private var steps = 0
    private var loss = 0.0
    private var ce = 0.0
    private var kd = 0.0
    private var correct = 0
    private var learningRate = 0.0

    mutating func add(_ result: StepResult, batch: Int, learningRate rate: Double) {
        samples += batch
        steps += 1
        loss += result.loss * Double(batch)
        ce += result.ce * Double(batch)
        kd += result.kd * Double(batch)
        correct += result.correct
        learningRate += rate
    }

    func means() -> [String: Double] {
        let count = Double(max(samples, 1))
        return [
            "loss": loss / count, "ce": ce / count, "kd": kd / count,
            "train_acc": 100 * Double(correct) / count,
            "lr": learningRate / Double(max(steps, 1)),
        ]
    }
}
