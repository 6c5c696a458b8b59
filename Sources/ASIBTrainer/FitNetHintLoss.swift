// Shapes: student feature [Cs, N]; regressor weight [Ct, Cs] and bias [Ct]; teacher feature
// and saved difference [Ct, N]. N is B * H * W for a stage output in the [C, B, H, W] layout
// and B for the pooled feature [C, B].

/// The FitNet hint (Romero et al., "FitNets: Hints for Thin Deep Nets", ICLR 2015): the mean
/// squared error between a teacher feature and the regressed student feature. The regressor
/// is a trained 1x1 convolution with bias, which is a linear layer on the pooled feature.
/// Both features must have the same spatial size.
public enum FitNetHintLoss {
    /// Returns `mean((W f_s + b - f_t)^2)` over all `Ct * N` elements and saves the
    /// difference `W f_s + b - f_t`.
    public static func forward(
        difference: UnsafeMutablePointer<Float>,
        studentFeature: UnsafePointer<Float>,
        teacherFeature: UnsafePointer<Float>,
        weight: UnsafePointer<Float>,
        bias: UnsafePointer<Float>,
        studentChannels: Int,
        teacherChannels: Int,
        columns: Int
    ) -> Double {
        // regressed[Ct, N] = weight[Ct, Cs] x student[Cs, N] + bias
        for c in 0..<teacherChannels {
            (difference + c * columns).update(repeating: bias[c], count: columns)
        }
        GEMM.multiply(
            difference, weight, studentFeature, m: teacherChannels, n: columns,
            k: studentChannels, accumulate: true
        )
        // difference = regressed - teacher; loss = mean(difference^2)
        let count = teacherChannels * columns
        var total = 0.0
        for i in 0..<count {
            difference[i] -= teacherFeature[i]
            total += Double(difference[i]) * Double(difference[i])
        }
        return total / Double(count)
    }

    /// Adds `scale` times the gradients of the hint with respect to the regressor weight and
    /// bias and, when given, the student feature.
    public static func backward(
        studentFeatureGradient: UnsafeMutablePointer<Float>?,
        weightGradient: UnsafeMutablePointer<Float>,
        biasGradient: UnsafeMutablePointer<Float>,
        difference: UnsafePointer<Float>,
        studentFeature: UnsafePointer<Float>,
        weight: UnsafePointer<Float>,
        scale: Double,
        studentChannels: Int,
        teacherChannels: Int,
        columns: Int
    ) {
        // loss = mean(difference^2): dRegressed = 2 * difference / (Ct * N)
        let count = teacherChannels * columns
        let factor = Float(2 * scale / Double(count))
        var regressedGradient = [Float](repeating: 0, count: count)
        for i in 0..<count { regressedGradient[i] = factor * difference[i] }

        regressedGradient.withUnsafeBufferPointer { buffer in
            let dRegressed = buffer.baseAddress!
            // dBias[Ct] += sum over columns of dRegressed
            for c in 0..<teacherChannels {
                var sum: Float = 0
                for n in 0..<columns { sum += dRegressed[c * columns + n] }
                biasGradient[c] += sum
            }
            // dWeight[Ct, Cs] += dRegressed[Ct, N] x student^T[N, Cs]
            GEMM.multiply(
                weightGradient, dRegressed, studentFeature, m: teacherChannels,
                n: studentChannels, k: columns, transposeB: true, accumulate: true
            )
            guard let studentFeatureGradient else { return }
            // dStudent[Cs, N] += weight^T[Cs, Ct] x dRegressed[Ct, N]
            GEMM.multiply(
                studentFeatureGradient, weight, dRegressed, m: studentChannels, n: columns,
                k: teacherChannels, transposeA: true, accumulate: true
            )
        }
    }
}
