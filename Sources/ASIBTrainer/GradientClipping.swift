/// Global-norm gradient clipping, as PyTorch's `clip_grad_norm_`: when the L2 norm of all
/// gradients together exceeds `maxNorm`, every gradient is multiplied by
/// `maxNorm / (norm + 1e-6)`.
enum GradientClipping {
    /// Clips `gradients[0..<count]` in place and returns the norm before clipping.
    @discardableResult
    static func clip(gradients: UnsafeMutablePointer<Float>, count: Int, maxNorm: Double) -> Double {
        clip(gradients: gradients, ranges: [0..<count], maxNorm: maxNorm)
    }

    /// Clips the gradients in `ranges` together (the trainable parameters under a partial
    /// freeze) and returns their norm before clipping.
    @discardableResult
    static func clip(
        gradients: UnsafeMutablePointer<Float>, ranges: [Range<Int>], maxNorm: Double
    ) -> Double {
        clip(groups: [(gradients, ranges)], maxNorm: maxNorm)
    }

    /// Clips the gradients of several buffers together, each restricted to its ranges (the
    /// student and its distillation adapter, for instance), and returns their joint norm
    /// before clipping.
    @discardableResult
    static func clip(
        groups: [(gradients: UnsafeMutablePointer<Float>, ranges: [Range<Int>])], maxNorm: Double
    ) -> Double {
        var squares = 0.0
        for (gradients, ranges) in groups {
            for range in ranges {
                for i in range { squares += Double(gradients[i]) * Double(gradients[i]) }
            }
        }
        let norm = squares.squareRoot()
        guard norm > maxNorm else { return norm }
        let scale = Float(maxNorm / (norm + 1e-6))
        for (gradients, ranges) in groups {
            for range in ranges {
                for i in range { gradients[i] *= scale }
            }
        }
        return norm
    }
}
