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
/// - Mixed batches: the student trains on the mixed batch; the teachers and the EMA student
///   see `kd_target_view` and the synergy query sees `synergy_view` (both clean by default).
///   While the two-view target is active it replaces the teacher side `a` as the KD target
///   (see `TwoViewTarget`), but the `auto` choice still compares z with `a`, and rows that
///   choose z distil from z. The original ASIB code let an `auto` target with the gate open
///   replace the two-view target for every row, and let the two-view target replace a pure
///   synergy target; here the synergy target always wins where it is chosen and the two-view
///   target stands in for the teacher side only. The sample gate only weights rows, so a
///   selected row's partner term comes from the full-batch teacher forward even when the
///   partner itself is not selected.
/// - Selection: the sample gate keeps the least confident samples, those with a true-class
///   probability below `kd_sample_thr`, bounded to the `kd_sample_min_ratio` to
///   `kd_sample_max_ratio` fraction of the batch.
/// - Weights: certainty weights `clamp(c / mean c, min_cw, max_cw)` with
///   `c = mean exp(-logvar)` when IB_MBM ran, times the entropy weights
///   `clamp(1 / (1 + kd_uncertainty_weight * H(target)), kd_uncertainty_min, 1)`.
/// - `KD = sum(w * kd) / |selected|`, scaled down to `kd_max_ratio * CE` after the KD
///   warm-up, and `L = ce_alpha * CE + kd_weight * KD + feat_kd_alpha * FKD`, soft- or
///   hard-clamped at `loss_clamp_max` when `use_loss_clamp`.
/// - Feature KD (`FeatureKDLoss`), on batches where IB_MBM ran and when the student
///   feature's width equals IB_MBM's: `FKD = sum(w * cwf * |s - mu|^2) / |selected|` with the
///   KD weights w, the feature certainty weights `cwf = clamp(c / mean c, 0.5, 1.5)`, the
///   student's `feat_kd_key` feature s and IB_MBM's mean mu as a constant. Its gradient
///   trains the student adapter (`distill_feat`) and the student backbone through its
///   pooled feature.
extension TrainingSession {
    func synergyStep(
        result initial: StepResult, synergy: SynergyModule, teachers: TeacherEnsemble,
        network: ResNetGraph, kdWeight: Double, learningRate: Double, batch: Int
    ) throws -> StepResult {
        let settings = options.asib
        let classes = student.classes
        var result = initial
        let logits = network.logits.data

        // Teacher side: the weighted average on the KD view, optionally pooled with the EMA
        // student. While the two-view target is active, it is the target of these rows.
        let kdView = kdInput
        teachers.computeTarget(
            output: teacherTarget.data, input: kdView, batch: batch, weights: teacherWeights,
            gateTemperature: options.studentStep.gateTemperature ?? 1
        )
        var teacherSide = Array(UnsafeBufferPointer(start: teacherTarget.data, count: batch * classes))
        if let emaTeacher {
            let emaLogits = emaTeacher.logits(input: kdView, batch: batch)
            teacherSide = poolWithEMA(teacherSide, ema: emaLogits, batch: batch)
        }
        var target = teacherSide
        if options.studentStep.twoViewActive(epoch: currentEpoch) {
            target.withUnsafeMutableBufferPointer {
                writeTwoViewTarget(teachers: teachers, into: $0.baseAddress!, batch: batch)
            }
        }

        // Synergy side, with the gate open.
        var temperature = options.temperature
        var certainty: [Double]?
        var synergyRows = 0
        let gateOpen = options.kdTarget.usesSynergy && synergy.gateOpen
        var synergyRan = false
        if gateOpen {
            let synergyView = synergyInput
            if teachers.target == .teacher || synergyView != kdView {
                teachers.forwardAll(input: synergyView, batch: batch)
            }
            // The teachers' disagreement is measured on the synergy view. The original ASIB
            // code uses the KD view, which is the same batch unless the two views differ.
            let disagreement = teachers.topOneDisagreement(batch: batch)
            let decision = settings.synergySkip.runsSynergy(
                disagreement: disagreement, winRatio: synergyWinRatio, step: step
            )
            synergyRan = decision.runs
            result.parts["disagree_mean"] = disagreement
            result.parts["need_ibm_skip_ratio"] = decision.runs ? 0 : 1
            result.parts["probe_ratio"] = decision.probe ? 1 : 0
        }
        if synergyRan {
            let synergyView = synergyInput
            synergy.load(
                student: synergyQueryGraph(training: network, batch: batch),
                teachers: teachers.allGraphs(batch: batch), batch: batch
            )
            let raw = synergy.forward(batch: batch, training: false, random: &synergyRandom)
            let scale = Float(settings.synergyLogitScale)
            let synergyLogits = (0..<(batch * classes)).map { raw[$0] * scale }
            certainty = synergy.certainty(batch: batch)
            if options.kdTarget == .synergy {
                target = synergyLogits
                // Ensemble mixing in the first `teacher_adapt_kd_warmup` student epochs of a
                // stage: `(1 - e) * z + e * a` with e = kd_ens_alpha and the teacher side a.
                let ensemble = settings.ensembleAlpha
                if ensemble > 0 && currentEpoch <= settings.ensembleEpochs {
                    let share = Float(ensemble)
                    for i in target.indices {
                        target[i] = (1 - share) * synergyLogits[i] + share * teacherSide[i]
                    }
                }
                temperature = settings.synergyTemperature ?? temperature
                synergyRows = batch
            } else {
                let choice = chooseSynergyRows(
                    synergyLogits, teacherSide: teacherSide, batch: batch
                )
                for b in 0..<batch where choice[b] {
                    let row = b * classes
                    for k in 0..<classes { target[row + k] = synergyLogits[row + k] }
                }
                synergyRows = choice.filter { $0 }.count
                let win = Double(synergyRows) / Double(batch)
                synergyWinRatio = 0.8 * synergyWinRatio + 0.2 * win
                result.parts["auto_syn_win_ratio"] = win
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
        let featureKD = synergyRan && synergy.appliesFeatureKD
            ? featureDistillation(
                synergy: synergy, network: network, weights: weights.combined,
                certainty: certainty ?? [], selected: selected, count: selectedCount
            )
            : nil

        // Ratio clamp after the warm-up, then the total loss and its clamp.
        var kdScale = 1.0
        if let ratio = settings.kdMaxRatio, currentEpoch > options.kdWarmupEpochs {
            kdScale = min(1, ratio * max(result.ce, 1e-6) / max(kdValue, 1e-6))
        }
        result.kd = kdValue * kdScale
        let featureAlpha = settings.featureKDAlpha
        let unclamped = options.ceAlpha * result.ce + kdWeight * result.kd
            + featureAlpha * (featureKD?.value ?? 0)
        let lossFactor = lossClampFactor(unclamped)
        // The hard clamp reports M and passes no gradient; the soft clamp scales both.
        let hardClamped = lossFactor == 0
        result.loss = hardClamped ? options.asib.lossClampMax : unclamped * lossFactor
        result.parts.merge([
            "gate_ratio": gateOpen ? 1 : 0,
            "kd_syn_ratio": Double(synergyRows) / Double(batch),
            "kd_sample_ratio": sampleRatio,
            "kd_clamp_ratio": kdScale < 0.999 ? 1 : 0,
            "loss_clamped": lossFactor < 1 ? 1 : 0,
            "kd_unc_w_mean": weights.uncertaintyMean,
        ]) { _, latest in latest }
        if certainty != nil { result.parts["cw_mean"] = weights.certaintyMean }
        if synergy.appliesFeatureKD { result.parts["fkd"] = featureKD?.value ?? 0 }
        guard result.loss.isFinite else { return result }

        // Backward: CE and the weighted KD into the student logits, then one step.
        logitGradient.zero()
        crossEntropyBackward(scale: options.ceAlpha * lossFactor, batch: batch)
        let kdFactor = kdWeight * kdScale * lossFactor / Double(max(selectedCount, 1))
        let kdWeights = weights.combined.map { $0 * kdFactor }
        SampleLosses.distillationBackward(
            logitGradient: logitGradient.data, probabilities: studentSoftened.data,
            targetProbabilities: targetSoftened.data, weights: kdWeights,
            temperature: temperature, batch: batch, classes: classes
        )
        // Feature KD reaches the backbone through its pooled feature, after the student
        // adapter for a `distill_feat` feature.
        var featureGradients = FeatureGradients()
        let pooledGradient = Tensor(shape: network.pooledFeature.shape)
        var trainedAdapter: ParameterStore?
        if let featureKD {
            let rowGradient = Tensor(shape: [batch, synergy.queryWidth])
            FeatureKDLoss.backward(
                studentGradient: rowGradient.data, student: featureKD.rows.data,
                mean: synergy.block.mu.data, weights: featureKD.weights,
                count: max(selectedCount, 1), width: synergy.queryWidth,
                scale: featureAlpha * lossFactor
            )
            synergy.studentAdapter?.parameters.zeroGradients()
            synergy.backwardStudentFeature(
                featureGradient: rowGradient.data, pooledGradient: pooledGradient.data,
                batch: batch
            )
            featureGradients.pooled = UnsafePointer(pooledGradient.data)
            if !studentAdapterFrozen { trainedAdapter = synergy.studentAdapter?.parameters }
        }
        network.backward(logitGradient: logitGradient.data, featureGradients: featureGradients)
        let clipped = withExtendedLifetime(pooledGradient) {
            stepStudent(learningRate: learningRate, adapter: trainedAdapter)
        }
        if options.studentStep.gradientClipNorm > 0 {
            result.parts["grad_clip_ratio"] = clipped ? 1 : 0
        }
        return result
    }

    /// The feature-KD term of one batch: its value, the student feature rows it compared
    /// and the per-row weights `w * cwf`.
    private struct FeatureKDTerm {
        let value: Double
        let rows: Tensor
        let weights: [Double]
    }

    /// Computes the feature-KD term after IB_MBM ran on the batch.
    ///
    /// The student feature comes from the forward on the (mixed) batch that the student
    /// trains on, as in the original ASIB code, while mu comes from the IB_MBM query, which
    /// with `synergy_view: clean` is the clean batch. On a mixed batch the term therefore
    /// pulls the mixed image's feature towards the clean image's synergy mean.
    private func featureDistillation(
        synergy: SynergyModule, network: ResNetGraph, weights: [Double], certainty: [Double],
        selected: [Bool], count: Int
    ) -> FeatureKDTerm {
        let batch = weights.count
        let rows = Tensor(shape: [batch, synergy.queryWidth])
        synergy.writeStudentFeature(
            output: rows.data, studentPooled: network.pooledFeature.data, batch: batch
        )
        let featureCertainty = certainty.isEmpty
            ? [Double](repeating: 1, count: batch)
            : FeatureKDLoss.certaintyWeights(certainty, selected: selected)
        let combined = zip(weights, featureCertainty).map { $0 * $1 }
        let value = FeatureKDLoss.forward(
            student: rows.data, mean: synergy.block.mu.data, weights: combined,
            count: max(count, 1), width: synergy.queryWidth
        )
        return FeatureKDTerm(value: value, rows: rows, weights: combined)
    }

    /// Returns per sample whether the synergy logits have a label CE no higher than the
    /// teacher side's (the `label_ce` policy, no smoothing, temperature 1). For a mixed batch
    /// the CE is `lambda * CE(y_a) + (1 - lambda) * CE(y_b)`.
    private func chooseSynergyRows(
        _ synergyLogits: [Float], teacherSide: [Float], batch: Int
    ) -> [Bool] {
        let classes = student.classes
        let lambda = batchMix.lambda
        func labelCE(_ logits: [Float], _ b: Int) -> Double {
            let logProbabilities = logits.withUnsafeBufferPointer {
                Softmax.logSoftmax($0.baseAddress! + b * classes, classes)
            }
            let own = -logProbabilities[Int(labels[b])]
            guard lambda < 1 else { return own }
            return lambda * own - (1 - lambda) * logProbabilities[Int(partnerLabels[b])]
        }
        return (0..<batch).map { b in
            labelCE(synergyLogits, b) <= labelCE(teacherSide, b)
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
    /// fraction below the threshold. The gate reads the student's probability of the labels,
    /// `lambda`-mixed over both labels for a mixed batch.
    private func sampleGate(batch: Int) -> ([Bool], Double) {
        let settings = options.asib
        guard settings.sampleGate else { return ([Bool](repeating: true, count: batch), 1) }
        let confidence = labelProbabilities(batch: batch)
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
