// Shapes: student feature rows and mu [B, D], row-major; certainty weights [B].

/// The A-Step feature-KD term between the student's `feat_kd_key` feature s and IB_MBM's
/// mean mu: `FKD_A = mean_b [ cw_b * mean_d (s_bd - mu_bd)^2 ]`, with cw the A-Step
/// certainty weights. The original ASIB code freezes the student in the A-Step, so s is a
/// constant target and the gradient reaches IB_MBM (and the adapters) through mu only.
enum FeatureDistillationLoss {
    static func forward(
        student: UnsafePointer<Float>, mu: UnsafePointer<Float>, weights: [Double], batch: Int,
        features: Int
    ) -> Double {
        var total = 0.0
        for b in 0..<batch {
            var squares = 0.0
            for d in 0..<features {
                let difference = Double(student[b * features + d]) - Double(mu[b * features + d])
                squares += difference * difference
            }
            total += weights[b] * squares / Double(features)
        }
        return total / Double(batch)
    }

    /// Adds `scale * dFKD_A / dmu = scale * 2 cw_b (mu_bd - s_bd) / (B D)` to `muGradient`.
    static func backward(
        muGradient: UnsafeMutablePointer<Float>, student: UnsafePointer<Float>,
        mu: UnsafePointer<Float>, weights: [Double], scale: Double, batch: Int, features: Int
    ) {
        let factor = 2 * scale / Double(batch * features)
        for b in 0..<batch {
            let rowFactor = factor * weights[b]
            for d in 0..<features {
                let i = b * features + d
                muGradient[i] += Float(rowFactor * (Double(mu[i]) - Double(student[i])))
            }
        }
    }
}
