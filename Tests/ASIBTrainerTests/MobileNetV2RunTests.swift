import ASIBConfig
import Foundation
import Testing
@testable import ASIBTrainer

// Short mobilenetv2_x0_5 runs on the Fashion-MNIST files of the Debian package
// dataset-fashion-mnist: as a student with CE, FitNet and resume, and as a teacher for
// attention transfer and ASIB. The splits are small because asib-bench measures the network
// at about a fifth of resnet8's training throughput.

private let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

private func temporaryFolder() -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent("asib-mobilenet-\(UUID().uuidString)")
}

private func smallOptions(model: String = "mobilenetv2_x0_5") -> TrainingOptions {
    var options = TrainingOptions()
    options.seed = 13
    options.studentModel = model
    options.batchSize = 32
    options.trainLimit = 128
    options.testLimit = 64
    options.epochs = 1
    options.learningRate = 0.05
    options.warmupEpochs = 0
    return options
}

private func train(_ options: TrainingOptions, in folder: URL = temporaryFolder()) throws
    -> (RunOutcome, [EpochReport])
{
    var reports: [EpochReport] = []
    let outcome = try RunTrainer(options: options, runDirectory: folder).train { reports.append($0) }
    return (outcome, reports)
}

/// Checkpoints of a mobilenetv2_x0_5 and a resnet8 trained for one epoch, shared by the tests
/// of this file.
private let mobileNetCheckpoint: Result<String, Error> = Result {
    try train(smallOptions()).0.checkpoint.path
}
private let resNetCheckpoint: Result<String, Error> = Result {
    try train(smallOptions(model: "resnet8")).0.checkpoint.path
}

private func distillationOptions(
    _ method: DistillationMethod, student: String, teacher: String, checkpoint: String
) -> TrainingOptions {
    var options = smallOptions(model: student)
    options.method = method.rawValue
    options.distillation.method = method
    options.ceAlpha = 0.5
    options.kdAlpha = 0.5
    options.teachers = [TeacherSource(
        model: teacher, checkpoint: checkpoint, modelKey: "teacher1.name",
        checkpointKey: "teacher1_ckpt"
    )]
    return options
}

@Test func mobileNetV2StudentLossDecreases() throws {
    var options = smallOptions()
    options.trainLimit = 256
    options.epochs = 3
    let (outcome, reports) = try train(options)
    #expect(reports.map(\.epoch) == [1, 2, 3])
    let losses = try reports.map { try #require($0.metrics["loss"]) }
    #expect(losses.allSatisfy { $0.isFinite })
    // Three epochs of 8 steps on the same 256 images must bring the epoch mean down.
    #expect(losses[2] < losses[0], "epoch losses \(losses)")
    let checkpoint = try Checkpoint.load(path: outcome.checkpoint.path)
    #expect(checkpoint.architecture == "mobilenetv2_x0_5")
}

@Test func mobileNetV2StudentLearnsFromResNetHint() throws {
    var options = distillationOptions(
        .fitnet, student: "mobilenetv2_x0_5", teacher: "resnet8",
        checkpoint: try resNetCheckpoint.get()
    )
    options.distillation.hintLayer = .stage(2)
    let (_, reports) = try train(options)
    let hint = try #require(reports.first?.metrics["hint"])
    #expect(hint > 0)
    #expect(hint.isFinite)
}

@Test func mobileNetV2TeacherDrivesAttentionTransfer() throws {
    let options = distillationOptions(
        .attentionTransfer, student: "resnet8", teacher: "mobilenetv2_x0_5",
        checkpoint: try mobileNetCheckpoint.get()
    )
    let (_, reports) = try train(options)
    let metrics = try #require(reports.first?.metrics)
    let at = try #require(metrics["at"])
    #expect(at > 0)
    #expect(at.isFinite)
    #expect(try #require(metrics["kd"]) > 0)
}

@Test func mobileNetV2TeacherRunsASIB() throws {
    let composer = ConfigComposer(configRoot: repositoryRoot.appendingPathComponent("configs"))
    let checkpoint = try mobileNetCheckpoint.get()
    let overrides = [
        "dataset.train_limit=128", "dataset.test_limit=64", "dataset.batch_size=32",
        "student_epochs=1", "method=asib", "model/student=mobilenetv2_x0_5",
        "model/teacher@teacher1=mobilenetv2_x0_5", "model/teacher@teacher2=resnet8",
        "+teacher1_ckpt=\(checkpoint)", "+teacher2_ckpt=\(try resNetCheckpoint.get())",
        "++teacher_adapt_epochs=1", "++synergy_only_epochs=1", "++teacher_eval_every=1",
        "++kd_cooldown_epochs=0", "++ib_mbm_out_dim=32", "++ib_mbm_n_head=4",
        // Teachers of widths 1280 and 64 need one adapter output width for their tokens.
        "++distill_out_dim=32",
    ]
    let composed = try composer.compose(primary: "base", overrides: overrides, source: "test")
    let options = try TrainingOptions(config: composed.value)
    #expect(options.studentModel == "mobilenetv2_x0_5")
    let (_, reports) = try train(options)
    #expect(reports.map(\.phase) == ["teacher", "student"])
    for report in reports {
        let loss = try #require(report.metrics["loss"])
        #expect(loss.isFinite, "\(report.phase) loss")
    }
}

@Test func mobileNetV2ResumedRunMatchesUninterruptedRun() throws {
    struct StopAfterEpoch: Error {}
    var options = smallOptions()
    options.trainLimit = 64
    options.epochs = 2
    func trainer(_ folder: URL) throws -> RunTrainer {
        let trainer = try RunTrainer(options: options, runDirectory: folder)
        trainer.resumeKey = "mobilenet-config"
        return trainer
    }
    var straight: [EpochReport] = []
    let straightOutcome = try trainer(temporaryFolder()).train { straight.append($0) }

    let folder = temporaryFolder()
    #expect(throws: StopAfterEpoch.self) {
        _ = try trainer(folder).train { report in
            if report.epoch == 2 { throw StopAfterEpoch() }
        }
    }
    var resumed: [EpochReport] = []
    let resumedOutcome = try trainer(folder).train { resumed.append($0) }
    #expect(resumed.map(\.epoch) == [2])
    for name in ["loss", "acc"] {
        #expect(resumed.first?.metrics[name] == straight.last?.metrics[name], "metric \(name)")
    }
    let straightModel = try Checkpoint.load(path: straightOutcome.checkpoint.path)
    let resumedModel = try Checkpoint.load(path: resumedOutcome.checkpoint.path)
    #expect(straightModel == resumedModel)
}
