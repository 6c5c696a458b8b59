/// Images and labels held in memory as raw bytes, `[N, C, H, W]` in 0...255, with the
/// per-channel mean and standard deviation used to normalise them (on the 0...1 scale).
public struct ImageDataset {
    public let name: String
    public let channels: Int
    public let height: Int
    public let width: Int
    public let classes: Int
    public let pixels: [UInt8]
    public let labels: [Int32]
    public let mean: [Float]
    public let std: [Float]

    public init(
        name: String, channels: Int, height: Int, width: Int, classes: Int,
        pixels: [UInt8], labels: [Int32], mean: [Float], std: [Float]
    ) {
        precondition(pixels.count == labels.count * channels * height * width, "pixel count")
        precondition(mean.count == channels && std.count == channels, "per-channel statistics")
        self.name = name
        self.channels = channels
        self.height = height
        self.width = width
        self.classes = classes
        self.pixels = pixels
        self.labels = labels
        self.mean = mean
        self.std = std
    }

    public var count: Int { labels.count }
    public var imageSize: Int { channels * height * width }
}

/// A train and a test split of one dataset.
public struct DatasetSplits {
    public let train: ImageDataset
    public let test: ImageDataset
}
