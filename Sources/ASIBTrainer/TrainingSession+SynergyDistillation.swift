import Foundation

// Shapes: batch input [C, B, H, W]; labels [B]; student, teacher, synergy and target logits
// and gradients [B, K]; per-sample losses, weights and masks [B].

/// The ASIB B-Step for one batch: logit distillation whose target comes from the synergy
/// head once the synergy gate is open.
///
/// - Target: the teacher side `a` (the weighted teacher average, or with an EMA teacher the
///   confidence-weighted combination of the teachers and the EMA student) while the gate is
///   closed. With the gate open, `kd_target: synergy` distils from
///   `z = synergy_logit_scale * head(mu)` at `tau_syn`, and `auto`/`auto_min` choose per
///   sample whichever of z and a has the lower label CE.
/// - Selection: the sample gate keeps the least confident samples, those with a true-class
///   probability below `kd_sample_thr`, bounded to the `kd_sample_min_ratio` to
///   `kd_sample_max_ratio` fraction of the batch.
/// - Weights: certainty weights `clamp(c / mean c, min_cw, max_cw)` with
///   `c = mean exp(-logvar)` when IB_MBM ran, times the entropy weights
///   `clamp(1 / (1 + kd_uncertainty_weight * H(target)), kd_uncertainty_min, 1)`.
/// - `KD = sum(w * kd) / |selected|`, scaled down to `kd_max_ratio * CE` after the KD
///   warm-up, and `L = ce_alpha * CE + kd_weight * KD`, soft- or hard-clamped at
///   `loss_clamp_max` when `use_loss_clamp`.
extension TrainingSession {
    func synergyStep(
        result initial: StepResult, synergy: SynergyModule, teachers: TeacherEnsemble,
        network: ResNetGraph, kdWeight: Double, learningRate: Double, batch: Int
    ) throws -> StepResult {
        let settings = options.asib
        let classes = student.classes
        var result = initial
        let logits = network.logits.data

        // Teacher side: the weighted average, optionally pooled with the EMA student.
        teachers.computeTarget(output: teacherTarget.data, input: input.data, batch: batch)
        var target = Array(UnsafeBufferPointer(start: teacherTarget.data, count: batch * classes))
        if let emaTeacher {
            let emaLogits = emaTeacher.logits(input: input.data, batch: batch)
            target = poolWithEMA(target, ema: emaLogits, batch: batch)
        }

        // Synergy side, with the gate open.
        var temperature = options.temperature
        var certainty: [Double]?
        var synergyRows = 0
        let gateOpen = options.kdTarget.usesSynergy && synergy.gateOpen
        if gateOpen {
            if teachers.target == .teacher { teachers.forwardAll(input: input.data, batch: batch) }
            synergy.load(student: network, teachers: teachers.allGraphs(batch: batch), batch: batch)
            let raw = synergy.forward(batch: batch, training: false, random: &synergyRandom)
            let scale = Float(settings.synergyLogitScale)
            let synergyLogits = (0..<(batch * classes)).map { raw[$0] * scale }
            certainty = synergy.certainty(batch: batch)
            if options.kdTarget == .synergy {
                target = synergyLogits
                temperature = settings.synergyTemperature ?? temperature
                synergyRows = batch
            } else {
                let choice = chooseSynergyRows(synergyLogits, teacherSide: target, batch: batch)
                for b in 0..<batch where choice[b] {
                    let row = b * classes
                    for k in 0..<classes { target[row + k] = synergyLogits[row + k] }
                }
                synergyRows = choice.filter { $0 }.count
            }
        }

        // Per-sample KD and its weights.
        let (selected, sampleRatio) = sampleGate(batch: batch)
        let selectedCount = selected.filter { $0 }.count
        var kd = [Double](repeating: 0, count: batch)
        let studentSoftened = Tensor(shape: [batch, classes])
        let targetSoftened = Tensor(shape: [batch, classes])
        target.withUnsafeBufferPointer {
            SampleLosses.distillation(
                losses: &kd, probabilities: studentSoftened.data,
                targetProbabilities: targetSoftened.data, logits: logits,
                targetLogits: $0.baseAddress!, temperature: temperature, batch: batch,
                classes: classes
            )
        }
        let weights = sampleWeights(
            selected: selected, certainty: certainty, targetProbabilities: targetSoftened.data,
            batch: batch
        )
        var kdValue = 0.0
        for b in 0..<batch { kdValue += weights.combined[b] * kd[b] }
        kdValue /= Double(max(selectedCount, 1))

        // Ratio clamp after the warm-up, then the total loss and its clamp.
        var kdScale = 1.0
        if let ratio = settings.kdMaxRatio, currentEpoch > options.kdWarmupEpochs {
            kdScale = min(1, ratio * max(result.ce, 1e-6) / max(kdValue, 1e-6))
        }
        result.kd = kdValue * kdScale
        let unclamped = options.ceAlpha * result.ce + kdWeight * result.kd
        let lossFactor = lossClampFactor(unclamped)
        // The hard clamp reports M and passes no gradient; the soft clamp scales both.
        let hardClamped = lossFactor == 0
        result.loss = hardClamped ? options.asib.lossClampMax : unclamped * lossFactor
        result.parts = [
            "gate_ratio": gateOpen ? 1 : 0,
            "kd_syn_ratio": Double(synergyRows) / Double(batch),
            "kd_sample_ratio": sampleRatio,
            "kd_clamp_ratio": kdScale < 0.999 ? 1 : 0,
            "loss_clamped": lossFactor < 1 ? 1 : 0,
            "kd_unc_w_mean": weights.uncertaintyMean,
        ]
        if certainty != nil { result.parts["cw_mean"] = weights.certaintyMean }
        guard result.loss.isFinite else { return result }

        // Backward: CE and the weighted KD into the student logits, then one step.
        logitGradient.zero()
        labels.withUnsafeBufferPointer {
            CrossEntropyLoss.backward(
                logitGradient: logitGradient.data, probabilities: probabilities.data,
                labels: $0.baseAddress!, smoothing: options.labelSmoothing,
                scale: options.ceAlpha * lossFactor, batch: batch, classes: classes
            )
        }
        let kdFactor = kdWeight * kdScale * lossFactor / Double(max(selectedCount, 1))
        let kdWeights = weights.combined.map { $0 * kdFactor }
        SampleLosses.distillationBackward(
            logitGradient: logitGradient.data, probabilities: studentSoftened.data,
            targetProbabilities: targetSoftened.data, weights: kdWeights,
            temperature: temperature, batch: batch, classes: classes
        )
        network.backward(logitGradient: logitGradient.data)
        stepStudent(learningRate: learningRate)
        return result
    }

    /// Returns per sample whether the synergy logits have a label CE no higher than the
    /// teacher side's (the `label_ce` policy, no smoothing, temperature 1).
    private func chooseSynergyRows(
        _ synergyLogits: [Float], teacherSide: [Float], batch: Int
    ) -> [Bool] {
        let classes = student.classes
        return (0..<batch).map { b in
            let label = Int(labels[b])
            let synergyCE = synergyLogits.withUnsafeBufferPointer {
                -Softmax.logSoftmax($0.baseAddress! + b * classes, classes)[label]
            }
            let teacherCE = teacherSide.withUnsafeBufferPointer {
                -Softmax.logSoftmax($0.baseAddress! + b * classes, classes)[label]
            }
            return synergyCE <= teacherCE
        }
    }

    /// Returns the confidence-weighted combination of the teacher average and the EMA
    /// student: weights `max softmax` of each, normalised per sample.
    private func poolWithEMA(_ average: [Float], ema: UnsafePointer<Float>, batch: Int) -> [Float] {
        let classes = student.classes
        var pooled = average
        for b in 0..<batch {
            let teacherConfidence = average.withUnsafeBufferPointer {
                exp(Softmax.logSoftmax($0.baseAddress! + b * classes, classes).max() ?? 0)
            }
            let emaConfidence = exp(Softmax.logSoftmax(ema + b * classes, classes).max() ?? 0)
            let share = Float(teacherConfidence / max(teacherConfidence + emaConfidence, 1e-8))
            for k in 0..<classes {
                let i = b * classes + k
                pooled[i] = share * average[i] + (1 - share) * ema[i]
            }
        }
        return pooled
    }

    /// Returns the rows kept by the sample gate (all rows without the gate) and the raw
    /// fraction below the threshold.
    private func sampleGate(batch: Int) -> ([Bool], Double) {
        let settings = options.asib
        guard settings.sampleGate else { return ([Bool](repeating: true, count: batch), 1) }
        let classes = student.classes
        let confidence = (0..<batch).map {
            Double(probabilities.data[$0 * classes + Int(labels[$0])])
        }
        var mask = confidence.map { $0 < settings.sampleThreshold }
        let ratio = Double(mask.filter { $0 }.count) / Double(batch)
        if ratio > settings.sampleMaxRatio {
            let bound = Self.quantile(confidence, settings.sampleMaxRatio)
            mask = confidence.map { $0 <= bound }
        } else if ratio < settings.sampleMinRatio {
            let bound = Self.quantile(confidence, settings.sampleMinRatio)
            mask = confidence.map { $0 <= bound }
        }
        if !mask.contains(true) { mask = [Bool](repeating: true, count: batch) }
        return (mask, ratio)
    }

    /// Returns the `q` quantile, interpolating linearly between sorted neighbours.
    static func quantile(_ values: [Double], _ q: Double) -> Double {
        let sorted = values.sorted()
        let position = Double(sorted.count - 1) * q
        let lower = Int(position.rounded(.down))
        let upper = min(lower + 1, sorted.count - 1)
        let fraction = position - Double(lower)
        return sorted[lower] + fraction * (sorted[upper] - sorted[lower])
    }

    private struct SampleWeights {
        var combined: [Double]
        var certaintyMean = 1.0
        var uncertaintyMean = 1.0
    }

    /// Returns the KD weight of each row: 0 outside the selection, else the certainty weight
    /// (normalised over the selection) times the entropy weight.
    private func sampleWeights(
        selected: [Bool], certainty: [Double]?, targetProbabilities: UnsafePointer<Float>,
        batch: Int
    ) -> SampleWeights {
        let settings = options.asib
        let classes = student.classes
        var weights = SampleWeights(combined: selected.map { $0 ? 1 : 0 })
        let rows = (0..<batch).filter { selected[$0] }
        if let certainty {
            let mean = rows.reduce(0) { $0 + certainty[$1] } / Double(max(rows.count, 1))
            var total = 0.0
            for b in rows {
                let weight = min(
                    max(certainty[b] / (mean + 1e-8), settings.minCertaintyWeight),
                    settings.maxCertaintyWeight
                )
                weights.combined[b] *= weight
                total += weight
            }
            weights.certaintyMean = total / Double(max(rows.count, 1))
        }
        guard settings.uncertaintyWeight > 0 else { return weights }
        var total = 0.0
        for b in rows {
            var entropy = 0.0
            for k in 0..<classes {
                let q = Double(targetProbabilities[b * classes + k])
                entropy -= q * log(q + 1e-8)
            }
            let raw = 1 / (1 + settings.uncertaintyWeight * entropy)
            let weight = min(max(raw, settings.uncertaintyMin), 1)
            weights.combined[b] *= weight
            total += weight
        }
        weights.uncertaintyMean = total / Double(max(rows.count, 1))
        return weights
    }

    /// Returns the factor of the total-loss clamp: `M / L` above M for the soft mode (a
    /// constant, so gradients scale with it), 0 above M for the hard mode, otherwise 1.
    private func lossClampFactor(_ loss: Double) -> Double {
        let settings = options.asib
        guard settings.useLossClamp, loss > settings.lossClampMax else { return 1 }
        return settings.softLossClamp ? settings.lossClampMax / (loss + 1e-8) : 0
    }
}
