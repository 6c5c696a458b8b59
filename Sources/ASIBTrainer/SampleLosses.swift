import Foundation

// Shapes: logits, targets, probabilities and logit gradients [B, K]; labels, per-sample
// losses and weights [B].

/// Per-sample losses with per-sample weights, for the ASIB steps that weight, select or
/// choose targets sample by sample.
public enum SampleLosses {
    /// Writes `CE_eps(logits_b, y_b)` per sample and saves the probabilities.
    public static func crossEntropy(
        losses: UnsafeMutablePointer<Double>,
        probabilities: UnsafeMutablePointer<Float>,
        logits: UnsafePointer<Float>,
        labels: UnsafePointer<Int32>,
        smoothing: Double,
        batch: Int,
        classes: Int
    ) {
        for b in 0..<batch {
            let logProbabilities = Softmax.logSoftmax(logits + b * classes, classes)
            let label = Int(labels[b])
            var loss = 0.0
            for k in 0..<classes {
                let target = smoothing / Double(classes) + (k == label ? 1 - smoothing : 0)
                loss -= target * logProbabilities[k]
                probabilities[b * classes + k] = Float(exp(logProbabilities[k]))
            }
            losses[b] = loss
        }
    }

    /// Adds the gradient of `sum_b weights_b * CE_b` to the logit gradient.
    public static func crossEntropyBackward(
        logitGradient: UnsafeMutablePointer<Float>,
        probabilities: UnsafePointer<Float>,
        labels: UnsafePointer<Int32>,
        weights: UnsafePointer<Double>,
        smoothing: Double,
        batch: Int,
        classes: Int
    ) {
        for b in 0..<batch where weights[b] != 0 {
            let label = Int(labels[b])
            for k in 0..<classes {
                let target = smoothing / Double(classes) + (k == label ? 1 - smoothing : 0)
                let p = Double(probabilities[b * classes + k])
                logitGradient[b * classes + k] += Float(weights[b] * (p - target))
            }
        }
    }

    /// Writes `T^2 * KL(softmax(target_b / T) || softmax(logits_b / T))` per sample and saves
    /// both softened distributions. The gradient flows into `logits` only.
    public static func distillation(
        losses: UnsafeMutablePointer<Double>,
        probabilities: UnsafeMutablePointer<Float>,
        targetProbabilities: UnsafeMutablePointer<Float>,
        logits: UnsafePointer<Float>,
        targetLogits: UnsafePointer<Float>,
        temperature: Double,
        batch: Int,
        classes: Int
    ) {
        for b in 0..<batch {
            let row = b * classes
            let logStudent = Softmax.logSoftmax(logits + row, classes, temperature)
            let logTarget = Softmax.logSoftmax(targetLogits + row, classes, temperature)
            var total = 0.0
            for k in 0..<classes {
                let q = exp(logTarget[k])
                total += q * (logTarget[k] - logStudent[k])
                probabilities[row + k] = Float(exp(logStudent[k]))
                targetProbabilities[row + k] = Float(q)
            }
            losses[b] = temperature * temperature * total
        }
    }

    /// Adds the gradient of `sum_b weights_b * KD_b`: `weights_b * T * (p_b - q_b)`.
    public static func distillationBackward(
        logitGradient: UnsafeMutablePointer<Float>,
        probabilities: UnsafePointer<Float>,
        targetProbabilities: UnsafePointer<Float>,
        weights: UnsafePointer<Double>,
        temperature: Double,
        batch: Int,
        classes: Int
    ) {
        for b in 0..<batch where weights[b] != 0 {
            let factor = weights[b] * temperature
            for k in 0..<classes {
                let i = b * classes + k
                let difference = Double(probabilities[i] - targetProbabilities[i])
                logitGradient[i] += Float(factor * difference)
            }
        }
    }
}
