import Foundation

// Shapes: student and teacher logits, saved probabilities and logit gradient [B, K].

/// Hinton's distillation loss `T^2 * KL(softmax(t / T) || softmax(s / T))`, summed over classes
/// and averaged over the batch (PyTorch `kl_div(..., reduction="batchmean") * T^2`).
public enum KDLoss {
    /// Returns the loss and saves the student and teacher probabilities at temperature T.
    public static func forward(
        studentProbabilities: UnsafeMutablePointer<Float>,
        teacherProbabilities: UnsafeMutablePointer<Float>,
        studentLogits: UnsafePointer<Float>,
        teacherLogits: UnsafePointer<Float>,
        temperature: Double,
        batch: Int,
        classes: Int
    ) -> Double {
        var total: Double = 0
        for b in 0..<batch {
            let row = b * classes
            let logStudent = Softmax.logSoftmax(studentLogits + row, classes, temperature)
            let logTeacher = Softmax.logSoftmax(teacherLogits + row, classes, temperature)
            for k in 0..<classes {
                let pTeacher = Foundation.exp(logTeacher[k])
                total += pTeacher * (logTeacher[k] - logStudent[k])
                studentProbabilities[row + k] = Float(Foundation.exp(logStudent[k]))
                teacherProbabilities[row + k] = Float(pTeacher)
            }
        }
        return temperature * temperature * total / Double(batch)
    }

    /// Adds `scale` times the gradient with respect to the student logits:
    /// `d/ds [T^2 * KL] = T * (p_s - p_t)`, divided by B for the batch mean.
    public static func backward(
        studentLogitGradient: UnsafeMutablePointer<Float>,
        studentProbabilities: UnsafePointer<Float>,
        teacherProbabilities: UnsafePointer<Float>,
        temperature: Double,
        scale: Double,
        batch: Int,
        classes: Int
    ) {
        let factor = Float(scale * temperature / Double(batch))
        for i in 0..<(batch * classes) {
            studentLogitGradient[i] += factor * (studentProbabilities[i] - teacherProbabilities[i])
        }
    }
}
