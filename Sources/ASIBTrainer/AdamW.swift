import Foundation

/// AdamW as PyTorch's `torch.optim.AdamW` (betas 0.9 / 0.999, eps 1e-8): decoupled weight
/// decay `p -= lr * wd * p`, then `p -= lr * m_hat / (sqrt(v_hat) + eps)` with bias-corrected
/// moments. Weight decay applies to every parameter, biases and norm gains included.
public final class AdamW {
    public let weightDecay: Double
    public let beta1 = 0.9
    public let beta2 = 0.999
    public let epsilon = 1e-8
    private let firstMoment: Tensor
    private let secondMoment: Tensor
    private var steps = 0

    public init(parameterCount: Int, weightDecay: Double) {
        self.weightDecay = weightDecay
        firstMoment = Tensor(shape: [parameterCount])
        secondMoment = Tensor(shape: [parameterCount])
    }

    /// Both moment buffers, then the step count (exact in Float up to 2^24 steps).
    public var stateValues: [Float] {
        get {
            Array(UnsafeBufferPointer(start: firstMoment.data, count: firstMoment.count))
                + Array(UnsafeBufferPointer(start: secondMoment.data, count: secondMoment.count))
                + [Float(steps)]
        }
        set {
            let count = firstMoment.count
            precondition(newValue.count == 2 * count + 1, "AdamW state of \(newValue.count) values")
            newValue.withUnsafeBufferPointer { buffer in
                firstMoment.data.update(from: buffer.baseAddress!, count: count)
                secondMoment.data.update(from: buffer.baseAddress! + count, count: count)
            }
            steps = Int(newValue[2 * count])
        }
    }

    public func step(
        values: UnsafeMutablePointer<Float>,
        gradients: UnsafePointer<Float>,
        count: Int,
        learningRate: Double
    ) {
        step(values: values, gradients: gradients, ranges: [0..<count], learningRate: learningRate)
    }

    /// Updates only the entries in `ranges`; the others, and their moments, stay unchanged, as
    /// PyTorch skips parameters without a gradient. The step count rises once per call.
    public func step(
        values: UnsafeMutablePointer<Float>,
        gradients: UnsafePointer<Float>,
        ranges: [Range<Int>],
        learningRate: Double
    ) {
        steps += 1
        let correction1 = 1 - Foundation.pow(beta1, Double(steps))
        let correction2 = 1 - Foundation.pow(beta2, Double(steps))
        let m = firstMoment.data
        let v = secondMoment.data
        for range in ranges {
            precondition(range.upperBound <= firstMoment.count, "range \(range) outside the AdamW state")
            for i in range {
                let g = Double(gradients[i])
                m[i] = Float(beta1 * Double(m[i]) + (1 - beta1) * g)
                v[i] = Float(beta2 * Double(v[i]) + (1 - beta2) * g * g)
                var p = Double(values[i]) * (1 - learningRate * weightDecay)
                let mHat = Double(m[i]) / correction1
                let vHat = Double(v[i]) / correction2
                p -= learningRate * mHat / (vHat.squareRoot() + epsilon)
                values[i] = Float(p)
            }
        }
    }
}
