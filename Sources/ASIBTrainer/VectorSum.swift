/// Reductions over Float buffers with eight-lane SIMD partial sums. Swift keeps scalar
/// floating-point additions in source order, so a plain loop reduction does not vectorise.
/// Each partial sum covers about n / 8 values, and the lanes are combined in Double.
enum VectorSum {
    /// Returns `sum(x)`.
    static func sum(_ x: UnsafePointer<Float>, _ n: Int) -> Double {
        var lanes = SIMD8<Float>()
        let raw = UnsafeRawPointer(x)
        var i = 0
        while i + 8 <= n {
            lanes += raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        var total = combine(lanes)
        while i < n {
            total += Double(x[i])
            i += 1
        }
        return total
    }

    /// Returns `sum((x - mean)^2)`.
    static func squaredDeviations(_ x: UnsafePointer<Float>, mean: Float, _ n: Int) -> Double {
        var lanes = SIMD8<Float>()
        let center = SIMD8<Float>(repeating: mean)
        let raw = UnsafeRawPointer(x)
        var i = 0
        while i + 8 <= n {
            let d = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) - center
            lanes += d * d
            i += 8
        }
        var total = combine(lanes)
        while i < n {
            let d = Double(x[i] - mean)
            total += d * d
            i += 1
        }
        return total
    }

    /// Returns `(sum(dy), sum(dy * (x - mean)))`.
    static func gradientSums(
        _ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, mean: Float, _ n: Int
    ) -> (Double, Double) {
        var sumLanes = SIMD8<Float>()
        var productLanes = SIMD8<Float>()
        let center = SIMD8<Float>(repeating: mean)
        let (rawDy, rawX) = (UnsafeRawPointer(dy), UnsafeRawPointer(x))
        var i = 0
        while i + 8 <= n {
            let g = rawDy.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            let d = rawX.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self) - center
            sumLanes += g
            productLanes += g * d
            i += 8
        }
        var sum = combine(sumLanes)
        var product = combine(productLanes)
        while i < n {
            sum += Double(dy[i])
            product += Double(dy[i] * (x[i] - mean))
            i += 1
        }
        return (sum, product)
    }

    private static func combine(_ lanes: SIMD8<Float>) -> Double {
        var total: Double = 0
        for lane in 0..<8 { total += Double(lanes[lane]) }
        return total
    }
}
