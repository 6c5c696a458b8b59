import Foundation

// Shapes: mu, logvar and their gradients [B, E].

/// The information-bottleneck KL term `beta * mean_b sum_e k_be` of a diagonal Gaussian
/// against N(0, I), with `k = -(1 + lv - mu^2 - exp(lv)) / 2`, `lv = clamp(logvar, -10, 10)`
/// and each `k` clamped to [-100, 100]. Clamped entries pass no gradient.
public enum InformationBottleneckLoss {
    static let logvarLimit: Float = 10
    static let termLimit = 100.0

    /// Returns the unweighted KL (batch mean of the per-sample sums).
    public static func forward(
        mu: UnsafePointer<Float>,
        logvar: UnsafePointer<Float>,
        batch: Int,
        features: Int
    ) -> Double {
        var total = 0.0
        for i in 0..<(batch * features) {
            total += min(max(term(mu[i], logvar[i]), -termLimit), termLimit)
        }
        return total / Double(batch)
    }

    /// Adds `beta` times the gradient: `dk/dmu = mu` and `dk/dlv = (exp(lv) - 1) / 2`, over B.
    public static func backward(
        muGradient: UnsafeMutablePointer<Float>,
        logvarGradient: UnsafeMutablePointer<Float>,
        mu: UnsafePointer<Float>,
        logvar: UnsafePointer<Float>,
        beta: Double,
        batch: Int,
        features: Int
    ) {
        let factor = beta / Double(batch)
        for i in 0..<(batch * features) {
            let value = term(mu[i], logvar[i])
            guard value > -termLimit && value < termLimit else { continue }
            muGradient[i] += Float(factor * Double(mu[i]))
            let raw = logvar[i]
            guard raw > -logvarLimit && raw < logvarLimit else { continue }
            logvarGradient[i] += Float(factor * (Foundation.exp(Double(raw)) - 1) / 2)
        }
    }

    private static func term(_ mu: Float, _ logvar: Float) -> Double {
        let lv = Double(min(max(logvar, -logvarLimit), logvarLimit))
        let m = Double(mu)
        return -0.5 * (1 + lv - m * m - Foundation.exp(lv))
    }

    /// Returns the beta of a 0-based epoch: `beta * min(1, epoch / warmupEpochs)`, or `beta`
    /// without warm-up. The first epoch of a warm-up therefore trains without the KL term, as the
    /// original ASIB schedule does.
    public static func beta(_ beta: Double, epoch: Int, warmupEpochs: Int) -> Double {
        guard warmupEpochs > 0 else { return beta }
        return beta * min(1, Double(epoch) / Double(warmupEpochs))
    }
}
