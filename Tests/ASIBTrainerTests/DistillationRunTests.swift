import ASIBConfig
import Foundation
import Testing
@testable import ASIBTrainer

// Short distillation runs on the Fashion-MNIST files of the Debian package
// dataset-fashion-mnist, from one teacher trained for one epoch, and the method configs in
// configs/method composed as a sweep composes them.

private let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

private func temporaryFolder() -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent("asib-distill-\(UUID().uuidString)")
}

private func baseOptions() -> TrainingOptions {
    var options = TrainingOptions()
    options.seed = 11
    options.studentModel = "resnet8"
    options.batchSize = 32
    options.trainLimit = 128
    options.testLimit = 64
    options.epochs = 1
    options.learningRate = 0.05
    return options
}

/// A resnet8 teacher trained for one epoch, shared by the tests of this file.
private let teacherCheckpoint: Result<URL, Error> = Result {
    try RunTrainer(options: baseOptions(), runDirectory: temporaryFolder()).train { _ in }.checkpoint
}

private func distillationOptions(_ method: DistillationMethod) throws -> TrainingOptions {
    var options = baseOptions()
    options.method = method.rawValue
    options.distillation.method = method
    options.ceAlpha = 0.5
    options.kdAlpha = 0.5
    options.teachers = [TeacherSource(
        model: "resnet8", checkpoint: try teacherCheckpoint.get().path, modelKey: "teacher1.name",
        checkpointKey: "teacher1_ckpt"
    )]
    return options
}

private func firstEpoch(_ options: TrainingOptions) throws -> [String: Double] {
    var reports: [EpochReport] = []
    _ = try RunTrainer(options: options, runDirectory: temporaryFolder()).train { reports.append($0) }
    return try #require(reports.first).metrics
}

@Test func dkdRunDiffersFromKDRun() throws {
    let kd = try firstEpoch(try distillationOptions(.kd))
    let dkd = try firstEpoch(try distillationOptions(.dkd))
    let tckd = try #require(dkd["tckd"])
    let nckd = try #require(dkd["nckd"])
    #expect(tckd > 0)
    #expect(nckd > 0)
    // The reported DKD term is the epoch mean of alpha * TCKD + beta * NCKD (1 and 2).
    #expect(abs(try #require(dkd["kd"]) - (tckd + 2 * nckd)) < 1e-6)
    #expect(kd["tckd"] == nil)
    #expect(kd["loss"] != dkd["loss"])
}

@Test(arguments: [DistillationMethod.fitnet, .attentionTransfer])
func featureMethodRunReportsItsTerm(_ method: DistillationMethod) throws {
    let metrics = try firstEpoch(try distillationOptions(method))
    let name = method == .fitnet ? "hint" : "at"
    let term = try #require(metrics[name])
    #expect(term > 0)
    #expect(term.isFinite)
    // loss = 0.5 CE + 0.5 KD + beta * term, as epoch means over the same samples.
    let beta = method == .fitnet ? 50.0 : 1000.0
    let ce = try #require(metrics["ce"])
    let kd = try #require(metrics["kd"])
    #expect(abs(try #require(metrics["loss"]) - (0.5 * ce + 0.5 * kd + beta * term)) < 1e-3)
}

private struct StopAfterEpoch: Error {}

@Test func fitnetResumeMatchesUninterruptedRun() throws {
    var options = try distillationOptions(.fitnet)
    options.epochs = 2
    func trainer(_ folder: URL) throws -> RunTrainer {
        let trainer = try RunTrainer(options: options, runDirectory: folder)
        trainer.resumeKey = "fitnet"
        return trainer
    }
    var straight: [EpochReport] = []
    let straightOutcome = try trainer(temporaryFolder()).train { straight.append($0) }

    // Stop when epoch 2 reports, so resume.bin contains the state after epoch 1.
    let folder = temporaryFolder()
    #expect(throws: StopAfterEpoch.self) {
        _ = try trainer(folder).train { report in
            if report.epoch == 2 { throw StopAfterEpoch() }
        }
    }
    let saved = try ResumeCheckpoint.load(
        path: folder.appendingPathComponent(ResumeCheckpoint.fileName).path
    )
    let names = saved.buffers.map(\.name)
    #expect(names.contains("fitnet.regressor"))
    #expect(names.contains("fitnet.regressor.sgd"))

    var resumed: [EpochReport] = []
    let resumedOutcome = try trainer(folder).train { resumed.append($0) }
    #expect(resumed.map(\.epoch) == [2])
    // The hint depends on the trained regressor, so it repeats only if the regressor and its
    // momentum were restored.
    let expected = try #require(straight.last).metrics
    let got = try #require(resumed.first).metrics
    for name in ["loss", "ce", "kd", "hint", "acc"] {
        #expect(got[name] == expected[name], "metric \(name)")
    }
    let straightModel = try Checkpoint.load(path: straightOutcome.checkpoint.path)
    let resumedModel = try Checkpoint.load(path: resumedOutcome.checkpoint.path)
    #expect(straightModel == resumedModel)
}

/// Composes `configs/base.yaml` with a method and a teacher, as a student run of a sweep.
private func composedOptions(_ method: String, _ extra: [String] = []) throws -> TrainingOptions {
    let composer = ConfigComposer(configRoot: repositoryRoot.appendingPathComponent("configs"))
    let overrides = ["method=\(method)", "model/teacher@teacher1=resnet8", "+teacher1_ckpt=/tmp/t.bin"]
    let composed = try composer.compose(primary: "base", overrides: overrides + extra, source: "test")
    return try TrainingOptions(config: composed.value)
}

@Test func methodConfigsSelectTheirLoss() throws {
    let dkd = try composedOptions("dkd")
    #expect(dkd.distillation.method == .dkd)
    #expect(dkd.distillation.dkdAlpha == 1)
    #expect(dkd.distillation.dkdBeta == 2)
    #expect(dkd.kdTarget == .teacher)
    let fitnet = try composedOptions("fitnet")
    #expect(fitnet.distillation.method == .fitnet)
    #expect(fitnet.distillation.hintLayer == .stage(2))
    let attention = try composedOptions("at")
    #expect(attention.distillation.method == .attentionTransfer)
    #expect(attention.distillation.attentionBeta == 1000)
    #expect(try composedOptions("vanilla_kd").distillation.method == .kd)
    let stage = try composedOptions("asib_stage")
    #expect(stage.optimizer == .adamw)
    #expect(stage.asib.enabled)
    #expect(stage.kdTarget == .auto)
    #expect(try composedOptions("dkd").optimizer == .sgd)
}

@Test func unknownHintLayerIsRejected() throws {
    #expect(throws: TrainerError.invalidOption(
        key: "hint_layer", value: "layer9",
        allowed: "feat_2d (pooled feature), stage1, stage2 or stage3"
    )) {
        _ = try composedOptions("fitnet", ["hint_layer=layer9"])
    }
}
