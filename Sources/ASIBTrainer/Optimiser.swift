/// An optimiser over one flat parameter buffer and its gradient buffer of the same layout.
public protocol Optimiser: AnyObject {
    /// Updates `values` in place from `gradients` with learning rate `learningRate`.
    func step(
        values: UnsafeMutablePointer<Float>,
        gradients: UnsafePointer<Float>,
        count: Int,
        learningRate: Double
    )

    /// Updates only the entries in `ranges` (partial freeze); the other values and their
    /// optimiser state stay unchanged.
    func step(
        values: UnsafeMutablePointer<Float>,
        gradients: UnsafePointer<Float>,
        ranges: [Range<Int>],
        learningRate: Double
    )

    /// The optimiser's state as one flat array, which resume checkpoints store: SGD's
    /// momentum buffer, or AdamW's two moment buffers followed by its step count.
    var stateValues: [Float] { get set }
}

extension SGD: Optimiser {
    public var stateValues: [Float] {
        get { velocityValues }
        set { velocityValues = newValue }
    }
}

extension AdamW: Optimiser {}
