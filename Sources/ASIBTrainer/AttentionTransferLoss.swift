import Foundation

// Shapes: student feature [Cs, B, S] and teacher feature [Ct, B, S] with S = H * W (the
// [C, B, H, W] layout); attention maps [B, S]; norms [B].

/// Attention transfer (Zagoruyko and Komodakis, "Paying More Attention to Attention",
/// ICLR 2017) for one pair of feature maps, in the form of the authors' code:
/// `a = mean_c f^2` per position, `n = a / max(||a||_2, 1e-12)` per sample, and the loss is
/// `mean((n_s - n_t)^2)` over the B * S entries. Student and teacher maps must have the same
/// spatial size; the channel counts may differ.
public enum AttentionTransferLoss {
    static let normFloor = 1e-12

    /// Returns the loss and saves the normalised maps and the student norms.
    public static func forward(
        studentAttention: UnsafeMutablePointer<Float>,
        teacherAttention: UnsafeMutablePointer<Float>,
        studentNorms: UnsafeMutablePointer<Float>,
        studentFeature: UnsafePointer<Float>,
        teacherFeature: UnsafePointer<Float>,
        studentChannels: Int,
        teacherChannels: Int,
        batch: Int,
        spatial: Int
    ) -> Double {
        normalisedAttention(
            output: studentAttention, norms: studentNorms, feature: studentFeature,
            channels: studentChannels, batch: batch, spatial: spatial
        )
        var teacherNorms = [Float](repeating: 0, count: batch)
        normalisedAttention(
            output: teacherAttention, norms: &teacherNorms, feature: teacherFeature,
            channels: teacherChannels, batch: batch, spatial: spatial
        )
        var total = 0.0
        for i in 0..<(batch * spatial) {
            let difference = Double(studentAttention[i]) - Double(teacherAttention[i])
            total += difference * difference
        }
        return total / Double(batch * spatial)
    }

    /// Adds `scale` times the gradient of the loss with respect to the student feature.
    public static func backward(
        studentFeatureGradient: UnsafeMutablePointer<Float>,
        studentAttention: UnsafePointer<Float>,
        teacherAttention: UnsafePointer<Float>,
        studentNorms: UnsafePointer<Float>,
        studentFeature: UnsafePointer<Float>,
        scale: Double,
        studentChannels: Int,
        batch: Int,
        spatial: Int
    ) {
        var attentionGradient = [Double](repeating: 0, count: spatial)
        for b in 0..<batch {
            let n = studentAttention + b * spatial
            let t = teacherAttention + b * spatial
            // loss = mean((n - t)^2): dN = 2 (n - t) / (B * S)
            var projection = 0.0
            var dN = [Double](repeating: 0, count: spatial)
            for s in 0..<spatial {
                dN[s] = 2 * scale * (Double(n[s]) - Double(t[s])) / Double(batch * spatial)
                projection += Double(n[s]) * dN[s]
            }
            // n = a / ||a||: dA = (dN - n (n . dN)) / ||a||, or dN / floor when the floor
            // replaced the norm.
            let norm = Double(studentNorms[b])
            let clamped = norm <= normFloor
            for s in 0..<spatial {
                attentionGradient[s] = clamped
                    ? dN[s] / normFloor
                    : (dN[s] - Double(n[s]) * projection) / norm
            }
            // a = mean_c f^2: dF = dA * 2 f / C
            for c in 0..<studentChannels {
                let offset = (c * batch + b) * spatial
                for s in 0..<spatial {
                    let f = Double(studentFeature[offset + s])
                    studentFeatureGradient[offset + s] += Float(
                        attentionGradient[s] * 2 * f / Double(studentChannels)
                    )
                }
            }
        }
    }

    /// Writes `a / max(||a||, floor)` with `a = mean_c f^2` and the unclamped norms.
    private static func normalisedAttention(
        output: UnsafeMutablePointer<Float>,
        norms: UnsafeMutablePointer<Float>,
        feature: UnsafePointer<Float>,
        channels: Int,
        batch: Int,
        spatial: Int
    ) {
        var attention = [Double](repeating: 0, count: spatial)
        for b in 0..<batch {
            for s in 0..<spatial { attention[s] = 0 }
            for c in 0..<channels {
                let offset = (c * batch + b) * spatial
                for s in 0..<spatial {
                    let f = Double(feature[offset + s])
                    attention[s] += f * f / Double(channels)
                }
            }
            let norm = attention.reduce(0) { $0 + $1 * $1 }.squareRoot()
            norms[b] = Float(norm)
            let divisor = max(norm, normFloor)
            for s in 0..<spatial { output[b * spatial + s] = Float(attention[s] / divisor) }
        }
    }
}
