import Foundation

/// Numerically stable log-softmax of one row of logits, in Double.
enum Softmax {
    /// Returns `log softmax(logits / temperature)` for `count` logits.
    static func logSoftmax(
        _ logits: UnsafePointer<Float>,
        _ count: Int,
        _ temperature: Double = 1
    ) -> [Double] {
        var scaled = [Double](repeating: 0, count: count)
        var maximum = -Double.infinity
        for k in 0..<count {
            scaled[k] = Double(logits[k]) / temperature
            maximum = max(maximum, scaled[k])
        }
        var sum: Double = 0
        for k in 0..<count { sum += Foundation.exp(scaled[k] - maximum) }
        let logNormaliser = maximum + Foundation.log(sum)
        for k in 0..<count { scaled[k] -= logNormaliser }
        return scaled
    }
}
