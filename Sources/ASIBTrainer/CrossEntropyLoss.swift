import Foundation

// Shapes: logits, probabilities and logit gradient [B, K]; labels [B].

/// Softmax cross-entropy with label smoothing in PyTorch's convention: the target of a sample
/// with label y is `(1 - eps) * onehot(y) + eps / K`. The loss is the batch mean.
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
        var total: Double = 0
        for b in 0..<batch {
            let logProbabilities = Softmax.logSoftmax(logits + b * classes, classes)
            let label = Int(labels[b])
            var row: Double = 0
            for k in 0..<classes {
                let target = smoothing / Double(classes) + (k == label ? 1 - smoothing : 0)
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
        let factor = scale / Double(batch)
        for b in 0..<batch {
            let label = Int(labels[b])
            for k in 0..<classes {
                let target = smoothing / Double(classes) + (k == label ? 1 - smoothing : 0)
                let p = Double(probabilities[b * classes + k])
                logitGradient[b * classes + k] += Float(factor * (p - target))
            }
        }
    }
}
