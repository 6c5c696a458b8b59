import Foundation

// Shapes: student and teacher logits, saved probabilities and logit gradient [B, K];
// labels [B].

/// Decoupled knowledge distillation (Zhao et al., "Decoupled Knowledge Distillation",
/// CVPR 2022): `alpha * TCKD + beta * NCKD`, each `T^2` times a KL divergence at temperature
/// T, averaged over the batch.
///
/// With `p = softmax(s / T)`, `q = softmax(t / T)` and g the label of a sample:
/// - TCKD is `KL([q_g, 1 - q_g] || [p_g, 1 - p_g])`, the binary target/non-target split;
/// - NCKD is `KL(q~ || p~)` over the K - 1 non-target classes, where `p~` is the softmax of
///   the non-target logits, that is `p_k / (1 - p_g)`.
///
/// The log-probabilities are computed in Double from log-softmax, so `1 - p_g` keeps its
/// precision when the target probability is close to 1.
public enum DKDLoss {
    /// The two parts of one batch, each already multiplied by `T^2` and averaged.
    public struct Parts: Equatable {
        public var target: Double
        public var nonTarget: Double
    }

    /// Returns TCKD and NCKD (unweighted) and saves the softened probabilities.
    public static func forward(
        studentProbabilities: UnsafeMutablePointer<Float>,
        teacherProbabilities: UnsafeMutablePointer<Float>,
        studentLogits: UnsafePointer<Float>,
        teacherLogits: UnsafePointer<Float>,
        labels: UnsafePointer<Int32>,
        temperature: Double,
        batch: Int,
        classes: Int
    ) -> Parts {
        var parts = Parts(target: 0, nonTarget: 0)
        for b in 0..<batch {
            let row = b * classes
            let label = Int(labels[b])
            let logStudent = Softmax.logSoftmax(studentLogits + row, classes, temperature)
            let logTeacher = Softmax.logSoftmax(teacherLogits + row, classes, temperature)
            for k in 0..<classes {
                studentProbabilities[row + k] = Float(Foundation.exp(logStudent[k]))
                teacherProbabilities[row + k] = Float(Foundation.exp(logTeacher[k]))
            }
            // log(1 - p_g) = logsumexp of the non-target log-probabilities.
            let logStudentRest = logSumExp(logStudent, excluding: label)
            let logTeacherRest = logSumExp(logTeacher, excluding: label)

            // TCKD: binary KL between [q_g, 1 - q_g] and [p_g, 1 - p_g].
            parts.target += klTerm(logTeacher[label], logStudent[label])
                + klTerm(logTeacherRest, logStudentRest)

            // NCKD: KL over the renormalised non-target classes.
            for k in 0..<classes where k != label {
                parts.nonTarget += klTerm(
                    logTeacher[k] - logTeacherRest, logStudent[k] - logStudentRest
                )
            }
        }
        let scale = temperature * temperature / Double(batch)
        parts.target *= scale
        parts.nonTarget *= scale
        return parts
    }

    /// Returns the weighted loss `alpha * TCKD + beta * NCKD`.
    public static func combine(_ parts: Parts, alpha: Double, beta: Double) -> Double {
        alpha * parts.target + beta * parts.nonTarget
    }

    /// Adds `scale` times the gradient of `alpha * TCKD + beta * NCKD` with respect to the
    /// student logits. With `r = 1 - p_g` and `p~_k = p_k / r`, per sample and before the
    /// factor `T / B` (from `T^2`, the 1/T of `s / T` and the batch mean):
    /// - TCKD: `p_g - q_g` at the label and `p~_k * (q_g - p_g)` elsewhere;
    /// - NCKD: 0 at the label and `p~_k - q~_k` elsewhere.
    public static func backward(
        studentLogitGradient: UnsafeMutablePointer<Float>,
        studentProbabilities: UnsafePointer<Float>,
        teacherProbabilities: UnsafePointer<Float>,
        labels: UnsafePointer<Int32>,
        alpha: Double,
        beta: Double,
        temperature: Double,
        scale: Double,
        batch: Int,
        classes: Int
    ) {
        let factor = scale * temperature / Double(batch)
        for b in 0..<batch {
            let row = b * classes
            let label = Int(labels[b])
            let p = studentProbabilities + row
            let q = teacherProbabilities + row
            // The non-target mass as a sum of the non-target probabilities keeps its
            // relative precision where 1 - p_g in float would not.
            var studentRest = 0.0
            var teacherRest = 0.0
            for k in 0..<classes where k != label {
                studentRest += Double(p[k])
                teacherRest += Double(q[k])
            }
            let pTarget = Double(p[label])
            let qTarget = Double(q[label])
            let gradient = studentLogitGradient + row
            gradient[label] += Float(factor * alpha * (pTarget - qTarget))
            guard studentRest > 0 else { continue }
            for k in 0..<classes where k != label {
                let studentShare = Double(p[k]) / studentRest
                let teacherShare = teacherRest > 0 ? Double(q[k]) / teacherRest : 0
                let tckd = studentShare * (qTarget - pTarget)
                let nckd = studentShare - teacherShare
                gradient[k] += Float(factor * (alpha * tckd + beta * nckd))
            }
        }
    }

    /// Returns `log sum_k exp(values[k])` over every k except `excluding`.
    private static func logSumExp(_ values: [Double], excluding: Int) -> Double {
        var maximum = -Double.infinity
        for k in values.indices where k != excluding { maximum = max(maximum, values[k]) }
        guard maximum > -Double.infinity else { return -Double.infinity }
        var sum = 0.0
        for k in values.indices where k != excluding { sum += Foundation.exp(values[k] - maximum) }
        return maximum + Foundation.log(sum)
    }

    /// Returns `q * (log q - log p)` from the two logarithms, with `0 * log 0 = 0`.
    private static func klTerm(_ logTarget: Double, _ logStudent: Double) -> Double {
        guard logTarget > -Double.infinity else { return 0 }
        return Foundation.exp(logTarget) * (logTarget - logStudent)
    }
}
