import Foundation

// Shapes: teacher logits, combined logits and target logits [B, K]; partner permutation [B].

/// The two-view KD target of a mixed batch: per sample b with partner `pi(b)` and mixing
/// coefficient lambda, `q_b = lambda * softmax(abar_b / T) + (1 - lambda) * softmax(abar_pi(b) / T)`,
/// where `abar` is the confidence-weighted combination of the teachers' clean-view logits
/// (weights `max softmax(t_k / tau_gate)`, normalised over the teachers). The KD loss is then
/// `T^2 * sum_c q_c (log q_c - log softmax(s / T)_c)`.
///
/// The partner rows reuse the clean-view combination of the partner sample: the teachers run
/// in eval mode, so their logits on a sample do not depend on the rest of the batch.
enum TwoViewTarget {
    /// Writes `T * log q` into `output`, logits whose softmax at temperature T is q, so the
    /// plain KD forward and backward (and DKD) distil from q with an exact gradient
    /// `T * (softmax(s / T) - q)` per sample.
    static func targetLogits(
        output: UnsafeMutablePointer<Float>, teacherLogits: [UnsafePointer<Float>],
        partner: [Int], lambda: Double, temperature: Double, gateTemperature: Double,
        batch: Int, classes: Int
    ) {
        let combined = [Float](unsafeUninitializedCapacity: batch * classes) { buffer, count in
            TeacherEnsemble.confidenceCombination(
                output: buffer.baseAddress!, logits: teacherLogits, temperature: gateTemperature,
                batch: batch, classes: classes
            )
            count = batch * classes
        }
        combined.withUnsafeBufferPointer { rows in
            let base = rows.baseAddress!
            for b in 0..<batch {
                let own = Softmax.logSoftmax(base + b * classes, classes, temperature)
                let other = Softmax.logSoftmax(base + partner[b] * classes, classes, temperature)
                for k in 0..<classes {
                    let logQ = logMixture(own[k], other[k], lambda: lambda)
                    output[b * classes + k] = Float(temperature * logQ)
                }
            }
        }
    }

    /// Returns `log(lambda * exp(a) + (1 - lambda) * exp(b))` without underflow.
    static func logMixture(_ a: Double, _ b: Double, lambda: Double) -> Double {
        if lambda >= 1 { return a }
        if lambda <= 0 { return b }
        let first = Foundation.log(lambda) + a
        let second = Foundation.log(1 - lambda) + b
        let larger = max(first, second)
        return larger + Foundation.log(Foundation.exp(first - larger) + Foundation.exp(second - larger))
    }
}
