/// An optimiser over one flat parameter buffer and its gradient buffer of the same layout.
public protocol Optimiser: AnyObject {
    /// Updates `values` in place from `gradients` with learning rate `learningRate`.
    func step(
        values: UnsafeMutablePointer<Float>,
        gradients: UnsafePointer<Float>,
        count: Int,
        learningRate: Double
    )
}

extension SGD: Optimiser {}
extension AdamW: Optimiser {}
