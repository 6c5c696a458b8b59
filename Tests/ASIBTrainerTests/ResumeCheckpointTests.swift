import Foundation
import Testing
@testable import ASIBTrainer

// Short runs on the real Fashion-MNIST files from the Debian package dataset-fashion-mnist.

private struct StopAfterEpoch: Error {}

private func resumeOptions() -> TrainingOptions {
    var options = TrainingOptions()
    options.seed = 9
    options.studentModel = "resnet8"
    options.batchSize = 32
    options.trainLimit = 128
    options.testLimit = 64
    options.epochs = 2
    options.learningRate = 0.05
    options.warmupEpochs = 1
    options.dataAugmentation = true
    return options
}

private func folder() -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent("asib-resume-\(UUID().uuidString)")
}

@Suite("resume checkpoint")
struct ResumeCheckpointTests {
    @Test("resumed run matches uninterrupted run")
    func resumedRunMatches() throws {
        let straight = try RunTrainer(options: resumeOptions(), folder: folder(), key: "config-a")
        var straightReports: [EpochReport] = []
        let straightOutcome = try straight.train { straightReports.append($0) }

        let interruptedFolder = folder()
        let first = try RunTrainer(options: resumeOptions(), folder: interruptedFolder, key: "config-a")
        #expect(throws: StopAfterEpoch.self) {
            _ = try first.train { _ in throw StopAfterEpoch() }
        }
        // The report of epoch 1 failed, so no resume state was saved for it.
        #expect(!FileManager.default.fileExists(atPath: first.resumeURL.path))

        let second = try RunTrainer(options: resumeOptions(), folder: interruptedFolder, key: "config-a")
        var seen: [EpochReport] = []
        #expect(throws: StopAfterEpoch.self) {
            _ = try second.train { report in
                seen.append(report)
                if report.epoch == 2 { throw StopAfterEpoch() }
            }
        }
        #expect(seen.map(\.epoch) == [1, 2])

        let third = try RunTrainer(options: resumeOptions(), folder: interruptedFolder, key: "config-a")
        var resumedReports: [EpochReport] = []
        let resumedOutcome = try third.train { resumedReports.append($0) }

        // Epoch 2 was reported but its resume state was not saved, so it runs again.
        #expect(resumedReports.map(\.epoch) == [2])
        let expected = try #require(straightReports.last)
        let resumed = try #require(resumedReports.first)
        // Same seed, data order, augmentation draws, momentum and learning-rate step:
        // the resumed epoch repeats the uninterrupted one bit for bit.
        for name in ["loss", "ce", "train_acc", "lr", "acc", "best_acc"] {
            #expect(resumed.metrics[name] == expected.metrics[name], "metric \(name)")
        }
        #expect(resumedOutcome.finalAccuracy == straightOutcome.finalAccuracy)
        let straightModel = try Checkpoint.load(path: straightOutcome.checkpoint.path)
        let resumedModel = try Checkpoint.load(path: resumedOutcome.checkpoint.path)
        #expect(straightModel == resumedModel)
    }

    @Test("resume file of other config is ignored")
    func otherKeyIgnored() throws {
        let shared = folder()
        var options = resumeOptions()
        options.epochs = 1
        _ = try RunTrainer(options: options, folder: shared, key: "config-a").train { _ in }
        #expect(FileManager.default.fileExists(atPath: shared.appendingPathComponent("resume.bin").path))

        var epochs: [Int] = []
        _ = try RunTrainer(options: options, folder: shared, key: "config-b").train { epochs.append($0.epoch) }
        #expect(epochs == [1])

        var again: [Int] = []
        _ = try RunTrainer(options: options, folder: shared, key: "config-b").train { again.append($0.epoch) }
        // config-b finished its only epoch above, so nothing is left to train.
        #expect(again.isEmpty)
    }

    @Test("corrupted resume file is rejected")
    func corruptedFileRejected() throws {
        let shared = folder()
        var options = resumeOptions()
        options.epochs = 1
        let trainer = try RunTrainer(options: options, folder: shared, key: "k")
        _ = try trainer.train { _ in }
        var bytes = try Data(contentsOf: trainer.resumeURL)
        bytes[bytes.count / 2] ^= 0xFF
        try bytes.write(to: trainer.resumeURL)
        #expect {
            _ = try ResumeCheckpoint.load(path: trainer.resumeURL.path)
        } throws: { error in
            "\(error)".contains("CRC-32")
        }
        // The trainer ignores the damaged file and trains from epoch 1.
        var epochs: [Int] = []
        _ = try RunTrainer(options: options, folder: shared, key: "k").train { epochs.append($0.epoch) }
        #expect(epochs == [1])
    }
}

extension RunTrainer {
    fileprivate convenience init(options: TrainingOptions, folder: URL, key: String) throws {
        try self.init(options: options, runDirectory: folder)
        resumeKey = key
    }
}
