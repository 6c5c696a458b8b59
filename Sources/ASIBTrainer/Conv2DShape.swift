/// Sizes of one 2-D convolution over a whole batch in the `[C, B, H, W]` layout.
///
/// Shapes: input `[Cin, B, H, W]`, weight `[Cout, Cin / groups, k, k]` (PyTorch's layout),
/// output `[Cout, B, Ho, Wo]`, and the im2col matrix of one group
/// `[Cin / groups * k * k, B * Ho * Wo]`. Group `i` maps input channels
/// `i * Cin / groups ..< (i + 1) * Cin / groups` to the matching slice of output channels.
public struct Conv2DShape: Equatable, Sendable {
    public let inChannels: Int
    public let outChannels: Int
    public let kernel: Int
    public let stride: Int
    public let padding: Int
    public let batch: Int
    public let height: Int
    public let width: Int
    /// Number of channel groups; it divides both channel counts.
    public let groups: Int

    public init(
        inChannels: Int, outChannels: Int, kernel: Int, stride: Int, padding: Int,
        batch: Int, height: Int, width: Int, groups: Int = 1
    ) {
        precondition(
            groups >= 1 && inChannels % groups == 0 && outChannels % groups == 0,
            "groups \(groups) must divide the channel counts \(inChannels) and \(outChannels)"
        )
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
        self.batch = batch
        self.height = height
        self.width = width
        self.groups = groups
    }

    public var outHeight: Int { (height + 2 * padding - kernel) / stride + 1 }
    public var outWidth: Int { (width + 2 * padding - kernel) / stride + 1 }

    /// Rows of one group's im2col matrix and columns of the flattened weight:
    /// `Cin / groups * k * k`.
    public var patchSize: Int { inChannels / groups * kernel * kernel }

    /// Columns of the im2col matrix and of the output: `B * Ho * Wo`.
    public var outputPixels: Int { batch * outHeight * outWidth }

    public var inputCount: Int { inChannels * batch * height * width }
    public var outputCount: Int { outChannels * outputPixels }
    public var weightCount: Int { outChannels * patchSize }

    /// True for a 1x1, stride-1, unpadded convolution, whose im2col matrix is the input itself.
    public var isPointwise: Bool { kernel == 1 && stride == 1 && padding == 0 }

    /// True for a depthwise convolution: one filter per channel (`groups == Cin == Cout`).
    public var isDepthwise: Bool {
        groups > 1 && groups == inChannels && groups == outChannels
    }

    /// The convolution of group 0 alone (the same sizes for every group), with one group.
    var singleGroup: Conv2DShape {
        Conv2DShape(
            inChannels: inChannels / groups, outChannels: outChannels / groups, kernel: kernel,
            stride: stride, padding: padding, batch: batch, height: height, width: width
        )
    }

    /// Multiply-adds times two for one image.
    public var flopsPerImage: Int { 2 * outChannels * patchSize * outHeight * outWidth }
}
