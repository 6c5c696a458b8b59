/// Sizes of one 2-D convolution over a whole batch in the `[C, B, H, W]` layout.
///
/// Shapes: input `[Cin, B, H, W]`, weight `[Cout, Cin, k, k]`, output `[Cout, B, Ho, Wo]`, and
/// the im2col matrix `[Cin * k * k, B * Ho * Wo]`.
public struct Conv2DShape: Equatable, Sendable {
    public let inChannels: Int
    public let outChannels: Int
    public let kernel: Int
    public let stride: Int
    public let padding: Int
    public let batch: Int
    public let height: Int
    public let width: Int

    public init(
        inChannels: Int, outChannels: Int, kernel: Int, stride: Int, padding: Int,
        batch: Int, height: Int, width: Int
    ) {
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        self.batch = batch
        self.height = height
        self.width = width
    }

    public var outHeight: Int { (height + 2 * padding - kernel) / stride + 1 }
    public var outWidth: Int { (width + 2 * padding - kernel) / stride + 1 }

    /// Rows of the im2col matrix and columns of the flattened weight: `Cin * k * k`.
    public var patchSize: Int { inChannels * kernel * kernel }

    /// Columns of the im2col matrix and of the output: `B * Ho * Wo`.
    public var outputPixels: Int { batch * outHeight * outWidth }

    public var inputCount: Int { inChannels * batch * height * width }
    public var outputCount: Int { outChannels * outputPixels }
    public var weightCount: Int { outChannels * patchSize }

    /// True for a 1x1, stride-1, unpadded convolution, whose im2col matrix is the input itself.
    public var isPointwise: Bool { kernel == 1 && stride == 1 && padding == 0 }

    /// Multiply-adds times two for one image.
    public var flopsPerImage: Int { 2 * outChannels * patchSize * outHeight * outWidth }
}
