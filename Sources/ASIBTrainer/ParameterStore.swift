/// Named tensors as views over one allocation, with an optional gradient allocation of the
/// same layout, so the optimiser and checkpoints walk one buffer.
public final class ParameterStore {
    public struct Entry {
        public let name: String
        public let shape: [Int]
        public let offset: Int
        public var count: Int { shape.reduce(1, *) }
    }

    public private(set) var entries: [Entry] = []
    public private(set) var count = 0
    private var storage: Tensor?
    private var gradientStorage: Tensor?

    public init() {}

    /// Declares a tensor and returns its offset; only valid before `allocate`.
    public func declare(_ name: String, shape: [Int]) -> Int {
        precondition(storage == nil, "declare '\(name)' after allocation")
        let entry = Entry(name: name, shape: shape, offset: count)
        entries.append(entry)
        count += entry.count
        return entry.offset
    }

    /// Allocates the zeroed values and, when `withGradients`, the zeroed gradients.
    public func allocate(withGradients: Bool) {
        storage = Tensor(shape: [count])
        if withGradients { gradientStorage = Tensor(shape: [count]) }
    }

    public var values: UnsafeMutablePointer<Float> { storage!.data }

    public var gradients: UnsafeMutablePointer<Float> {
        guard let gradientStorage else { preconditionFailure("parameter store has no gradients") }
        return gradientStorage.data
    }

    public func zeroGradients() {
        gradientStorage?.zero()
    }

    public func entry(named name: String) -> Entry? {
        entries.first { $0.name == name }
    }
}
