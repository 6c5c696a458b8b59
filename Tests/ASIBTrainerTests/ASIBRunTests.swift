import ASIBConfig
import Foundation
import Testing
@testable import ASIBTrainer

// Short ASIB runs (A-Step, then the synergy B-Step) on the Fashion-MNIST files of the Debian
// package dataset-fashion-mnist, composed from configs/ as a sweep composes them, with two
// resnet8 teachers trained for one epoch.

private let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

private func temporaryFolder() -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent("asib-run-\(UUID().uuidString)")
}

private let smallData = [
    "dataset.train_limit=256", "dataset.test_limit=128", "dataset.batch_size=64",
]

/// A resnet8 teacher trained for one epoch on the small split.
private let teacherCheckpoint: Result<String, Error> = Result {
    let options = try composedOptions(["method=teacher", "seed=3"], teachers: false)
    return try RunTrainer(options: options, runDirectory: temporaryFolder()).train { _ in }.checkpoint.path
}

private func composedOptions(_ overrides: [String], teachers: Bool = true) throws -> TrainingOptions {
    let composer = ConfigComposer(configRoot: repositoryRoot.appendingPathComponent("configs"))
    var all = smallData + ["student_epochs=2"] + overrides
    if teachers {
        let checkpoint = try teacherCheckpoint.get()
        all += [
            "model/teacher@teacher1=resnet8", "model/teacher@teacher2=resnet8",
            "+teacher1_ckpt=\(checkpoint)", "+teacher2_ckpt=\(checkpoint)",
        ]
    }
    let composed = try composer.compose(primary: "base", overrides: all, source: "test")
    return try TrainingOptions(config: composed.value)
}

private func run(_ options: TrainingOptions) throws -> [EpochReport] {
    var reports: [EpochReport] = []
    _ = try RunTrainer(options: options, runDirectory: temporaryFolder()).train { reports.append($0) }
    return reports
}

/// Shortens the A-Step to two epochs, the first synergy-only and evaluated, so the gate opens
/// for the second. Without the cool-down the KD weight stays above 0 in the last epoch.
private let shortAStep = [
    "++teacher_adapt_epochs=2", "++synergy_only_epochs=1", "++teacher_eval_every=1",
    "++kd_cooldown_epochs=0",
    "++enable_kd_after_syn_acc=0.01", "++a_step_lr=0.001", "++ib_mbm_out_dim=32",
    "++ib_mbm_n_head=4",
]

@Test func asibStreamsTeacherThenStudentEpochs() throws {
    // The teachers' pooled features are the tokens here. The `asib` method file's untrained
    // random adapters (width 16) leave the synergy head near chance after one short epoch.
    // Both teachers load the same checkpoint and always agree, so the IB_MBM skip rule is
    // turned off to run IB_MBM on every batch.
    let overrides = [
        "method=asib", "++use_distillation_adapter=false", "++skip_syn_disagree_thr=0",
    ]
    let reports = try run(try composedOptions(overrides + shortAStep))
    #expect(reports.map(\.phase) == ["teacher", "teacher", "student", "student"])
    #expect(reports.map(\.epoch) == [1, 2, 1, 2])
    let first = reports[0].metrics
    #expect(first["synergy_only"] == 1)
    #expect(first["kd_open"] == 0)
    for key in ["syn_acc", "loss", "ce", "ib_kld", "ib_beta", "tau", "cw_mean"] {
        #expect(first[key] != nil, "teacher metric \(key)")
    }
    // Evaluated after epoch 1, so epoch 2 trains with the gate open and the KL term on.
    #expect(try #require(first["syn_acc"]) > 10)
    #expect(first["syn_acc_raw"] == nil)
    // Both epochs evaluate: syn_acc is that epoch's accuracy, and the EMA starts at the first
    // accuracy and then moves by synergy_ema_alpha 0.8.
    let second = reports[1].metrics
    let firstAccuracy = try #require(first["synergy_acc"])
    let secondAccuracy = try #require(second["synergy_acc"])
    #expect(first["syn_acc"] == firstAccuracy)
    #expect(second["syn_acc"] == secondAccuracy)
    #expect(abs(try #require(first["synergy_acc_ema"]) - firstAccuracy) < 1e-9)
    let ema = 0.8 * firstAccuracy + 0.2 * secondAccuracy
    #expect(abs(try #require(second["synergy_acc_ema"]) - ema) < 1e-9)
    #expect(reports[1].metrics["kd_open"] == 1)
    #expect(try #require(reports[1].metrics["kd"]) > 0)
    let student = reports[2].metrics
    #expect(student["gate_ratio"] == 1)
    #expect(try #require(student["kd_syn_ratio"]) > 0)
    #expect(student["cw_mean"] != nil)
}

@Test func aStepAccuracyWithoutEvaluation() throws {
    // Three A-Step epochs evaluated every second epoch: epoch 1 has no accuracy yet, epoch 2
    // evaluates, and epoch 3 reports the EMA percentage of that evaluation as syn_acc.
    let overrides = [
        "method=asib", "++use_distillation_adapter=false", "student_epochs=1",
        "++teacher_adapt_epochs=3", "++synergy_only_epochs=3", "++teacher_eval_every=2",
        "++ib_mbm_out_dim=32", "++ib_mbm_n_head=4",
    ]
    let teacher = try run(try composedOptions(overrides)).filter { $0.phase == "teacher" }
        .map(\.metrics)
    try #require(teacher.count == 3)
    #expect(teacher[0]["synergy_acc"] == nil)
    #expect(teacher[0]["synergy_acc_ema"] == -1)
    #expect(teacher[0]["syn_acc"] == -1)
    let evaluated = try #require(teacher[1]["synergy_acc"])
    #expect(teacher[1]["syn_acc"] == evaluated)
    #expect(abs(try #require(teacher[1]["synergy_acc_ema"]) - evaluated) < 1e-9)
    #expect(teacher[2]["synergy_acc"] == nil)
    #expect(teacher[2]["syn_acc"] == teacher[1]["synergy_acc_ema"])
    #expect(teacher[2]["synergy_acc_ema"] == teacher[1]["synergy_acc_ema"])
}

@Test func aStepAddsWeightedFeatureKD() throws {
    // The student adapter output (width 32) is the query and matches the IB_MBM width, so the
    // A-Step adds 0.5 * FKD_A. In the synergy-only first epoch the loss is CE + 0.5 * FKD_A.
    let overrides = [
        "method=asib", "student_epochs=1", "++feat_kd_key=distill_feat", "++distill_out_dim=32",
        "++feat_kd_alpha_in_a=0.5",
    ]
    let reports = try run(try composedOptions(overrides + shortAStep))
    let first = reports[0].metrics
    let featureKD = try #require(first["fkd"])
    #expect(featureKD > 0)
    #expect(first["synergy_only"] == 1)
    let loss = try #require(first["loss"])
    let ce = try #require(first["ce"])
    #expect(abs(loss - (ce + 0.5 * featureKD)) < 1e-9 * max(1, loss))
    #expect(reports[1].metrics["fkd"] != nil)
}

@Test func featureKDWidthMismatchIsRejected() throws {
    // The pooled resnet8 feature (width 64) is the query and IB_MBM is 32 wide.
    let overrides = [
        "method=asib", "++use_distillation_adapter=false", "student_epochs=1",
        "++feat_kd_alpha_in_a=0.5",
    ]
    let options = try composedOptions(overrides + shortAStep)
    #expect {
        try run(options)
    } throws: { error in
        let message = "\(error)"
        return message.contains("feat_kd_alpha_in_a") && message.contains("ib_mbm_out_dim: 32")
            && message.contains("width 64")
    }
}

@Test func rungsDifferInBehaviour() throws {
    func firstStudentLoss(_ rung: String) throws -> (Double, [EpochReport]) {
        // The two teachers share a checkpoint and always agree. With the IB_MBM skip rule off
        // the B-Step runs IB_MBM, so the A-Step differences of the rungs reach it.
        let overrides = [
            "method=asib_ablation_stage", "rung=\(rung)", "student_epochs=1",
            "++skip_syn_disagree_thr=0",
        ]
        let reports = try run(try composedOptions(overrides + shortAStep))
        let student = try #require(reports.first { $0.phase == "student" })
        return (try #require(student.metrics["loss"]), reports)
    }
    let (l1, l1Reports) = try firstStudentLoss("L1")
    let (l2, l2Reports) = try firstStudentLoss("L2")
    let (l3, _) = try firstStudentLoss("L3")
    // L2: the A-Step adds the CCCP term once KD is open.
    #expect(l1Reports[1].metrics["cccp"] == 0)
    #expect(try #require(l2Reports[1].metrics["cccp"]) > 0)
    // L3: the EMA student joins the KD target, so the B-Step differs from L1.
    #expect(l1 != l3)
    #expect(l1 != l2)
    // L0 trains CE only, without an A-Step.
    let l0 = try run(try composedOptions(["method=asib_ablation_ce", "rung=L0", "student_epochs=1"]))
    #expect(l0.allSatisfy { $0.phase == "student" })
    #expect(l0[0].metrics["kd"] == 0)
}

@Test func l4SoftClampCapsStudentLoss() throws {
    // L4 switches the soft total-loss clamp on; a bound below the CE of an untrained student
    // makes it act on every batch.
    let overrides = [
        "method=asib_ablation_stage", "rung=L4", "loss_clamp_max=0.5", "student_epochs=1",
    ]
    let reports = try run(try composedOptions(overrides + shortAStep))
    let student = try #require(reports.first { $0.phase == "student" }).metrics
    #expect(student["loss_clamped"] == 1)
    #expect(try #require(student["loss"]) <= 0.5 + 1e-9)
    #expect(try #require(student["ce"]) > 0.5)
}

@Test func asibTwoViewTargetTrainsWithCutMix() throws {
    // L3 mixes every batch with CutMix; starting the two-view window at epoch 1 puts the
    // whole student epoch in it.
    func studentMetrics(_ extra: [String]) throws -> [String: Double] {
        let overrides = [
            "method=asib_ablation_stage", "rung=L3", "student_epochs=1", "grad_clip_norm=0.5",
        ]
        let reports = try run(try composedOptions(overrides + shortAStep + extra))
        return try #require(reports.first { $0.phase == "student" }).metrics
    }
    let twoView = try studentMetrics(["kd_two_view_start_epoch=1"])
    let plain = try studentMetrics([])
    for metrics in [twoView, plain] {
        #expect(try #require(metrics["loss"]).isFinite)
        #expect(metrics["train_acc"] == nil)
        #expect(try #require(metrics["mix_lambda_mean"]) < 1)
        #expect(metrics["grad_clip_ratio"] != nil)
    }
    #expect(twoView["mix_lambda_mean"] == plain["mix_lambda_mean"])
    #expect(twoView["kd"] != plain["kd"])
}

@Test(arguments: [
    // (disagreement, win ratio, step, probe period) -> (runs, probe)
    (0.10, 0.00, 3, 0, false, false),
    (0.20, 0.00, 3, 0, true, false),
    (0.10, 0.06, 3, 0, true, false),
    (0.10, 0.00, 200, 100, true, true),
    (0.10, 0.00, 201, 100, false, false),
    (0.20, 0.00, 200, 100, true, false),
])
func synergySkipDecision(
    disagreement: Double, winRatio: Double, step: Int, probeEvery: Int, runs: Bool, probe: Bool
) {
    var options = SynergySkipOptions()
    options.probeEvery = probeEvery
    let decision = options.runsSynergy(disagreement: disagreement, winRatio: winRatio, step: step)
    #expect(decision.runs == runs)
    #expect(decision.probe == probe)
}

@Test func synergySkipWithAgreeingTeachers() throws {
    // Both teachers load the same checkpoint, so they never disagree and, with a win-ratio
    // threshold no ratio reaches, every gate-open batch skips IB_MBM unless it is probed.
    let base = ["method=asib", "++use_distillation_adapter=false", "++skip_syn_win_thr=2"]
    let skipped = try run(try composedOptions(base + shortAStep + ["++synergy_probe_every=0"]))
        .filter { $0.phase == "student" }.map(\.metrics)
    try #require(skipped.count == 2)
    for metrics in skipped {
        #expect(metrics["gate_ratio"] == 1)
        #expect(metrics["disagree_mean"] == 0)
        #expect(metrics["need_ibm_skip_ratio"] == 1)
        #expect(metrics["probe_ratio"] == 0)
        #expect(metrics["kd_syn_ratio"] == 0)
        #expect(metrics["cw_mean"] == nil)
    }
    let probed = try run(try composedOptions(base + shortAStep + ["++synergy_probe_every=1"]))
        .filter { $0.phase == "student" }.map(\.metrics)
    try #require(probed.count == 2)
    for metrics in probed {
        #expect(metrics["need_ibm_skip_ratio"] == 0)
        #expect(metrics["probe_ratio"] == 1)
        #expect(metrics["cw_mean"] != nil)
    }
}

@Test func mixedTeacherWidthsFailBeforeTraining() throws {
    // resnet8 (pooled width 64) and mobilenetv2_x0_5 (1280) with the default F / 4 adapter
    // widths: the trainer's constructor, which the launch check runs, rejects the pair.
    let teachers = [
        "method=asib", "model/teacher@teacher1=resnet8",
        "model/teacher@teacher2=mobilenetv2_x0_5", "+teacher1_ckpt=/absent/t1.bin",
        "+teacher2_ckpt=/absent/t2.bin",
    ]
    let options = try composedOptions(teachers, teachers: false)
    do {
        _ = try RunTrainer(options: options, runDirectory: temporaryFolder())
        Issue.record("mixed teacher widths were accepted")
    } catch let error as TrainerError {
        #expect(error.description.contains("distill_out_dim"))
        #expect(error.description.contains("not set"))
        #expect(error.description.contains("[64, 1280]"))
        #expect(error.exitCode == 64)
    }
    let fixed = try composedOptions(teachers + ["++distill_out_dim=16"], teachers: false)
    _ = try RunTrainer(options: fixed, runDirectory: temporaryFolder())
}

@Test(arguments: [
    ("++distill_out_dim=100000000", "distill_out_dim"),
    ("++distill_hidden_dim=9223372036854775807", "distill_hidden_dim"),
    ("++num_stages=1000000000", "num_stages"),
    ("++ib_mbm_out_dim=100000000", "ib_mbm_out_dim"),
])
func oversizedSettingIsRejected(_ override: String, _ key: String) throws {
    let overrides = [
        "method=asib", "model/teacher@teacher1=resnet8", "model/teacher@teacher2=resnet8",
        "+teacher1_ckpt=/absent/t1.bin", "+teacher2_ckpt=/absent/t2.bin", override,
    ]
    do {
        let options = try composedOptions(overrides, teachers: false)
        _ = try RunTrainer(options: options, runDirectory: temporaryFolder())
        Issue.record("\(override) was accepted")
    } catch let error as TrainerError {
        #expect(error.description.contains(key))
        #expect(error.exitCode == 64)
    }
}

@Test func ensembleMixingChangesSynergyTarget() throws {
    // kd_target synergy with kd_ens_alpha 0.5: inside the teacher_adapt_kd_warmup window the
    // target mixes in the teacher side, so epoch 1's KD differs. Outside the window (warm-up
    // 0) the run equals the unmixed one.
    let base = [
        "method=asib", "++use_distillation_adapter=false", "++skip_syn_disagree_thr=0",
        "++kd_target=synergy", "student_epochs=1",
    ]
    func studentKD(_ extra: [String]) throws -> Double {
        let reports = try run(try composedOptions(base + shortAStep + extra))
        let student = try #require(reports.first { $0.phase == "student" })
        return try #require(student.metrics["kd"])
    }
    let plain = try studentKD([])
    let mixed = try studentKD(["++kd_ens_alpha=0.5", "++teacher_adapt_kd_warmup=1"])
    let outside = try studentKD(["++kd_ens_alpha=0.5", "++teacher_adapt_kd_warmup=0"])
    #expect(mixed != plain)
    #expect(outside == plain)
}
