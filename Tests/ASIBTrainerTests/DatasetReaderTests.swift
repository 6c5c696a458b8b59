import CZlib
import Foundation
import Testing
@testable import ASIBTrainer

// Readers on tiny generated files: IDX through gzip, CIFAR binary records.

private func temporaryFolder() throws -> URL {
    let folder = FileManager.default.temporaryDirectory
        .appendingPathComponent("asib-trainer-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    return folder
}

private func bigEndian(_ values: [UInt32]) -> [UInt8] {
    values.flatMap { value in (0..<4).reversed().map { UInt8((value >> (8 * UInt32($0))) & 0xFF) } }
}

private func writeGzip(_ bytes: [UInt8], to url: URL) {
    let file = gzopen(url.path, "wb")!
    _ = bytes.withUnsafeBytes { gzwrite(file, $0.baseAddress, UInt32($0.count)) }
    gzclose(file)
}

/// Writes the four Fashion-MNIST files with `count` 28x28 images per split; image i has every
/// pixel equal to i and label i % 10.
private func writeFashionFiles(in folder: URL, count: Int, imageMagic: UInt32 = 0x803) {
    for prefix in ["train", "t10k"] {
        var images = bigEndian([imageMagic, UInt32(count), 28, 28])
        for image in 0..<count { images += [UInt8](repeating: UInt8(image), count: 784) }
        writeGzip(images, to: folder.appendingPathComponent("\(prefix)-images-idx3-ubyte.gz"))
        let labels = bigEndian([0x801, UInt32(count)]) + (0..<count).map { UInt8($0 % 10) }
        writeGzip(labels, to: folder.appendingPathComponent("\(prefix)-labels-idx1-ubyte.gz"))
    }
}

@Test func fashionReaderLoadsGeneratedIdxFiles() throws {
    let folder = try temporaryFolder()
    writeFashionFiles(in: folder, count: 12)
    let splits = try FashionMNISTReader.load(root: folder.path, trainLimit: 5, testLimit: 0)
    #expect(splits.train.count == 5)
    #expect(splits.test.count == 12)
    #expect(splits.train.labels[3] == 3)
    #expect(splits.train.pixels[4 * 784 + 100] == 4)
}

@Test func fashionReaderRejectsWrongMagic() throws {
    let folder = try temporaryFolder()
    writeFashionFiles(in: folder, count: 3, imageMagic: 0x804)
    #expect(throws: TrainerError.self) {
        try FashionMNISTReader.load(root: folder.path, trainLimit: 0, testLimit: 0)
    }
}

@Test func fashionReaderRejectsTruncatedFile() throws {
    let folder = try temporaryFolder()
    writeFashionFiles(in: folder, count: 3)
    let truncated = bigEndian([0x803, 10, 28, 28]) + [UInt8](repeating: 0, count: 784)
    writeGzip(truncated, to: folder.appendingPathComponent("train-images-idx3-ubyte.gz"))
    do {
        _ = try FashionMNISTReader.load(root: folder.path, trainLimit: 0, testLimit: 0)
        Issue.record("a truncated image file was accepted")
    } catch let error as TrainerError {
        #expect(error.description.contains("labels for 10 images"))
        #expect(error.exitCode == 64)
    }
}

@Test func missingFashionFilesNameEveryPathAndPackage() throws {
    let folder = try temporaryFolder().appendingPathComponent("absent")
    do {
        _ = try FashionMNISTReader.load(root: folder.path, trainLimit: 0, testLimit: 0)
        Issue.record("missing files were accepted")
    } catch let error as TrainerError {
        for name in FashionMNISTReader.fileNames {
            #expect(error.description.contains(folder.appendingPathComponent(name).path))
        }
        #expect(error.description.contains("apt-get install dataset-fashion-mnist"))
        #expect(error.exitCode == 64)
    }
}

@Test func cifar100ReaderTakesFineLabels() throws {
    let folder = try temporaryFolder()
    for name in ["train.bin", "test.bin"] {
        var bytes: [UInt8] = []
        for record in 0..<3 {
            bytes += [7, UInt8(40 + record)] + [UInt8](repeating: UInt8(record), count: 3072)
        }
        try Data(bytes).write(to: folder.appendingPathComponent(name))
    }
    let splits = try CIFARReader.load(.cifar100, root: folder.path, trainLimit: 2, testLimit: 0)
    #expect(splits.train.labels == [40, 41])
    #expect(splits.test.count == 3)
    #expect(splits.test.pixels[2 * 3072] == 2)
}

@Test func cifarReaderRejectsPartialRecord() throws {
    let folder = try temporaryFolder()
    try Data([UInt8](repeating: 1, count: 3074)).write(to: folder.appendingPathComponent("train.bin"))
    try Data([UInt8](repeating: 1, count: 3075)).write(to: folder.appendingPathComponent("test.bin"))
    #expect(throws: TrainerError.self) {
        try CIFARReader.load(.cifar100, root: folder.path, trainLimit: 0, testLimit: 0)
    }
}

@Test func cifarFileCheckRejectsPartialRecordBeforeLoading() throws {
    // The launch check reads only file sizes; it names the first file that is not a whole
    // number of 3073-byte CIFAR-10 records.
    let folder = try temporaryFolder()
    let record = [UInt8](repeating: 1, count: 3073)
    for index in 1...5 {
        try Data(record).write(to: folder.appendingPathComponent("data_batch_\(index).bin"))
    }
    let truncated = folder.appendingPathComponent("test_batch.bin")
    try Data(record.dropLast()).write(to: truncated)
    do {
        _ = try CIFARReader.checkFiles(.cifar10, root: folder.path)
        Issue.record("a truncated test file passed the file check")
    } catch let error as TrainerError {
        #expect(error.description.contains(truncated.path))
        #expect(error.description.contains("size 3072 bytes"))
        #expect(error.exitCode == 64)
    }
    try Data(record).write(to: truncated)
    let paths = try CIFARReader.checkFiles(.cifar10, root: folder.path)
    #expect(paths.train.count == 5)
}

@Test func missingCifar10FilesNameEveryPath() throws {
    let folder = try temporaryFolder()
    do {
        _ = try CIFARReader.load(.cifar10, root: folder.path, trainLimit: 0, testLimit: 0)
        Issue.record("missing files were accepted")
    } catch let error as TrainerError {
        #expect(error.description.contains(folder.appendingPathComponent("data_batch_5.bin").path))
        #expect(error.description.contains(folder.appendingPathComponent("test_batch.bin").path))
    }
}

@Test func batchLoaderNormalisesAndShufflesBySeed() throws {
    let folder = try temporaryFolder()
    writeFashionFiles(in: folder, count: 10)
    let data = try FashionMNISTReader.load(root: folder.path, trainLimit: 0, testLimit: 0).train
    let loader = BatchLoader(dataset: data, batchSize: 4, augment: false, seed: 9)
    let again = BatchLoader(dataset: data, batchSize: 4, augment: false, seed: 9)
    let input = Tensor(shape: [1, 4, 28, 28])
    var labels = [Int32](repeating: 0, count: 4)
    loader.fill(input: input.data, labels: &labels, indices: [2, 5, 6, 0][...], training: true)
    // Image 5 has every pixel 5: (5 / 255 - 0.2860) / 0.3530, at batch position 1.
    #expect(abs(input.data[784 + 10] - (5.0 / 255 - 0.2860) / 0.3530) < 1e-6)
    #expect(labels == [2, 5, 6, 0])
    #expect(loader.order(epoch: 3, shuffle: true) == again.order(epoch: 3, shuffle: true))
    #expect(loader.order(epoch: 3, shuffle: true) != loader.order(epoch: 4, shuffle: true))
    #expect(loader.batches(of: Array(0..<10)).map(\.count) == [4, 4, 2])
}
