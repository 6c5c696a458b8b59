import Foundation

/// A Float32 tensor on one contiguous, 64-byte aligned buffer, allocated once and zeroed.
///
/// Activations use the channel-major layout `[C, B, H, W]`: the batch sits inside the channel,
/// so a convolution over the whole batch is one GEMM and batch-norm statistics of a channel
/// are one contiguous run of `B * H * W` values.
public final class Tensor {
    public let shape: [Int]
    public let count: Int
    public let data: UnsafeMutablePointer<Float>

    public init(shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.shape = shape
        count = shape.reduce(1, *)
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: max(count, 1) * MemoryLayout<Float>.stride,
            alignment: 64
        )
        data = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        data.initialize(repeating: 0, count: max(count, 1))
    }

    public convenience init(shape: [Int], values: [Float]) {
        self.init(shape: shape)
        precondition(values.count == count, "\(values.count) values for shape \(shape)")
        values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: count) }
    }

    deinit {
        UnsafeMutableRawPointer(data).deallocate()
    }

    /// Sets every element to zero.
    public func zero() {
        data.update(repeating: 0, count: count)
    }

    /// Copies of the elements, for tests and checkpoints.
    public var values: [Float] {
        Array(UnsafeBufferPointer(start: data, count: count))
    }
}
