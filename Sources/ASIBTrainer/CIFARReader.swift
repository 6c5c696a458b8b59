import Foundation

/// Reads CIFAR-10 or CIFAR-100 in the binary format: records of label byte(s) followed by
/// 3072 pixel bytes (red, green, blue planes of 32x32).
public enum CIFARReader {
    public enum Variant: String {
        case cifar10, cifar100

        var trainFiles: [String] {
            switch self {
            case .cifar10: return (1...5).map { "data_batch_\($0).bin" }
            case .cifar100: return ["train.bin"]
            }
        }

        var testFiles: [String] {
            switch self {
            case .cifar10: return ["test_batch.bin"]
            case .cifar100: return ["test.bin"]
            }
        }

        /// Label bytes per record: CIFAR-100 stores the coarse label before the fine one.
        var labelBytes: Int { self == .cifar10 ? 1 : 2 }
        var classes: Int { self == .cifar10 ? 10 : 100 }

        /// Per-channel mean and standard deviation of the training images (0...1 scale).
        var statistics: (mean: [Float], std: [Float]) {
            switch self {
            case .cifar10: return ([0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616])
            case .cifar100: return ([0.5071, 0.4865, 0.4409], [0.2673, 0.2564, 0.2762])
            }
        }
    }

    static let imageBytes = 3 * 32 * 32

    /// Loads the first `trainLimit` training and `testLimit` test images (0 = all) from `root`.
    public static func load(
        _ variant: Variant, root: String, trainLimit: Int, testLimit: Int
    ) throws -> DatasetSplits {
        let (trainPaths, testPaths) = try checkFiles(variant, root: root)
        return DatasetSplits(
            train: try split(variant, paths: trainPaths, limit: trainLimit),
            test: try split(variant, paths: testPaths, limit: testLimit)
        )
    }

    /// Returns the training and test file paths, or throws naming the missing ones and the
    /// first file whose size is not a whole number of records. Labels are checked on load.
    static func checkFiles(
        _ variant: Variant, root: String
    ) throws -> (train: [String], test: [String]) {
        let url = URL(fileURLWithPath: root)
        let trainPaths = variant.trainFiles.map { url.appendingPathComponent($0).path }
        let testPaths = variant.testFiles.map { url.appendingPathComponent($0).path }
        let expected = trainPaths + testPaths
        let missing = expected.filter { !FileManager.default.isReadableFile(atPath: $0) }
        guard missing.isEmpty else {
            throw TrainerError.datasetFilesMissing(
                dataset: variant == .cifar10 ? "CIFAR-10" : "CIFAR-100", missing: missing,
                expected: expected,
                fix: "download the binary version and set dataset.root to its folder"
            )
        }
        let recordSize = variant.labelBytes + imageBytes
        for path in expected {
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size])
                .flatMap { $0 as? Int } ?? 0
            guard size > 0, size % recordSize == 0 else {
                throw TrainerError.datasetMalformed(path: path, problem: sizeProblem(size, variant))
            }
        }
        return (trainPaths, testPaths)
    }

    private static func sizeProblem(_ size: Int, _ variant: Variant) -> String {
        let recordSize = variant.labelBytes + imageBytes
        return "size \(size) bytes is not a positive multiple of the \(recordSize)-byte "
            + "\(variant.rawValue) record"
    }

    static func split(_ variant: Variant, paths: [String], limit: Int) throws -> ImageDataset {
        var pixels: [UInt8] = []
        var labels: [Int32] = []
        let recordSize = variant.labelBytes + imageBytes
        for path in paths where limit == 0 || labels.count < limit {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            guard data.count > 0, data.count % recordSize == 0 else {
                throw TrainerError.datasetMalformed(
                    path: path, problem: sizeProblem(data.count, variant)
                )
            }
            try data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
                for record in 0..<(data.count / recordSize) {
                    if limit > 0 && labels.count >= limit { break }
                    let start = record * recordSize
                    let label = Int32(bytes[start + variant.labelBytes - 1])
                    guard label < variant.classes else {
                        throw TrainerError.datasetMalformed(
                            path: path,
                            problem: "label '\(label)' in record \(record) is outside "
                                + "0..<\(variant.classes)"
                        )
                    }
                    labels.append(label)
                    let pixelStart = start + variant.labelBytes
                    pixels.append(contentsOf: bytes[pixelStart..<(pixelStart + imageBytes)])
                }
            }
        }
        let (mean, std) = variant.statistics
        return ImageDataset(
            name: variant.rawValue, channels: 3, height: 32, width: 32, classes: variant.classes,
            pixels: pixels, labels: labels, mean: mean, std: std
        )
    }
}
