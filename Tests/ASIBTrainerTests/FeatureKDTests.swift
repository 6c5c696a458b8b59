import ASIBConfig
import Foundation
import Testing
@testable import ASIBTrainer

// The B-Step feature-KD term: reference values and finite-difference checks of the loss and
// of its path through the student adapter. The short ASIB runs use the Fashion-MNIST files of
// the Debian package dataset-fashion-mnist and two resnet8 teachers trained for one epoch.

@Test func featureKDValueMatchesHandComputation() {
    // Rows (1, 2) and (3, -1) against means (0, 0) and (1, 1), weights 0.5 and 2, two
    // selected rows: (0.5 * 5 + 2 * (4 + 4)) / 2 = 9.25.
    let student: [Float] = [1, 2, 3, -1]
    let mean: [Float] = [0, 0, 1, 1]
    let value = FeatureKDLoss.forward(student: student, mean: mean, weights: [0.5, 2], count: 2, width: 2)
    #expect(abs(value - 9.25) < 1e-12)
    // A row with weight 0 (outside the selection) adds nothing, and the count divides.
    let unselected = FeatureKDLoss.forward(student: student, mean: mean, weights: [0.5, 0], count: 1, width: 2)
    #expect(abs(unselected - 2.5) < 1e-12)
}

@Test func featureCertaintyWeightsUseSelectionMean() {
    // The mean over the three selected rows is 2, because the unselected 100 does not count.
    let weights = FeatureKDLoss.certaintyWeights([1, 2, 3, 100], selected: [true, true, true, false])
    let expected = [0.5, 1.0, 1.5, 1.0]
    for (got, want) in zip(weights, expected) { #expect(abs(got - want) < 1e-6) }
    // Ratios 1 / 5.5 and 10 / 5.5 clamp to the fixed bounds 0.5 and 1.5.
    #expect(FeatureKDLoss.certaintyWeights([1, 10], selected: [true, true]) == [0.5, 1.5])
}

@Test func bStepFeatureKDGradientMatchesFiniteDifferences() {
    let (batch, width) = (4, 5)
    let student = Tensor(shape: [batch, width], values: GradientCheck.random(batch * width, seed: 41))
    let mean = GradientCheck.random(batch * width, seed: 42)
    let weights = [0.7, 0, 1.3, 0.4]
    let scale = 0.3
    func loss() -> Double {
        scale * FeatureKDLoss.forward(student: student.data, mean: mean, weights: weights, count: 3, width: width)
    }
    let gradient = Tensor(shape: [batch, width])
    FeatureKDLoss.backward(
        studentGradient: gradient.data, student: student.data, mean: mean, weights: weights,
        count: 3, width: width, scale: scale
    )
    let numeric = GradientCheck.numeric(student.data, count: batch * width, eps: 1e-3, loss: loss)
    #expect(GradientCheck.relativeError(gradient.values, numeric) < GradientCheck.tolerance)
    // The unselected row gets no gradient.
    #expect((width..<(2 * width)).allSatisfy { gradient.data[$0] == 0 })
}

/// A synergy module whose student feature is compared with a fixed IB_MBM mean: the student
/// adapter (`distill_feat`, width 6 -> 5) or the pooled feature itself (`feat_2d`, width 5).
private final class FeatureKDCase {
    let batch = 3
    let studentWidth: Int
    let module: SynergyModule
    let pooled: Tensor
    let mean: [Float]
    let weights = [1.2, 0.6, 0.9]

    init(adapter: Bool) {
        studentWidth = adapter ? 6 : 5
        var options = ASIBOptions()
        options.useIB = true
        options.teacherAdaptEpochs = 1
        options.embed = 5
        options.heads = 1
        options.useDistillationAdapter = adapter
        options.distillOutDim = 5
        options.queryFromAdapter = adapter
        options.featureKDAlpha = 0.2
        module = SynergyModule(
            options: options, studentWidth: studentWidth, teacherWidths: [5, 5], classes: 4,
            batch: batch, seed: 51
        )
        pooled = Tensor(shape: [studentWidth, batch], values: GradientCheck.random(studentWidth * batch, seed: 52))
        mean = GradientCheck.random(batch * 5, seed: 53)
    }

    func loss() -> Double {
        let rows = Tensor(shape: [batch, 5])
        module.writeStudentFeature(output: rows.data, studentPooled: pooled.data, batch: batch)
        return FeatureKDLoss.forward(student: rows.data, mean: mean, weights: weights, count: batch, width: 5)
    }

    /// Returns the pooled-feature gradient and leaves the adapter gradients in its store.
    func backward() -> Tensor {
        let rows = Tensor(shape: [batch, 5])
        module.writeStudentFeature(output: rows.data, studentPooled: pooled.data, batch: batch)
        let rowGradient = Tensor(shape: [batch, 5])
        FeatureKDLoss.backward(
            studentGradient: rowGradient.data, student: rows.data, mean: mean, weights: weights,
            count: batch, width: 5, scale: 1
        )
        module.studentAdapter?.parameters.zeroGradients()
        let pooledGradient = Tensor(shape: [studentWidth, batch])
        module.backwardStudentFeature(
            featureGradient: rowGradient.data, pooledGradient: pooledGradient.data, batch: batch
        )
        return pooledGradient
    }
}

@Test(arguments: [true, false])
func featureKDPathGradientsMatchFiniteDifferences(_ adapter: Bool) throws {
    let example = FeatureKDCase(adapter: adapter)
    #expect(example.module.appliesFeatureKD)
    let pooledGradient = example.backward()
    let numericPooled = GradientCheck.numeric(
        example.pooled.data, count: example.pooled.count, eps: 1e-3, loss: example.loss
    )
    #expect(GradientCheck.relativeError(pooledGradient.values, numericPooled) < GradientCheck.tolerance)
    #expect(pooledGradient.values.contains { $0 != 0 })
    guard adapter else {
        #expect(example.module.studentAdapter == nil)
        return
    }
    let store = try #require(example.module.studentAdapter).parameters
    let analytic = Array(UnsafeBufferPointer(start: store.gradients, count: store.count))
    let numeric = GradientCheck.numeric(store.values, count: store.count, eps: 1e-3, loss: example.loss)
    #expect(GradientCheck.relativeError(analytic, numeric) < GradientCheck.tolerance)
    #expect(analytic.contains { $0 != 0 })
}

/// The whole student path of the term: a resnet8 on 4 images of 8 x 8, its pooled feature,
/// the student adapter (64 -> 5) and FKD against a fixed mean, checked on backbone parameters.
/// Tolerance 3e-2 with eps 1e-3, as for the other feature terms on resnet8, because batch
/// norm over 4 images and ReLU kinks make the loss strongly curved.
@Test(arguments: ["conv1.weight", "layer1.0.conv2.weight", "layer3.0.bn2.bias", "fc.weight"])
func featureKDReachesBackboneParameters(_ name: String) throws {
    let model = ResNetModel(
        architecture: try ResNetArchitecture.named("resnet8", key: "test"), inputChannels: 2,
        classes: 3, seed: 61
    )
    let graph = ResNetGraph(model: model, batch: 4, height: 8, width: 8, withGradients: true)
    let input = Tensor(shape: [2, 4, 8, 8], values: GradientCheck.random(512, seed: 62))
    var options = ASIBOptions()
    options.useIB = true
    options.teacherAdaptEpochs = 1
    options.embed = 5
    options.useDistillationAdapter = true
    options.distillOutDim = 5
    options.queryFromAdapter = true
    options.featureKDAlpha = 0.2
    let module = SynergyModule(
        options: options, studentWidth: 64, teacherWidths: [5, 5], classes: 3, batch: 4, seed: 63
    )
    let mean = GradientCheck.random(4 * 5, seed: 64)
    let weights = [1.0, 0.5, 0, 1.5]
    let rows = Tensor(shape: [4, 5])
    func loss() -> Double {
        graph.forward(input: input.data, training: true)
        module.writeStudentFeature(output: rows.data, studentPooled: graph.pooledFeature.data, batch: 4)
        return FeatureKDLoss.forward(student: rows.data, mean: mean, weights: weights, count: 3, width: 5)
    }

    model.parameters.zeroGradients()
    _ = loss()
    let rowGradient = Tensor(shape: [4, 5])
    FeatureKDLoss.backward(
        studentGradient: rowGradient.data, student: rows.data, mean: mean, weights: weights,
        count: 3, width: 5, scale: 1
    )
    module.studentAdapter?.parameters.zeroGradients()
    let pooledGradient = Tensor(shape: [64, 4])
    module.backwardStudentFeature(featureGradient: rowGradient.data, pooledGradient: pooledGradient.data, batch: 4)
    let noLogitGradient = Tensor(shape: [4, 3])
    graph.backward(
        logitGradient: noLogitGradient.data,
        featureGradients: FeatureGradients(pooled: UnsafePointer(pooledGradient.data))
    )

    let entry = try #require(model.parameters.entry(named: name))
    let stride = max(1, entry.count / 16)
    var analytic: [Float] = []
    var numeric: [Double] = []
    for index in Array(Swift.stride(from: 0, to: entry.count, by: stride).prefix(16)) {
        let position = entry.offset + index
        analytic.append(model.parameters.gradients[position])
        numeric += GradientCheck.numeric(model.parameters.values + position, count: 1, eps: 1e-3, loss: loss)
    }
    if name == "fc.weight" {
        // The classifier is not on the feature path.
        #expect(analytic.allSatisfy { $0 == 0 })
        #expect(numeric.allSatisfy { abs($0) < 1e-6 })
        return
    }
    #expect(analytic.contains { $0 != 0 })
    #expect(GradientCheck.relativeError(analytic, numeric) < 3e-2)
}

@Test func featureKDSkipReasonNamesWidths() {
    var options = ASIBOptions()
    options.useIB = true
    options.teacherAdaptEpochs = 1
    options.embed = 16
    options.featureKDAlpha = 0.5
    // feat_2d: a pooled width of 64 never matches 16.
    let pooledReason = SynergyModule.featureKDSkipReason(options: options, studentWidth: 64)
    #expect(pooledReason?.contains("feat_2d") == true)
    #expect(pooledReason?.contains("width 64") == true)
    #expect(pooledReason?.contains("ib_mbm_out_dim") == true)
    #expect(SynergyModule.featureKDSkipReason(options: options, studentWidth: 16) == nil)
    // distill_feat: the adapter output width decides.
    options.useDistillationAdapter = true
    options.queryFromAdapter = true
    options.distillOutDim = 8
    let adapterReason = SynergyModule.featureKDSkipReason(options: options, studentWidth: 64)
    #expect(adapterReason?.contains("distill_out_dim") == true)
    #expect(adapterReason?.contains("width 8") == true)
    options.distillOutDim = 16
    #expect(SynergyModule.featureKDSkipReason(options: options, studentWidth: 64) == nil)
    // Without the term there is nothing to skip. Without IB_MBM the term never applies.
    options.featureKDAlpha = 0
    #expect(SynergyModule.featureKDSkipReason(options: options, studentWidth: 64) == nil)
    options.featureKDAlpha = 0.5
    options.useIB = false
    #expect(SynergyModule.featureKDSkipReason(options: options, studentWidth: 64)?.contains("use_ib") == true)
}

// MARK: - Short ASIB runs

private let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

private func temporaryFolder() -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent("asib-fkd-\(UUID().uuidString)")
}

private let teacherCheckpoint: Result<String, Error> = Result {
    let options = try composedOptions(["method=teacher", "seed=4", "student_epochs=1"], teachers: false)
    return try RunTrainer(options: options, runDirectory: temporaryFolder()).train { _ in }.checkpoint.path
}

private func composedOptions(_ overrides: [String], teachers: Bool = true) throws -> TrainingOptions {
    let composer = ConfigComposer(configRoot: repositoryRoot.appendingPathComponent("configs"))
    var all = ["dataset.train_limit=128", "dataset.test_limit=64", "dataset.batch_size=64"] + overrides
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

/// One stage: a one-epoch A-Step that leaves the student adapter alone
/// (`train_distill_adapter_only: false`) and one student epoch with the synergy gate open
/// and a `distill_feat` query of width 16.
private let featureKDRun = [
    "method=asib", "student_epochs=1", "++teacher_adapt_epochs=1", "++synergy_only_epochs=0",
    "++teacher_eval_every=1", "++kd_cooldown_epochs=0", "++enable_kd_after_syn_acc=0",
    "++ib_mbm_out_dim=16", "++ib_mbm_n_head=2", "++train_distill_adapter_only=false",
    "++feat_kd_key=distill_feat",
]

private struct AdapterRun {
    var reports: [EpochReport] = []
    /// Student adapter values before and after the B-Step, read from resume.bin.
    var before: [Float] = []
    var after: [Float] = []
    var bufferNames: [String] = []
}

/// Trains a run with a resume key and reads the student adapter from resume.bin as the
/// A-Step left it (at the first student report, before that epoch's save) and at the end.
private func trainAdapterRun(_ overrides: [String]) throws -> AdapterRun {
    let folder = temporaryFolder()
    let trainer = try RunTrainer(options: try composedOptions(featureKDRun + overrides), runDirectory: folder)
    trainer.resumeKey = "feature-kd"
    let path = folder.appendingPathComponent(ResumeCheckpoint.fileName).path
    func adapterValues() throws -> [Float] {
        let saved = try ResumeCheckpoint.load(path: path)
        return try #require(saved.buffers.first { $0.name == "adapter.student" }).values
    }
    var run = AdapterRun()
    _ = try trainer.train { report in
        run.reports.append(report)
        if report.phase == "student" && run.before.isEmpty { run.before = try adapterValues() }
    }
    run.after = try adapterValues()
    run.bufferNames = try ResumeCheckpoint.load(path: path).buffers.map(\.name)
    return run
}

@Suite("feature KD runs", .serialized)
struct FeatureKDRunTests {
    @Test func bStepTrainsStudentAdapter() throws {
        let run = try trainAdapterRun(["++distill_out_dim=16", "++feat_kd_alpha=0.5"])
        let student = try #require(run.reports.last { $0.phase == "student" })
        #expect(student.metrics["gate_ratio"] == 1)
        let fkd = try #require(student.metrics["fkd"])
        #expect(fkd > 0)
        #expect(fkd.isFinite)
        #expect(!run.before.isEmpty)
        let changed = run.before != run.after
        #expect(changed, "the B-Step left the student adapter unchanged")
        #expect(run.bufferNames.contains("adapter.student.b_step"))
    }

    /// CutMix with the clean synergy view (the query from a clean forward, the compared
    /// feature from the mixed one) and joint gradient clipping still train the adapter.
    @Test func mixedBatchesTrainStudentAdapter() throws {
        let run = try trainAdapterRun([
            "++distill_out_dim=16", "++feat_kd_alpha=0.5", "++cutmix_alpha_distill=1.0",
            "grad_clip_norm=0.5",
        ])
        let student = try #require(run.reports.last { $0.phase == "student" })
        #expect(student.metrics["mix_lambda_mean"] != nil)
        #expect(student.metrics["grad_clip_ratio"] != nil)
        let fkd = try #require(student.metrics["fkd"])
        #expect(fkd > 0)
        let changed = run.before != run.after
        #expect(changed, "the B-Step left the student adapter unchanged")
    }

    /// Freeze level 1 trains only the last stage and the classifier, so the adapter stays.
    @Test func freezeLevelOneFreezesStudentAdapter() throws {
        let run = try trainAdapterRun([
            "++distill_out_dim=16", "++feat_kd_alpha=0.5", "use_partial_freeze=true",
            "++student_freeze_level_schedule=[1]",
        ])
        let student = try #require(run.reports.last { $0.phase == "student" })
        #expect(student.metrics["fkd"] != nil)
        let unchanged = run.before == run.after
        #expect(unchanged, "a level-1 freeze left the student adapter trainable")
    }

    @Test func noFeatureKDLeavesAdapterInBStep() throws {
        let run = try trainAdapterRun(["++distill_out_dim=16", "++feat_kd_alpha=0"])
        let student = try #require(run.reports.last { $0.phase == "student" })
        #expect(student.metrics["gate_ratio"] == 1)
        #expect(student.metrics["fkd"] == nil)
        let unchanged = run.before == run.after
        #expect(unchanged, "the B-Step changed the student adapter without feature KD")
        #expect(!run.bufferNames.contains("adapter.student.b_step"))
    }

    /// An adapter width of 8 against an IB_MBM width of 16: the run trains, the term and its
    /// metric are absent and the student adapter stays as the A-Step left it.
    @Test func mismatchedWidthsSkipFeatureKD() throws {
        let options = try composedOptions(featureKDRun + ["++distill_out_dim=8", "++feat_kd_alpha=0.5"])
        #expect(SynergyModule.featureKDSkipReason(options: options.asib, studentWidth: 64) != nil)
        let run = try trainAdapterRun(["++distill_out_dim=8", "++feat_kd_alpha=0.5"])
        let student = try #require(run.reports.last { $0.phase == "student" })
        #expect(student.metrics["gate_ratio"] == 1)
        #expect(student.metrics["fkd"] == nil)
        #expect(student.metrics["loss"]?.isFinite == true)
        let unchanged = run.before == run.after
        #expect(unchanged, "the B-Step changed the student adapter although feature KD was skipped")
    }

    @Test func negativeFeatureKDWeightIsRejected() throws {
        #expect {
            _ = try RunTrainer(
                options: try composedOptions(["++feat_kd_alpha=-0.1"], teachers: false),
                runDirectory: temporaryFolder()
            )
        } throws: { error in
            "\(error)".contains("feat_kd_alpha") && "\(error)".contains("-0.1")
        }
    }
}
