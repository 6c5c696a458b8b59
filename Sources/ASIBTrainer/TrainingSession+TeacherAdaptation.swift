import Foundation

// Shapes: batch input [C, B, H, W]; labels [B]; student, synergy logits and gradients [B, K];
// per-sample losses and weights [B].

/// The ASIB A-Step: IB_MBM and the synergy head learn to classify from the student query and
/// the teacher tokens while the student and the teacher backbones stay frozen. With
/// `train_distill_adapter_only` the distillation adapters train as well (see
/// `SynergyModule`).
///
/// Per batch, with `p = synergy head(z)`, `cw_b = clamp(mean_e exp(-logvar_b), min_cw, 1)`:
/// `L = w_syn * mean(cw * CE_eps(p, y)) + kd_alpha * mean(cw * tau^2 KL(s || p))
///      + beta * KL_IB + feat_kd_alpha_in_a * FKD_A (+ CCCP)`, FKD_A as in
/// `FeatureDistillationLoss`.
/// The first `synergy_only_epochs` use `L = mean CE(p, y) + feat_kd_alpha_in_a * FKD_A`.
/// FKD_A keeps its certainty weights there, as in the original. The KD term needs the synergy
/// gate open (EMA synergy accuracy >= enable_kd_after_syn_acc).
///
/// Departures from the original, which the original's own configs intend: z is sampled
/// during training (the original always passes z = mu), there is no learning-rate halving
/// roll-back between epochs, and no best-epoch state is restored, because that selection
/// used the test set.
extension TrainingSession {
    func makeSynergyModule() -> SynergyModule? {
        guard options.asib.enabled, let teachers else { return nil }
        return SynergyModule(
            options: options.asib, studentWidth: student.features,
            teacherWidths: teachers.models.map(\.features), classes: student.classes,
            batch: options.batchSize, seed: options.seed &+ 4
        )
    }

    /// Runs the A-Step epochs of a 1-based stage from the 0-based epoch `start` on (later
    /// than 0 after a resume) and reports each as phase "teacher", numbered across stages.
    /// `completed` runs after each report (the resume save).
    func adaptTeachers(
        stage: Int, start: Int, onEpoch: (EpochReport) throws -> Void,
        completed: () throws -> Void
    ) throws {
        guard let synergy, let teachers else { return }
        let epochs = options.asib.teacherAdaptEpochs
        if start == 0 { stageBestSynergy = nil }
        for epoch in start..<max(start, epochs) {
            let globalEpoch = (stage - 1) * epochs + epoch
            var metrics = try adaptationEpoch(
                epoch, globalEpoch: globalEpoch, synergy: synergy, teachers: teachers
            )
            var evaluated: Double?
            if (epoch + 1) % max(1, options.asib.evaluateEvery) == 0 {
                let accuracy = evaluateSynergy(synergy: synergy, teachers: teachers)
                synergy.recordAccuracy(accuracy)
                stageBestSynergy = max(stageBestSynergy ?? accuracy, accuracy)
                evaluated = accuracy
                metrics["synergy_acc"] = accuracy
            }
            // syn_acc follows the original's teacher_ep{N}_syn_acc: the accuracy evaluated in
            // this epoch, else the EMA percentage of earlier evaluations, else -1.
            let ema = synergy.accuracyEMA.map { 100 * $0 } ?? -1
            metrics["synergy_acc_ema"] = ema
            metrics["syn_acc"] = evaluated ?? ema
            metrics["stage"] = Double(stage)
            try onEpoch(EpochReport(phase: "teacher", epoch: globalEpoch + 1, metrics: metrics))
            try completed()
        }
    }

    /// Sets the synergy gate for the B-Step of a stage. As in the original, after an A-Step
    /// the gate reads that A-Step's best evaluated synergy accuracy rather than the EMA; when
    /// no accuracy was ever measured, the synergy head is evaluated once.
    func prepareSynergyGate() {
        guard let synergy, let teachers else { return }
        if let best = stageBestSynergy {
            synergy.accuracyEMA = best / 100
        } else if synergy.accuracyEMA == nil {
            synergy.recordAccuracy(evaluateSynergy(synergy: synergy, teachers: teachers))
        }
    }

    /// Trains one A-Step epoch: `epoch` counts within the stage (synergy-only window, CCCP
    /// ramp) and `globalEpoch` across stages (IB beta warm-up, sample order).
    private func adaptationEpoch(
        _ epoch: Int, globalEpoch: Int, synergy: SynergyModule, teachers: TeacherEnsemble
    ) throws -> [String: Double] {
        let settings = options.asib
        let started = Date()
        let synergyOnly = epoch < min(settings.synergyOnlyEpochs, settings.teacherAdaptEpochs)
        let beta = InformationBottleneckLoss.beta(
            settings.ibBeta, epoch: globalEpoch, warmupEpochs: settings.ibBetaWarmupEpochs
        )
        let kdOpen = !synergyOnly && options.kdAlpha > 0 && synergy.gateOpen
        var sums = ["loss": 0.0, "ce": 0.0, "kd": 0.0, "ib_kld": 0.0, "cw_mean": 0.0, "cccp": 0.0]
        var samples = 0
        var correct = 0
        // Orders from 1_000_000 on, apart from the student epochs' orders 1, 2, ...
        let order = trainLoader.order(epoch: 1_000_000 + globalEpoch, shuffle: true)
        for indices in trainLoader.batches(of: order) {
            let batch = indices.count
            let step = try adaptationStep(
                indices: indices, synergy: synergy, teachers: teachers,
                synergyOnly: synergyOnly, kdOpen: kdOpen, beta: beta, epoch: epoch
            )
            guard step.loss.isFinite else {
                throw TrainerError.nonFiniteLoss(epoch: epoch + 1, step: samples, value: step.loss)
            }
            for (name, value) in step.values { sums[name, default: 0] += value * Double(batch) }
            correct += step.correct
            samples += batch
        }
        var metrics = sums.mapValues { $0 / Double(max(samples, 1)) }
        metrics["train_acc"] = 100 * Double(correct) / Double(max(samples, 1))
        metrics["tau"] = options.temperature
        metrics["ib_beta"] = beta
        metrics["kd_open"] = kdOpen ? 1 : 0
        metrics["synergy_only"] = synergyOnly ? 1 : 0
        metrics["epoch_sec"] = Date().timeIntervalSince(started)
        return metrics
    }

    private struct AdaptationStep {
        var values: [String: Double] = [:]
        var correct = 0
        var loss: Double { values["loss"] ?? 0 }
    }

    private func adaptationStep(
        indices: ArraySlice<Int>, synergy: SynergyModule, teachers: TeacherEnsemble,
        synergyOnly: Bool, kdOpen: Bool, beta: Double, epoch: Int
    ) throws -> AdaptationStep {
        let settings = options.asib
        let batch = indices.count
        let classes = student.classes
        let tau = options.temperature
        labels.withUnsafeMutableBufferPointer {
            trainLoader.fill(
                input: input.data, labels: $0.baseAddress!, indices: indices, training: true
            )
        }

        // Frozen student and teachers (evaluation mode), then IB_MBM and the head.
        let network = graph(batch: batch)
        let studentLogits = network.forward(input: input.data, training: false)
        teachers.forwardAll(input: input.data, batch: batch)
        synergy.load(student: network, teachers: teachers.allGraphs(batch: batch), batch: batch)
        let logits = synergy.forward(batch: batch, training: true, random: &synergyRandom)

        // Per-sample CE and certainty weights.
        var ce = [Double](repeating: 0, count: batch)
        labels.withUnsafeBufferPointer {
            SampleLosses.crossEntropy(
                losses: &ce, probabilities: probabilities.data, logits: logits,
                labels: $0.baseAddress!, smoothing: settings.synergyLabelSmoothing, batch: batch,
                classes: classes
            )
        }
        let clampedCertainty = synergy.certainty(batch: batch).map {
            min(max($0, settings.minCertaintyWeight), 1)
        }
        let certainty = synergyOnly ? [Double](repeating: 1, count: batch) : clampedCertainty
        let synergyWeight = synergyOnly ? 1 : settings.synergyCEAlpha

        // KD of the student into the synergy logits, and its CCCP copy.
        var kd = [Double](repeating: 0, count: batch)
        let studentSoftened = Tensor(shape: [batch, classes])
        let synergySoftened = Tensor(shape: [batch, classes])
        let cccpWeight = settings.useCCCP && kdOpen
            ? settings.cccpAlpha * min(1, Double(max(0, epoch - settings.synergyOnlyEpochs + 1))
                / Double(max(1, settings.cccpRampEpochs)))
            : 0
        if kdOpen {
            SampleLosses.distillation(
                losses: &kd, probabilities: synergySoftened.data,
                targetProbabilities: studentSoftened.data, logits: logits,
                targetLogits: studentLogits, temperature: tau, batch: batch, classes: classes
            )
        }
        let kl = InformationBottleneckLoss.forward(
            mu: synergy.block.mu.data, logvar: synergy.block.logvar.data, batch: batch,
            features: settings.embed
        )
        let ibWeight = synergyOnly ? 0 : beta
        let n = Double(batch)
        let ceMean = zip(certainty, ce).reduce(0) { $0 + $1.0 * $1.1 } / n
        let kdMean = zip(certainty, kd).reduce(0) { $0 + $1.0 * $1.1 } / n
        let cccp = cccpWeight * kd.reduce(0, +) / n
        // Feature KD weighs by the clamped certainty in every epoch, the synergy-only
        // epochs included, as the original does.
        let featureKD = synergy.computesFeatureKD
            ? FeatureDistillationLoss.forward(
                student: synergy.query.data, mu: synergy.block.mu.data, weights: clampedCertainty,
                batch: batch, features: settings.embed
            )
            : 0
        var step = AdaptationStep()
        step.values = [
            "loss": synergyWeight * ceMean + options.kdAlpha * kdMean + ibWeight * kl + cccp
                + settings.featureKDAlphaInA * featureKD,
            "ce": ceMean, "kd": kdMean, "ib_kld": kl, "cccp": cccp,
            "cw_mean": certainty.reduce(0, +) / n,
        ]
        if synergy.computesFeatureKD { step.values["fkd"] = featureKD }
        step.correct = countCorrect(logits, batch: batch)
        guard step.loss.isFinite else { return step }

        // Backward into the head, IB_MBM and the trained adapters.
        synergy.zeroGradients()
        synergy.block.zeroOutputGradients()
        logitGradient.zero()
        let ceWeights = certainty.map { synergyWeight * $0 / n }
        labels.withUnsafeBufferPointer {
            SampleLosses.crossEntropyBackward(
                logitGradient: logitGradient.data, probabilities: probabilities.data,
                labels: $0.baseAddress!, weights: ceWeights,
                smoothing: settings.synergyLabelSmoothing, batch: batch, classes: classes
            )
        }
        if kdOpen {
            let kdWeights = certainty.map { (options.kdAlpha * $0 + cccpWeight) / n }
            SampleLosses.distillationBackward(
                logitGradient: logitGradient.data, probabilities: synergySoftened.data,
                targetProbabilities: studentSoftened.data, weights: kdWeights,
                temperature: tau, batch: batch, classes: classes
            )
        }
        if ibWeight > 0 {
            InformationBottleneckLoss.backward(
                muGradient: synergy.block.muGradient.data,
                logvarGradient: synergy.block.logvarGradient.data, mu: synergy.block.mu.data,
                logvar: synergy.block.logvar.data, beta: ibWeight, batch: batch,
                features: settings.embed
            )
        }
        if synergy.computesFeatureKD && settings.featureKDAlphaInA > 0 {
            FeatureDistillationLoss.backward(
                muGradient: synergy.block.muGradient.data, student: synergy.query.data,
                mu: synergy.block.mu.data, weights: clampedCertainty,
                scale: settings.featureKDAlphaInA, batch: batch, features: settings.embed
            )
        }
        synergy.backwardAndStep(logitGradient: logitGradient.data, batch: batch)
        return step
    }

    /// Returns the synergy head's test accuracy in percent, with z = mu.
    func evaluateSynergy(synergy: SynergyModule, teachers: TeacherEnsemble) -> Double {
        var correct = 0
        let order = testLoader.order(epoch: 0, shuffle: false)
        for indices in testLoader.batches(of: order) {
            let batch = indices.count
            labels.withUnsafeMutableBufferPointer {
                testLoader.fill(
                    input: input.data, labels: $0.baseAddress!, indices: indices, training: false
                )
            }
            let network = graph(batch: batch)
            network.forward(input: input.data, training: false)
            teachers.forwardAll(input: input.data, batch: batch)
            synergy.load(student: network, teachers: teachers.allGraphs(batch: batch), batch: batch)
            let logits = synergy.forward(batch: batch, training: false, random: &synergyRandom)
            correct += countCorrect(logits, batch: batch)
        }
        return 100 * Double(correct) / Double(max(1, testLoader.dataset.count))
    }
}
