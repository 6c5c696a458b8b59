import Foundation

/// Loads the dataset named by the options.
enum DatasetSource {
    static let names = ["fashion_mnist", "cifar10", "cifar100"]

    /// Throws when the dataset name is unknown or any of its files is missing, without
    /// reading them.
    static func checkFiles(_ options: TrainingOptions) throws {
        switch options.dataset {
        case "fashion_mnist":
            _ = try FashionMNISTReader.checkFiles(
                root: options.datasetRoot ?? FashionMNISTReader.defaultRoot
            )
        case "cifar10", "cifar100":
            _ = try CIFARReader.checkFiles(
                CIFARReader.Variant(rawValue: options.dataset)!, root: try cifarRoot(options)
            )
        default:
            throw unknownDataset(options.dataset)
        }
    }

    static func load(_ options: TrainingOptions) throws -> DatasetSplits {
        switch options.dataset {
        case "fashion_mnist":
            return try FashionMNISTReader.load(
                root: options.datasetRoot ?? FashionMNISTReader.defaultRoot,
                trainLimit: options.trainLimit, testLimit: options.testLimit
            )
        case "cifar10", "cifar100":
            return try CIFARReader.load(
                CIFARReader.Variant(rawValue: options.dataset)!, root: try cifarRoot(options),
                trainLimit: options.trainLimit, testLimit: options.testLimit
            )
        default:
            throw unknownDataset(options.dataset)
        }
    }

    private static func cifarRoot(_ options: TrainingOptions) throws -> String {
        guard let root = options.datasetRoot else {
            throw TrainerError.invalidOption(
                key: "dataset.root", value: "",
                allowed: "the folder of the \(options.dataset) binary files"
            )
        }
        return root
    }

    private static func unknownDataset(_ name: String) -> TrainerError {
        .invalidOption(key: "dataset.name", value: name, allowed: names.joined(separator: ", "))
    }
}
