import Foundation

// Shapes: student feature rows and IB_MBM mean rows [B, D]; weights [B].

/// The B-Step feature-KD term of ASIB,
/// `FKD = (1 / n) * sum_b w_b * sum_d (s_bd - mu_bd)^2`,
/// where s is the student feature that the IB_MBM query uses (`feat_kd_key`) and mu is
/// IB_MBM's mean, a constant through which no gradient reaches IB_MBM. w_b is 0 for rows
/// outside the sample gate's selection, and n is the number of selected rows.
///
/// The original ASIB code sums over d here, although its A-Step feature term takes the mean
/// over d. This trainer keeps the sum, so `feat_kd_alpha` values carry over.
enum FeatureKDLoss {
    /// Bounds of the feature-KD certainty weights, fixed in the original ASIB code (the KD
    /// certainty weights use `min_cw` and `max_cw` instead).
    static let certaintyBounds = (lower: 0.5, upper: 1.5)

    /// Returns the feature-KD certainty weight of each row, `clamp(c_b / (mean c + 1e-8),
    /// 0.5, 1.5)` with the mean over the selected rows; unselected rows get 1.
    static func certaintyWeights(_ certainty: [Double], selected: [Bool]) -> [Double] {
        let rows = certainty.indices.filter { selected[$0] }
        let mean = rows.reduce(0) { $0 + certainty[$1] } / Double(max(rows.count, 1))
        return certainty.indices.map { b in
            guard selected[b] else { return 1 }
            let ratio = certainty[b] / (mean + 1e-8)
            return min(max(ratio, certaintyBounds.lower), certaintyBounds.upper)
        }
    }

    /// Returns FKD for `weights` (0 outside the selection) divided by `count`, the number of
    /// selected rows.
    static func forward(
        student: UnsafePointer<Float>, mean: UnsafePointer<Float>, weights: [Double],
        count: Int, width: Int
    ) -> Double {
        var total = 0.0
        for (b, weight) in weights.enumerated() where weight != 0 {
            var squares = 0.0
            for d in 0..<width {
                let difference = Double(student[b * width + d]) - Double(mean[b * width + d])
                squares += difference * difference
            }
            total += weight * squares
        }
        return total / Double(max(count, 1))
    }

    /// Writes `scale * dFKD/ds = scale * 2 * w_b * (s_bd - mu_bd) / count` into
    /// `studentGradient`, overwriting it.
    static func backward(
        studentGradient: UnsafeMutablePointer<Float>, student: UnsafePointer<Float>,
        mean: UnsafePointer<Float>, weights: [Double], count: Int, width: Int, scale: Double
    ) {
        for (b, weight) in weights.enumerated() {
            let factor = 2 * scale * weight / Double(max(count, 1))
            for d in 0..<width {
                let i = b * width + d
                studentGradient[i] = Float(factor * (Double(student[i]) - Double(mean[i])))
            }
        }
    }
}
