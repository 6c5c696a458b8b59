// Shapes: dataset images [N, C, H, W] bytes; batch input [C, B, H, W] floats; labels [B].

/// Turns a dataset into normalised mini-batches in the `[C, B, H, W]` layout, with seeded
/// per-epoch shuffling and optional augmentation: a random crop after zero padding (2 pixels for
/// 28x28 images, 4 for larger ones) and, for 3-channel images, a random horizontal flip.
public final class BatchLoader {
    public let dataset: ImageDataset
    public let batchSize: Int
    public let augment: Bool
    private let seed: UInt64
    /// `(value / 255 - mean[c]) / std[c]` for each channel c and byte value.
    private let normalised: [Float]
    private var random: RandomGenerator

    /// The augmentation generator's state, which resume checkpoints store.
    var augmentationState: RandomGenerator.State {
        get { random.savedState }
        set { random.savedState = newValue }
    }

    public var cropPadding: Int { dataset.height <= 28 ? 2 : 4 }
    public var flips: Bool { dataset.channels == 3 }

    public init(dataset: ImageDataset, batchSize: Int, augment: Bool, seed: UInt64) {
        self.dataset = dataset
        self.batchSize = batchSize
        self.augment = augment
        self.seed = seed
        random = RandomGenerator(seed: seed)
        var table: [Float] = []
        for channel in 0..<dataset.channels {
            for value in 0..<256 {
                table.append((Float(value) / 255 - dataset.mean[channel]) / dataset.std[channel])
            }
        }
        normalised = table
    }

    /// Returns the sample order of an epoch: a permutation drawn from the seed and the epoch
    /// number when `shuffle`, else `0..<N`.
    public func order(epoch: Int, shuffle: Bool) -> [Int] {
        guard shuffle else { return Array(0..<dataset.count) }
        var generator = RandomGenerator(seed: seed &+ UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15)
        return generator.permutation(dataset.count)
    }

    /// Returns the batches of `order` in sequence; the last one may be smaller.
    public func batches(of order: [Int]) -> [ArraySlice<Int>] {
        stride(from: 0, to: order.count, by: batchSize).map {
            order[$0..<min($0 + batchSize, order.count)]
        }
    }

    /// Writes the images of `indices` into `input` `[C, B, H, W]` (B = indices.count) and their
    /// labels into `labels`, augmenting when the loader augments and `training` is true.
    public func fill(
        input: UnsafeMutablePointer<Float>,
        labels: UnsafeMutablePointer<Int32>,
        indices: ArraySlice<Int>,
        training: Bool
    ) {
        let batch = indices.count
        let (c, h, w) = (dataset.channels, dataset.height, dataset.width)
        for (b, index) in indices.enumerated() {
            labels[b] = dataset.labels[index]
            var shiftY = 0
            var shiftX = 0
            var flip = false
            if augment && training {
                shiftY = random.nextInt(below: 2 * cropPadding + 1) - cropPadding
                shiftX = random.nextInt(below: 2 * cropPadding + 1) - cropPadding
                flip = flips && random.nextInt(below: 2) == 1
            }
            for channel in 0..<c {
                let plane = input + (channel * batch + b) * h * w
                copyPlane(
                    plane, image: index, channel: channel, shiftY: shiftY, shiftX: shiftX,
                    flip: flip
                )
            }
        }
    }

    /// Writes one channel: `plane[y, x] = image[y + shiftY, x' + shiftX]` with
    /// `x' = flip ? W - 1 - x : x`; positions outside the image take the normalised value of a
    /// zero pixel, as zero padding before normalisation gives.
    private func copyPlane(
        _ plane: UnsafeMutablePointer<Float>, image: Int, channel: Int,
        shiftY: Int, shiftX: Int, flip: Bool
    ) {
        let (h, w) = (dataset.height, dataset.width)
        let base = (image * dataset.channels + channel) * h * w
        let tableBase = channel * 256
        dataset.pixels.withUnsafeBufferPointer { pixels in
            normalised.withUnsafeBufferPointer { table in
                for y in 0..<h {
                    let sourceY = y + shiftY
                    for x in 0..<w {
                        let sourceX = (flip ? w - 1 - x : x) + shiftX
                        var value = table[tableBase]
                        if sourceY >= 0 && sourceY < h && sourceX >= 0 && sourceX < w {
                            value = table[tableBase + Int(pixels[base + sourceY * w + sourceX])]
                        }
                        plane[y * w + x] = value
                    }
                }
            }
        }
    }
}
