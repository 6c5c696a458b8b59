import ASIBConfig
import Foundation
import Testing
@testable import ASIBTrainer

// Short runs on the real Fashion-MNIST files from the Debian package dataset-fashion-mnist.

private func runFolder() -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent("asib-run-\(UUID().uuidString)")
}

private func smallOptions(train: Int = 512, test: Int = 256, epochs: Int = 2) -> TrainingOptions {
    var options = TrainingOptions()
    options.seed = 5
    options.studentModel = "resnet8"
    options.batchSize = 32
    options.trainLimit = train
    options.testLimit = test
    options.epochs = epochs
    options.learningRate = 0.05
    options.warmupEpochs = 0
    return options
}

/// Runs the trainer and returns the reports.
private func train(_ options: TrainingOptions, in folder: URL) throws -> (RunOutcome, [EpochReport]) {
    var reports: [EpochReport] = []
    let outcome = try RunTrainer(options: options, runDirectory: folder).train { reports.append($0) }
    return (outcome, reports)
}

@Test func resnet8LearnsFashionMNIST() throws {
    let folder = runFolder()
    let (outcome, reports) = try train(smallOptions(), in: folder)
    // Ten classes: chance is 10 %.
    #expect(outcome.finalAccuracy > 40)
    #expect(reports.map(\.epoch) == [1, 2])
    #expect(reports.last?.metrics["best_acc"] == outcome.bestAccuracy)
    #expect(FileManager.default.fileExists(atPath: outcome.checkpoint.path))
    for key in ["acc", "best_acc", "train_acc", "loss", "ce", "kd", "lr", "tau", "epoch_sec"] {
        #expect(reports[0].metrics[key] != nil, "metric \(key)")
    }
}

@Test func sameSeedGivesIdenticalLosses() throws {
    var options = smallOptions(train: 192, test: 64, epochs: 1)
    options.dataAugmentation = true
    let (_, first) = try train(options, in: runFolder())
    let (_, second) = try train(options, in: runFolder())
    #expect(first[0].metrics["loss"] == second[0].metrics["loss"])
    #expect(first[0].metrics["acc"] == second[0].metrics["acc"])
}

@Test func distillationFromSavedTeachersRuns() throws {
    let teacherFolder = runFolder()
    let (teacher, _) = try train(smallOptions(train: 128, test: 64, epochs: 1), in: teacherFolder)
    var options = smallOptions(train: 128, test: 64, epochs: 1)
    options.kdAlpha = 0.5
    options.ceAlpha = 0.5
    options.kdTarget = .avg
    options.teacherWeights = [0.7, 0.3]
    options.teachers = ["teacher1", "teacher2"].map {
        TeacherSource(
            model: "resnet8", checkpoint: teacher.checkpoint.path, modelKey: "\($0).name",
            checkpointKey: "\($0)_ckpt"
        )
    }
    let (_, reports) = try train(options, in: runFolder())
    let kd = try #require(reports[0].metrics["kd"])
    #expect(kd > 0)
    #expect(kd.isFinite)
}

@Test func missingTeacherCheckpointIsNamed() throws {
    var options = smallOptions(train: 64, test: 64, epochs: 1)
    options.kdAlpha = 0.5
    options.teachers = [TeacherSource(
        model: "resnet8", checkpoint: "/nonexistent/teacher.bin", modelKey: "teacher1.name",
        checkpointKey: "teacher1_ckpt"
    )]
    #expect(throws: TrainerError.checkpointMissing(
        path: "/nonexistent/teacher.bin", key: "teacher1_ckpt"
    )) {
        _ = try train(options, in: runFolder())
    }
}

@Test func divergingRunReportsNonFiniteLoss() throws {
    var options = smallOptions(train: 256, test: 64, epochs: 1)
    options.learningRate = 1e30
    do {
        _ = try train(options, in: runFolder())
        Issue.record("a learning rate of 1e30 trained without a non-finite loss")
    } catch let error as TrainerError {
        #expect(error.description.contains("non-finite loss"))
        #expect(error.exitCode == 1)
    }
}

@Test func optionsReadFromConfig() throws {
    let config = ConfigValue.map([
        "seed": .int(3),
        "dataset": .map(["name": .string("fashion_mnist"), "batch_size": .int(32)]),
        "model": .map(["student": .map(["name": .string("resnet20")])]),
        "student_epochs": .int(4),
        "student_lr": .double(0.05),
        "schedule": .map(["type": .string("cosine"), "lr_warmup_epochs": .int(1)]),
        "kd_alpha": .double(0.3),
        "kd_target": .string("avg"),
        "teacher1": .map(["name": .string("resnet8x4")]),
        "teacher1_ckpt": .string("/tmp/t1.bin"),
    ])
    let options = try TrainingOptions(config: config)
    #expect(options.studentModel == "resnet20")
    #expect(options.batchSize == 32)
    #expect(options.epochs == 4)
    #expect(options.warmupEpochs == 1)
    #expect(options.kdTarget == .avg)
    #expect(options.teachers.map(\.model) == ["resnet8x4"])
}

@Test func unknownKDTargetIsRejected() {
    let config = ConfigValue.map([
        "model": .map(["student": .map(["name": .string("resnet8")])]),
        "student_epochs": .int(1),
        "kd_alpha": .double(0.3),
        "kd_target": .string("weighted"),
    ])
    #expect(throws: TrainerError.invalidOption(
        key: "kd_target", value: "weighted",
        allowed: "teacher, avg, weighted_conf, synergy, auto, auto_min"
    )) {
        _ = try TrainingOptions(config: config)
    }
}
