@testable import ASIBTrainer

/// Finite-difference helpers. Every check reduces a layer output to the scalar
/// `L = sum(output * projection)` with a fixed random projection, so `dL/dOutput = projection`,
/// and compares the analytic gradient of L with central differences
/// `(L(x + eps) - L(x - eps)) / (2 eps)` computed from float32 forwards and summed in Double.
enum GradientCheck {
    /// Relative tolerance on the gradient vector: `|a - n| / max(|a|, |n|)` in the L2 norm.
    /// Central differences on float32 with eps 1e-2 carry about 1e-3 relative error.
    static let tolerance = 1e-2

    static func random(_ count: Int, seed: UInt64, scale: Double = 1) -> [Float] {
        var generator = RandomGenerator(seed: seed)
        return (0..<count).map { _ in Float(scale * generator.nextNormal()) }
    }

    /// Returns `sum(output * projection)` in Double.
    static func project(_ output: UnsafePointer<Float>, _ projection: [Float]) -> Double {
        var total = 0.0
        for i in projection.indices { total += Double(output[i]) * Double(projection[i]) }
        return total
    }

    /// Returns the central-difference gradient of `loss` with respect to `values[0..<count]`.
    static func numeric(
        _ values: UnsafeMutablePointer<Float>, count: Int, eps: Float = 1e-2,
        loss: () -> Double
    ) -> [Double] {
        (0..<count).map { i in
            let saved = values[i]
            values[i] = saved + eps
            let plus = loss()
            values[i] = saved - eps
            let minus = loss()
            values[i] = saved
            return (plus - minus) / (2 * Double(eps))
        }
    }

    /// Returns the L2 relative error between the analytic and numeric gradients.
    static func relativeError(_ analytic: [Float], _ numeric: [Double]) -> Double {
        precondition(analytic.count == numeric.count, "gradient lengths differ")
        var difference = 0.0
        var analyticNorm = 0.0
        var numericNorm = 0.0
        for (a, n) in zip(analytic, numeric) {
            difference += (Double(a) - n) * (Double(a) - n)
            analyticNorm += Double(a) * Double(a)
            numericNorm += n * n
        }
        return difference.squareRoot() / max(analyticNorm.squareRoot(), numericNorm.squareRoot(), 1e-12)
    }
}
