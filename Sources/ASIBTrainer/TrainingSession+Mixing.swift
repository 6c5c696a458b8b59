import Foundation

// Shapes: clean and mixed batch input [C, B, H, W]; labels and partner labels [B]; logits,
// probabilities and the KD target [B, K].

/// Batch mixing in the student step and the losses and targets that depend on it.
extension TrainingSession {
    /// Draws the mixing of the batch in `input` (mixup or CutMix, per `studentStep.mixMode`),
    /// writes the mixed images into `mixedInput` and the partners' labels into
    /// `partnerLabels`.
    func mixBatch(batch: Int) {
        let step = options.studentStep
        let mode = step.mixMode
        let alpha = mode == .cutmix ? step.cutmixAlpha : step.mixupAlpha
        let shape = (input.shape[0], batch, input.shape[2], input.shape[3])
        batchMix = BatchMixing.mix(
            mode: mode, alpha: alpha, clean: input.data, mixed: mixedInput.data, shape: shape,
            random: &mixRandom
        )
        partnerLabels = BatchMixing.partnerLabels(labels, mix: batchMix, batch: batch)
    }

    /// The input of the KD teachers and the EMA student: the clean batch unless
    /// `kd_target_view` is `mixed`. The two-view target reads clean-view logits, so it
    /// uses the clean batch whatever the view.
    var kdInput: UnsafeMutablePointer<Float> {
        let step = options.studentStep
        guard batchMix.isMixed, step.kdTargetView == .mixed,
            !step.twoViewActive(epoch: currentEpoch)
        else { return input.data }
        return mixedInput.data
    }

    /// The input of the synergy query and of the teachers' synergy features: the clean
    /// batch unless `synergy_view` is `mixed`.
    var synergyInput: UnsafeMutablePointer<Float> {
        batchMix.isMixed && options.studentStep.synergyView == .mixed
            ? mixedInput.data : input.data
    }

    /// The label that DKD splits the classes at: for a mixed batch, the label with the
    /// larger mixing weight (own labels when lambda >= 0.5, else the partners'), because DKD
    /// has a single target class per sample.
    var distillationLabels: [Int32] {
        batchMix.lambda >= 0.5 ? labels : partnerLabels
    }

    /// Returns the mean (mixed) CE of the student logits and saves the probabilities.
    func crossEntropyForward(logits: UnsafePointer<Float>, batch: Int) -> Double {
        labels.withUnsafeBufferPointer { own in
            partnerLabels.withUnsafeBufferPointer { partner in
                CrossEntropyLoss.forward(
                    probabilities: probabilities.data, logits: logits, labels: own.baseAddress!,
                    partnerLabels: partner.baseAddress!, lambda: batchMix.lambda,
                    smoothing: options.labelSmoothing, batch: batch, classes: student.classes
                )
            }
        }
    }

    /// Adds `scale` times the gradient of the mean (mixed) CE to `logitGradient`.
    func crossEntropyBackward(scale: Double, batch: Int) {
        labels.withUnsafeBufferPointer { own in
            partnerLabels.withUnsafeBufferPointer { partner in
                CrossEntropyLoss.backward(
                    logitGradient: logitGradient.data, probabilities: probabilities.data,
                    labels: own.baseAddress!, partnerLabels: partner.baseAddress!,
                    lambda: batchMix.lambda, smoothing: options.labelSmoothing, scale: scale,
                    batch: batch, classes: student.classes
                )
            }
        }
    }

    /// Returns per sample the probability the student gives the labels,
    /// `lambda * p[y_a] + (1 - lambda) * p[y_b]`, from the probabilities of the CE forward.
    func labelProbabilities(batch: Int) -> [Double] {
        let classes = student.classes
        let lambda = batchMix.lambda
        return (0..<batch).map { b in
            let own = Double(probabilities.data[b * classes + Int(labels[b])])
            guard lambda < 1 else { return own }
            let partner = Double(probabilities.data[b * classes + Int(partnerLabels[b])])
            return lambda * own + (1 - lambda) * partner
        }
    }

    /// Writes the KD target logits of the batch into `teacherTarget`: the teachers' target
    /// on the KD view, or while the two-view target is active, `tau * log q` of the
    /// two-view distribution q (the EMA student takes no part in it).
    func computeKDTarget(teachers: TeacherEnsemble, batch: Int) {
        let step = options.studentStep
        teachers.computeTarget(
            output: teacherTarget.data, input: kdInput, batch: batch, weights: teacherWeights,
            gateTemperature: step.gateTemperature ?? 1
        )
        guard step.twoViewActive(epoch: currentEpoch) else { return }
        writeTwoViewTarget(teachers: teachers, into: teacherTarget.data, batch: batch)
    }

    /// Writes `tau * log q` of the two-view target from the teachers' logits of the last
    /// `computeTarget` (which ran on the clean batch) into `output`.
    func writeTwoViewTarget(
        teachers: TeacherEnsemble, into output: UnsafeMutablePointer<Float>, batch: Int
    ) {
        TwoViewTarget.targetLogits(
            output: output, teacherLogits: teachers.targetLogits(batch: batch),
            partner: batchMix.partner, lambda: batchMix.lambda,
            temperature: options.temperature,
            gateTemperature: options.studentStep.gateTemperature ?? 2, batch: batch,
            classes: student.classes
        )
    }

    /// Returns the student graph whose features the synergy query reads. That is the
    /// training graph when it ran on the synergy view. Otherwise a graph without gradients
    /// runs on the clean batch in eval mode (running BN statistics), as in the A-Step.
    func synergyQueryGraph(training network: ResNetGraph, batch: Int) -> ResNetGraph {
        guard batchMix.isMixed, options.studentStep.synergyView == .clean else { return network }
        let query = queryGraphs[batch] ?? ResNetGraph(
            model: student, batch: batch, height: input.shape[2], width: input.shape[3],
            withGradients: false
        )
        queryGraphs[batch] = query
        query.forward(input: input.data, training: false)
        return query
    }
}
