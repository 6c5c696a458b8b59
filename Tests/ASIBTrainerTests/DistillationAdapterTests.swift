import Foundation
import Testing
@testable import ASIBTrainer

// Finite-difference checks of the distillation adapter alone and of the adapter -> IB_MBM ->
// synergy head path that the A-Step trains.

@Test func adapterWidthsDefaultToQuarterAndHalf() {
    #expect(DistillationAdapter.widths(features: 64, outDim: 0, hiddenDim: 0) == (32, 16))
    #expect(DistillationAdapter.widths(features: 2048, outDim: 256, hiddenDim: 0) == (1024, 256))
    // H = max(F / 2, D) when D exceeds F / 2.
    #expect(DistillationAdapter.widths(features: 64, outDim: 256, hiddenDim: 0) == (256, 256))
    #expect(DistillationAdapter.widths(features: 64, outDim: 8, hiddenDim: 12) == (12, 8))
}

@Test func adapterInitialisationIsPyTorchUniform() {
    let adapter = DistillationAdapter(inFeatures: 16, hidden: 9, outFeatures: 4, batch: 2, seed: 5)
    let store = adapter.parameters
    for (name, fanIn) in [("0.weight", 16), ("0.bias", 16), ("2.weight", 9), ("2.bias", 9)] {
        let entry = try! #require(store.entry(named: name))
        let values = (0..<entry.count).map { store.values[entry.offset + $0] }
        let bound = Float(1 / Double(fanIn).squareRoot())
        #expect(values.allSatisfy { abs($0) <= bound }, "\(name) outside +-1/sqrt(\(fanIn))")
        // A uniform draw over the whole interval reaches past half the bound.
        #expect(values.contains { abs($0) > bound / 2 }, "\(name) not spread over the interval")
    }
}

@Test func adapterGradientsMatchFiniteDifferences() {
    let batch = 3
    let adapter = DistillationAdapter(inFeatures: 5, hidden: 6, outFeatures: 4, batch: batch, seed: 11)
    let input = GradientCheck.random(batch * 5, seed: 12)
    let projection = GradientCheck.random(batch * 4, seed: 13)
    func loss() -> Double {
        adapter.forward(batch: batch)
        return GradientCheck.project(adapter.output.data, projection)
    }
    adapter.input.data.update(from: input, count: input.count)
    _ = loss()
    adapter.parameters.zeroGradients()
    let inputGradient = Tensor(shape: [batch, 5])
    projection.withUnsafeBufferPointer {
        adapter.backward(outputGradient: $0.baseAddress!, inputGradient: inputGradient.data, batch: batch)
    }
    let parameterGradient = Array(
        UnsafeBufferPointer(start: adapter.parameters.gradients, count: adapter.parameters.count)
    )
    let numericParameters = GradientCheck.numeric(
        adapter.parameters.values, count: adapter.parameters.count, eps: 1e-3, loss: loss
    )
    #expect(GradientCheck.relativeError(parameterGradient, numericParameters) < GradientCheck.tolerance)
    let numericInput = GradientCheck.numeric(adapter.input.data, count: batch * 5, eps: 1e-3, loss: loss)
    #expect(GradientCheck.relativeError(inputGradient.values, numericInput) < GradientCheck.tolerance)
}

/// A synergy module with adapters on two teachers of widths 6 and 10 and on a student of
/// width 7; the loss is CE of the head plus beta * IB KL, as in the A-Step.
private final class AdapterCase {
    let batch = 3
    let classes = 4
    let module: SynergyModule
    let studentPooled = GradientCheck.random(7 * 3, seed: 31)
    let teacherPooled = [GradientCheck.random(6 * 3, seed: 32), GradientCheck.random(10 * 3, seed: 33)]
    var labels: [Int32] = [1, 0, 3]
    let probabilities = Tensor(shape: [3, 4])
    let beta = 0.2

    init(trainAdapters: Bool) {
        var options = ASIBOptions()
        options.embed = 8
        options.heads = 2
        options.logvarClip = 5
        options.useDistillationAdapter = true
        options.distillOutDim = 5
        options.queryFromAdapter = true
        options.trainDistillAdapters = trainAdapters
        options.learningRate = 0.01
        module = SynergyModule(
            options: options, studentWidth: 7, teacherWidths: [6, 10], classes: 4, batch: 3,
            seed: 34
        )
    }

    func loss() -> Double {
        studentPooled.withUnsafeBufferPointer { student in
            teacherPooled[0].withUnsafeBufferPointer { first in
                teacherPooled[1].withUnsafeBufferPointer { second in
                    module.load(
                        studentPooled: student.baseAddress!,
                        teacherPooled: [first.baseAddress!, second.baseAddress!], batch: batch
                    )
                }
            }
        }
        module.block.forward(
            queryFeature: module.query.data, teacherTokens: module.tokens.data, batch: batch,
            sample: false
        )
        let logits = module.head.forward(z: module.block.z.data, batch: batch, random: nil)
        let ce = CrossEntropyLoss.forward(
            probabilities: probabilities.data, logits: logits, labels: &labels, smoothing: 0,
            batch: batch, classes: classes
        )
        let kl = InformationBottleneckLoss.forward(
            mu: module.block.mu.data, logvar: module.block.logvar.data, batch: batch, features: 8
        )
        return ce + beta * kl
    }

    /// Runs the forward and the backward of the loss into every gradient buffer.
    func backward() {
        _ = loss()
        module.zeroGradients()
        module.block.zeroOutputGradients()
        let logitGradient = Tensor(shape: [batch, classes])
        CrossEntropyLoss.backward(
            logitGradient: logitGradient.data, probabilities: probabilities.data, labels: &labels,
            smoothing: 0, scale: 1, batch: batch, classes: classes
        )
        InformationBottleneckLoss.backward(
            muGradient: module.block.muGradient.data, logvarGradient: module.block.logvarGradient.data,
            mu: module.block.mu.data, logvar: module.block.logvar.data, beta: beta, batch: batch,
            features: 8
        )
        module.backward(logitGradient: logitGradient.data, batch: batch)
    }
}

@Test func adapterPathGradientsMatchFiniteDifferences() {
    let example = AdapterCase(trainAdapters: true)
    #expect(example.module.tokenWidth == 5)
    #expect(example.module.queryWidth == 5)
    example.backward()
    let adapters = example.module.teacherAdapters + [example.module.studentAdapter!]
    for (index, adapter) in adapters.enumerated() {
        let store = adapter.parameters
        let analytic = Array(UnsafeBufferPointer(start: store.gradients, count: store.count))
        let numeric = GradientCheck.numeric(store.values, count: store.count, eps: 1e-3, loss: example.loss)
        let error = GradientCheck.relativeError(analytic, numeric)
        #expect(error < GradientCheck.tolerance, "adapter \(index): \(error)")
        #expect(analytic.contains { $0 != 0 }, "adapter \(index) received no gradient")
    }
}

@Test func aStepMovesAdaptersOnlyWhenTrained() {
    for train in [true, false] {
        let example = AdapterCase(trainAdapters: train)
        let adapters = example.module.teacherAdapters + [example.module.studentAdapter!]
        let before = adapters.map { Array(UnsafeBufferPointer(start: $0.parameters.values, count: $0.parameters.count)) }
        let blockBefore = example.module.block.parameters.values[0]
        example.backward()
        example.module.step()
        let after = adapters.map { Array(UnsafeBufferPointer(start: $0.parameters.values, count: $0.parameters.count)) }
        for index in adapters.indices {
            #expect((before[index] != after[index]) == train, "adapter \(index), train \(train)")
        }
        #expect(example.module.block.parameters.values[0] != blockBefore)
    }
}

@Test func unequalTeacherWidthsNeedAdapters() {
    var options = ASIBOptions()
    #expect {
        try SynergyModule.checkTokenWidths(options: options, teacherWidths: [64, 256])
    } throws: { error in
        "\(error)".contains("use_distillation_adapter") && "\(error)".contains("[64, 256]")
    }
    options.useDistillationAdapter = true
    // The default D = F / 4 still differs (16 and 64), so distill_out_dim must be set.
    #expect {
        try SynergyModule.checkTokenWidths(options: options, teacherWidths: [64, 256])
    } throws: { error in
        "\(error)".contains("distill_out_dim")
    }
    options.distillOutDim = 32
    #expect(throws: Never.self) {
        try SynergyModule.checkTokenWidths(options: options, teacherWidths: [64, 256])
    }
    #expect(SynergyModule.tokenWidths(options: options, teacherWidths: [64, 256]) == [32, 32])
}

/// Options of a one-epoch ASIB run on 64 Fashion-MNIST images with untrained teachers
/// resnet8 (pooled width 64) and resnet8x4 (pooled width 256).
private func mixedWidthOptions() throws -> TrainingOptions {
    let folder = FileManager.default.temporaryDirectory
        .appendingPathComponent("asib-adapter-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    var options = TrainingOptions()
    options.seed = 3
    options.studentModel = "resnet8"
    options.batchSize = 32
    options.trainLimit = 64
    options.testLimit = 32
    options.kdAlpha = 0.5
    options.ceAlpha = 0.5
    options.kdTarget = .avg
    for (slot, name) in [("teacher1", "resnet8"), ("teacher2", "resnet8x4")] {
        let path = folder.appendingPathComponent("\(slot).bin")
        try ResNetModel(
            architecture: try ResNetArchitecture.named(name, key: "\(slot).name"),
            inputChannels: 1, classes: 10, seed: 1
        ).save(to: path)
        options.teachers.append(TeacherSource(
            model: name, checkpoint: path.path, modelKey: "\(slot).name", checkpointKey: "\(slot)_ckpt"
        ))
    }
    options.asib.useIB = true
    options.asib.teacherAdaptEpochs = 1
    options.asib.evaluateEvery = 1
    options.asib.embed = 8
    options.asib.heads = 2
    return options
}

@Test func runRejectsMixedWidthsWithoutAdapters() throws {
    let options = try mixedWidthOptions()
    let folder = FileManager.default.temporaryDirectory
        .appendingPathComponent("asib-adapter-run-\(UUID().uuidString)")
    #expect {
        _ = try RunTrainer(options: options, runDirectory: folder).train { _ in }
    } throws: { error in
        "\(error)".contains("use_distillation_adapter") && "\(error)".contains("[64, 256]")
    }
}

@Test func runTrainsMixedWidthsWithAdapters() throws {
    var options = try mixedWidthOptions()
    options.asib.useDistillationAdapter = true
    options.asib.distillOutDim = 16
    options.asib.trainDistillAdapters = true
    let folder = FileManager.default.temporaryDirectory
        .appendingPathComponent("asib-adapter-run-\(UUID().uuidString)")
    var reports: [EpochReport] = []
    _ = try RunTrainer(options: options, runDirectory: folder).train { reports.append($0) }
    #expect(reports.map(\.phase) == ["teacher", "student"])
    let teacher = try #require(reports.first).metrics
    #expect(try #require(teacher["loss"]).isFinite)
    #expect(try #require(teacher["synergy_acc"]) >= 0)
}
