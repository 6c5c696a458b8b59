import ASIBConfig
import Foundation
import Testing
@testable import ASIBTrainer

// Short runs with batch mixing on the Fashion-MNIST files of the Debian package
// dataset-fashion-mnist, and the checks of the mixing and view keys.

private func temporaryFolder() -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent("asib-mixing-\(UUID().uuidString)")
}

private func smallOptions(epochs: Int = 2) -> TrainingOptions {
    var options = TrainingOptions()
    options.seed = 13
    options.studentModel = "resnet8"
    options.batchSize = 32
    options.trainLimit = 512
    options.testLimit = 256
    options.epochs = epochs
    options.learningRate = 0.05
    return options
}

private func run(_ options: TrainingOptions) throws -> (RunOutcome, [EpochReport]) {
    var reports: [EpochReport] = []
    let outcome = try RunTrainer(options: options, runDirectory: temporaryFolder())
        .train { reports.append($0) }
    return (outcome, reports)
}

/// A resnet8 teacher trained for two epochs, shared by the tests of this file.
private let teacherCheckpoint: Result<String, Error> = Result {
    try run(smallOptions()).0.checkpoint.path
}

private func withMixing(_ options: TrainingOptions, _ mode: MixMode) -> TrainingOptions {
    var options = options
    switch mode {
    case .none: break
    case .mixup: options.studentStep.mixupAlpha = 0.2
    case .cutmix: options.studentStep.cutmixAlpha = 1
    }
    return options
}

@Test(arguments: [MixMode.mixup, .cutmix])
func mixedCERunLearns(_ mode: MixMode) throws {
    let (outcome, reports) = try run(withMixing(smallOptions(), mode))
    // Ten classes: chance is 10 %.
    #expect(outcome.finalAccuracy > 25)
    for report in reports {
        #expect(try #require(report.metrics["loss"]).isFinite)
        // A mixed image has two labels, so no training accuracy is reported.
        #expect(report.metrics["train_acc"] == nil)
        let lambda = try #require(report.metrics["mix_lambda_mean"])
        #expect(lambda > 0)
        #expect(lambda < 1)
    }
}

@Test func mixedRunRepeatsPerSeed() throws {
    var options = withMixing(smallOptions(epochs: 1), .cutmix)
    options.trainLimit = 128
    options.testLimit = 64
    let (_, first) = try run(options)
    let (_, second) = try run(options)
    #expect(first[0].metrics["loss"] == second[0].metrics["loss"])
    #expect(first[0].metrics["mix_lambda_mean"] == second[0].metrics["mix_lambda_mean"])
    options.seed += 1
    let (_, other) = try run(options)
    #expect(first[0].metrics["mix_lambda_mean"] != other[0].metrics["mix_lambda_mean"])
}

private func distillationOptions(
    _ method: DistillationMethod, target: KDTarget, mode: MixMode
) throws -> TrainingOptions {
    var options = withMixing(smallOptions(), mode)
    options.method = method.rawValue
    options.distillation.method = method
    options.ceAlpha = 0.5
    options.kdAlpha = 0.5
    options.kdTarget = target
    let checkpoint = try teacherCheckpoint.get()
    options.teachers = ["teacher1", "teacher2"].map {
        TeacherSource(
            model: "resnet8", checkpoint: checkpoint, modelKey: "\($0).name",
            checkpointKey: "\($0)_ckpt"
        )
    }
    options.studentStep.twoView = true
    options.studentStep.twoViewStartEpoch = 2
    options.studentStep.gradientClipNorm = 1
    return options
}

/// Each distillation method trains with CutMix: one plain epoch, then one with the two-view
/// target, with clipping on.
@Test(arguments: [
    (DistillationMethod.kd, KDTarget.weightedConf), (.kd, .avg), (.dkd, .teacher),
    (.fitnet, .teacher), (.attentionTransfer, .avg),
])
func distillationWithMixingLearns(_ method: DistillationMethod, _ target: KDTarget) throws {
    var options = try distillationOptions(method, target: target, mode: .cutmix)
    // With the default hint weight 50 the hint term dominates the first epochs on this
    // small split, and the student stays near chance even without mixing.
    options.distillation.hintBeta = 1
    let (outcome, reports) = try run(options)
    #expect(outcome.finalAccuracy > 25)
    for report in reports {
        let metrics = report.metrics
        #expect(try #require(metrics["loss"]).isFinite)
        #expect(try #require(metrics["kd"]) > 0)
        let clipRatio = try #require(metrics["grad_clip_ratio"])
        #expect((0...1).contains(clipRatio))
        #expect(metrics["train_acc"] == nil)
    }
}

@Test func twoViewChangesKDTerm() throws {
    var plain = try distillationOptions(.kd, target: .avg, mode: .cutmix)
    plain.epochs = 1
    plain.studentStep.twoViewStartEpoch = 2
    var twoView = plain
    twoView.studentStep.twoViewStartEpoch = 1
    let (_, plainReports) = try run(plain)
    let (_, twoViewReports) = try run(twoView)
    // The same seed mixes the same batches, so only the KD target differs.
    #expect(plainReports[0].metrics["mix_lambda_mean"] == twoViewReports[0].metrics["mix_lambda_mean"])
    #expect(plainReports[0].metrics["ce"] != nil)
    #expect(plainReports[0].metrics["kd"] != twoViewReports[0].metrics["kd"])
}

@Test func mixedKDViewChangesKDTerm() throws {
    var clean = try distillationOptions(.kd, target: .avg, mode: .mixup)
    clean.epochs = 1
    clean.studentStep.twoView = false
    var mixed = clean
    mixed.studentStep.kdTargetView = .mixed
    let (_, cleanReports) = try run(clean)
    let (_, mixedReports) = try run(mixed)
    #expect(cleanReports[0].metrics["mix_lambda_mean"] == mixedReports[0].metrics["mix_lambda_mean"])
    #expect(cleanReports[0].metrics["kd"] != mixedReports[0].metrics["kd"])
}

@Test func tinyClipNormClipsEveryStep() throws {
    var options = smallOptions(epochs: 1)
    options.trainLimit = 128
    options.testLimit = 64
    options.studentStep.gradientClipNorm = 1e-4
    let (_, reports) = try run(options)
    #expect(reports[0].metrics["grad_clip_ratio"] == 1)
    options.studentStep.gradientClipNorm = 0
    let (_, unclipped) = try run(options)
    #expect(unclipped[0].metrics["grad_clip_ratio"] == nil)
    #expect(reports[0].metrics["loss"] != unclipped[0].metrics["loss"])
}

// MARK: - Config keys

private let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

@Test func shippedConfigsSetStudentStepKeys() throws {
    let composer = ConfigComposer(configRoot: repositoryRoot.appendingPathComponent("configs"))
    func composed(_ overrides: [String]) throws -> StudentStepOptions {
        let teacher = ["model/teacher@teacher1=resnet8", "+teacher1_ckpt=/tmp/t.bin"]
        let config = try composer.compose(
            primary: "base", overrides: overrides + teacher, source: "test"
        )
        return try TrainingOptions(config: config.value).studentStep
    }
    let stage = try composed(["method=asib_stage"])
    #expect(stage.mixMode == .cutmix)
    #expect(stage.twoView)
    #expect(stage.twoViewStartEpoch == 30)
    #expect(stage.twoViewStopEpoch == 120)
    #expect(stage.teacher2DecayStartEpoch == 120)
    #expect(stage.teacher2DecayLength == 80)
    let l4 = try composed(["method=asib_ablation_stage", "rung=L4"])
    #expect(l4.mixMode == .cutmix)
    #expect(l4.cutmixAlpha == 1)
    #expect(l4.mixupAlpha == 0.2)
    #expect(l4.twoViewStartEpoch == 20)
    #expect(l4.twoViewStopEpoch == 80)
    let baseline = try composed(["method=vanilla_kd"])
    #expect(baseline.mixMode == .none)
    #expect(baseline.gradientClipNorm == 0)
    let gated = try composed(["method=vanilla_kd", "+tau_gate=1.5", "grad_clip_norm=0.5"])
    #expect(gated.gateTemperature == 1.5)
    #expect(gated.gradientClipNorm == 0.5)
}

private func options(_ extra: [String: ConfigValue]) throws -> TrainingOptions {
    var values: [String: ConfigValue] = [
        "model": .map(["student": .map(["name": .string("resnet8")])]),
        "student_epochs": .int(1),
    ]
    values.merge(extra) { _, new in new }
    return try TrainingOptions(config: .map(values))
}

@Test func mixingKeysAreRead() throws {
    let read = try options([
        "mixup_alpha": .double(0.2), "cutmix_alpha_distill": .double(1.0),
        "kd_target_mode": .string("two_view"), "kd_two_view_start_epoch": .int(20),
        "kd_two_view_stop_epoch": .int(80), "kd_target_view": .string("mixed"),
        "synergy_view": .string("clean"), "tau_gate": .double(1.5),
        "teacher2_weight_decay_start_epoch": .int(120), "teacher2_weight_decay_len": .int(80),
        "grad_clip_norm": .double(0.5),
    ])
    let step = read.studentStep
    #expect(step.mixMode == .cutmix)
    #expect(step.mixupAlpha == 0.2)
    #expect(step.kdTargetView == .mixed)
    #expect(step.synergyView == .clean)
    #expect(step.gateTemperature == 1.5)
    #expect(step.teacher2DecayStartEpoch == 120)
    #expect(step.teacher2DecayLength == 80)
    #expect(step.gradientClipNorm == 0.5)
    #expect(!step.twoViewActive(epoch: 19))
    #expect(step.twoViewActive(epoch: 20))
    #expect(step.twoViewActive(epoch: 79))
    #expect(!step.twoViewActive(epoch: 80))

    let defaults = try options([:]).studentStep
    #expect(defaults == StudentStepOptions())
    #expect(defaults.mixMode == .none)
    let mixupOnly = try options(["mixup_alpha": .double(0.2)]).studentStep
    #expect(mixupOnly.mixMode == .mixup)
    // Without mixing the two-view target has nothing to mix.
    let unmixed = try options(["kd_target_mode": .string("two_view")]).studentStep
    #expect(!unmixed.twoViewActive(epoch: 1))
}

@Test func emptyTwoViewWindowIsRejected() {
    let window: [String: ConfigValue] = [
        "kd_target_mode": .string("two_view"), "kd_two_view_start_epoch": .int(5),
        "kd_two_view_stop_epoch": .int(2),
    ]
    #expect(throws: TrainerError.invalidOption(
        key: "kd_two_view_start_epoch", value: "5",
        allowed: "an epoch before kd_two_view_stop_epoch (2), or the two-view target never runs"
    )) {
        _ = try options(window)
    }
}

@Test(arguments: [
    ("mixup_alpha", ConfigValue.double(-0.1), "-0.1", "a finite number >= 0 (0 = off)"),
    ("mixup_alpha", .double(.infinity), "inf", "a finite number >= 0 (0 = off)"),
    ("cutmix_alpha_distill", .double(-1), "-1.0", "a finite number >= 0 (0 = off)"),
    ("tau_gate", .double(0), "0.0", "a number > 0"),
    ("grad_clip_norm", .double(-0.5), "-0.5", "a number >= 0 (0 = off)"),
    ("teacher2_weight_decay_len", .int(-3), "-3", "an integer >= 0 (0 = no decay)"),
    (
        "kd_target_view", .string("noisy"), "noisy",
        "clean (the batch before mixing) or mixed (the student's mixed batch)"
    ),
    (
        "synergy_view", .string("both"), "both",
        "clean (the batch before mixing) or mixed (the student's mixed batch)"
    ),
    (
        "kd_target_mode", .string("three_view"), "three_view",
        "clean (KD target from one view) or two_view (mixed-probability target)"
    ),
])
func invalidMixingKeyIsRejected(
    _ key: String, _ value: ConfigValue, _ shown: String, _ allowed: String
) {
    #expect(throws: TrainerError.invalidOption(key: key, value: shown, allowed: allowed)) {
        _ = try options([key: value])
    }
}

@Test func inertSettingsAreNamed() throws {
    let quiet = try options(["mixup_alpha": .double(0.2)])
    #expect(quiet.inertSettings.isEmpty)
    let decay = try options(["teacher2_weight_decay_start_epoch": .int(3)])
    #expect(decay.inertSettings.count == 1)
    #expect(decay.inertSettings.first?.contains("teacher2_weight_decay_len") == true)
    let stages = try options([
        "num_stages": .int(1), "student_epochs_per_stage": .list([.int(1), .int(2)]),
    ])
    #expect(stages.inertSettings.first?.contains("2 entries for num_stages 1") == true)
}

