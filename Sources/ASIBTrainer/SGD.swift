/// SGD with momentum as PyTorch's `torch.optim.SGD` (dampening 0): coupled L2 weight decay
/// `g = grad + wd * p`, `v = momentum * v + g`, and `p -= lr * (g + momentum * v)` with
/// Nesterov or `p -= lr * v` without.
///
/// Weight decay applies to every trainable tensor, BN gamma/beta and the linear bias included,
/// which is PyTorch's behaviour when all parameters sit in one parameter group.
public final class SGD {
    public let momentum: Float
    public let nesterov: Bool
    public let weightDecay: Float
    private let velocity: Tensor

    public init(parameterCount: Int, momentum: Double, nesterov: Bool, weightDecay: Double) {
        self.momentum = Float(momentum)
        self.nesterov = nesterov
        self.weightDecay = Float(weightDecay)
        velocity = Tensor(shape: [parameterCount])
    }

    /// The momentum buffer, which resume checkpoints store.
    var velocityValues: [Float] {
        get { Array(UnsafeBufferPointer(start: velocity.data, count: velocity.count)) }
        set {
            precondition(newValue.count == velocity.count, "velocity of \(newValue.count) values, expected \(velocity.count)")
            newValue.withUnsafeBufferPointer { velocity.data.update(from: $0.baseAddress!, count: velocity.count) }
        }
    }

    /// Updates `values` in place from `gradients` with learning rate `lr`.
    public func step(
        values: UnsafeMutablePointer<Float>,
        gradients: UnsafePointer<Float>,
        count: Int,
        learningRate: Double
    ) {
        precondition(count == velocity.count, "SGD built for \(velocity.count) values, got \(count)")
        step(values: values, gradients: gradients, ranges: [0..<count], learningRate: learningRate)
    }

    /// Updates only the entries in `ranges`; the others, and their momentum, stay unchanged, as
    /// PyTorch skips parameters without a gradient.
    public func step(
        values: UnsafeMutablePointer<Float>,
        gradients: UnsafePointer<Float>,
        ranges: [Range<Int>],
        learningRate: Double
    ) {
        let lr = Float(learningRate)
        let (mu, wd) = (momentum, weightDecay)
        let v = velocity.data
        for range in ranges {
            precondition(range.upperBound <= velocity.count, "range \(range) outside the SGD state")
            if nesterov {
                for i in range {
                    let g = gradients[i] + wd * values[i]
                    v[i] = mu * v[i] + g
                    values[i] -= lr * (g + mu * v[i])
                }
            } else {
                for i in range {
                    let g = gradients[i] + wd * values[i]
                    v[i] = mu * v[i] + g
                    values[i] -= lr * v[i]
                }
            }
        }
    }
}
