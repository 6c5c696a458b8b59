import Foundation

// Shapes: logits, probabilities and logit gradient [B, K]; labels and partner labels [B].

/// Softmax cross-entropy with label smoothing in PyTorch's convention: the target of a sample
/// with label y is `(1 - eps) * onehot(y) + eps / K`. The loss is the batch mean.
///
/// For a mixed batch (mixup or CutMix) the loss of sample b is
/// `lambda * CE(s_b, y_b) + (1 - lambda) * CE(s_b, partnerLabels_b)`, which equals the CE
/// against the target `eps / K + (1 - eps) * (lambda * onehot(y_b) + (1 - lambda) *
/// onehot(partnerLabels_b))`.
public enum CrossEntropyLoss {
    /// Returns the mean loss and saves the softmax probabilities for the backward pass.
    public static func forward(
        probabilities: UnsafeMutablePointer<Float>,
        logits: UnsafePointer<Float>,
        labels: UnsafePointer<Int32>,
        smoothing: Double,
        batch: Int,
        classes: Int
    ) -> Double {
        forward(
            probabilities: probabilities, logits: logits, labels: labels, partnerLabels: labels,
            lambda: 1, smoothing: smoothing, batch: batch, classes: classes
        )
    }

    /// Returns the mean mixed loss and saves the softmax probabilities.
    public static func forward(
        probabilities: UnsafeMutablePointer<Float>,
        logits: UnsafePointer<Float>,
        labels: UnsafePointer<Int32>,
        partnerLabels: UnsafePointer<Int32>,
        lambda: Double,
        smoothing: Double,
        batch: Int,
        classes: Int
    ) -> Double {
        var total: Double = 0
        for b in 0..<batch {
            let logProbabilities = Softmax.logSoftmax(logits + b * classes, classes)
            let (own, partner) = (Int(labels[b]), Int(partnerLabels[b]))
            var row: Double = 0
            for k in 0..<classes {
                let target = target(k, own, partner, lambda, smoothing, classes)
                row -= target * logProbabilities[k]
                probabilities[b * classes + k] = Float(Foundation.exp(logProbabilities[k]))
            }
            total += row
        }
        return total / Double(batch)
    }

    /// Adds `scale` times the gradient of the mean loss: `scale * (p - target) / B`.
    public static func backward(
        logitGradient: UnsafeMutablePointer<Float>,
        probabilities: UnsafePointer<Float>,
        labels: UnsafePointer<Int32>,
        smoothing: Double,
        scale: Double,
        batch: Int,
        classes: Int
    ) {
        backward(
            logitGradient: logitGradient, probabilities: probabilities, labels: labels,
            partnerLabels: labels, lambda: 1, smoothing: smoothing, scale: scale, batch: batch,
            classes: classes
        )
    }

    /// Adds `scale` times the gradient of the mean mixed loss: `scale * (p - target) / B`.
    public static func backward(
        logitGradient: UnsafeMutablePointer<Float>,
        probabilities: UnsafePointer<Float>,
        labels: UnsafePointer<Int32>,
        partnerLabels: UnsafePointer<Int32>,
        lambda: Double,
        smoothing: Double,
        scale: Double,
        batch: Int,
        classes: Int
    ) {
        let factor = scale / Double(batch)
        for b in 0..<batch {
            let (own, partner) = (Int(labels[b]), Int(partnerLabels[b]))
            for k in 0..<classes {
                let target = target(k, own, partner, lambda, smoothing, classes)
                let p = Double(probabilities[b * classes + k])
                logitGradient[b * classes + k] += Float(factor * (p - target))
            }
        }
    }

    /// Returns the smoothed, mixed target of class k. With `lambda` 1 it is exactly
    /// `eps / K + (1 - eps) * onehot(own)`, as without mixing.
    private static func target(
        _ k: Int, _ own: Int, _ partner: Int, _ lambda: Double, _ smoothing: Double, _ classes: Int
    ) -> Double {
        var target = smoothing / Double(classes)
        if k == own { target += lambda * (1 - smoothing) }
        if k == partner && lambda < 1 { target += (1 - lambda) * (1 - smoothing) }
        return target
    }
}
