import Foundation

/// Reads Fashion-MNIST from its four IDX files, gzip-compressed as the Debian package
/// `dataset-fashion-mnist` installs them.
public enum FashionMNISTReader {
    public static let defaultRoot = "/usr/share/datasets/fashion-mnist"
    /// Mean and standard deviation of the 60000 training images on the 0...1 scale.
    static let mean: Float = 0.2860
    static let std: Float = 0.3530
    static let imageMagic: UInt32 = 0x0000_0803
    static let labelMagic: UInt32 = 0x0000_0801
    static let fileNames = [
        "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
    ]

    /// Loads the first `trainLimit` training and `testLimit` test images (0 = all).
    public static func load(
        root: String = defaultRoot, trainLimit: Int, testLimit: Int
    ) throws -> DatasetSplits {
        let paths = try checkFiles(root: root)
        let train = try split(images: paths[0], labels: paths[1], limit: trainLimit)
        let test = try split(images: paths[2], labels: paths[3], limit: testLimit)
        return DatasetSplits(train: train, test: test)
    }

    /// Returns the paths of the four files, or throws naming the ones that are missing.
    static func checkFiles(root: String) throws -> [String] {
        let paths = fileNames.map { URL(fileURLWithPath: root).appendingPathComponent($0).path }
        let missing = paths.filter { !FileManager.default.isReadableFile(atPath: $0) }
        guard missing.isEmpty else {
            throw TrainerError.datasetFilesMissing(
                dataset: "Fashion-MNIST", missing: missing, expected: paths,
                fix: "install them with `apt-get install dataset-fashion-mnist`"
                    + (root == defaultRoot ? "" : " or fix dataset.root")
            )
        }
        return paths
    }

    static func split(images: String, labels: String, limit: Int) throws -> ImageDataset {
        guard let imageFile = GzipReader(path: images), let labelFile = GzipReader(path: labels)
        else {
            throw TrainerError.datasetMalformed(
                path: GzipReader(path: images) == nil ? images : labels,
                problem: "cannot open the file"
            )
        }
        let (count, rows, columns) = try imageHeader(imageFile)
        let labelCount = try labelHeader(labelFile)
        guard labelCount == count else {
            throw TrainerError.datasetMalformed(
                path: labels,
                problem: "\(labelCount) labels for \(count) images in '\(images)'"
            )
        }
        let used = limit > 0 ? min(limit, count) : count
        let pixels = try imageFile.read(used * rows * columns)
        let labelBytes = try labelFile.read(used)
        if let bad = labelBytes.first(where: { $0 > 9 }) {
            throw TrainerError.datasetMalformed(
                path: labels, problem: "label '\(bad)' outside 0...9"
            )
        }
        return ImageDataset(
            name: "fashion_mnist", channels: 1, height: rows, width: columns, classes: 10,
            pixels: pixels, labels: labelBytes.map { Int32($0) }, mean: [mean], std: [std]
        )
    }

    private static func imageHeader(_ file: GzipReader) throws -> (Int, Int, Int) {
        let magic = try file.readBigEndianUInt32()
        guard magic == imageMagic else {
            throw TrainerError.datasetMalformed(
                path: file.path,
                problem: "magic number '0x\(String(magic, radix: 16))', expected 0x803 "
                    + "(IDX unsigned-byte images)"
            )
        }
        let count = Int(try file.readBigEndianUInt32())
        let rows = Int(try file.readBigEndianUInt32())
        let columns = Int(try file.readBigEndianUInt32())
        guard rows == 28, columns == 28 else {
            throw TrainerError.datasetMalformed(
                path: file.path, problem: "image size '\(rows)x\(columns)', expected 28x28"
            )
        }
        return (count, rows, columns)
    }

    private static func labelHeader(_ file: GzipReader) throws -> Int {
        let magic = try file.readBigEndianUInt32()
        guard magic == labelMagic else {
            throw TrainerError.datasetMalformed(
                path: file.path,
                problem: "magic number '0x\(String(magic, radix: 16))', expected 0x801 "
                    + "(IDX unsigned-byte labels)"
            )
        }
        return Int(try file.readBigEndianUInt32())
    }
}
