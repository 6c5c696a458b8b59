import Foundation
import Testing
@testable import ASIBTrainer

// One training step of resnet8 compared with PyTorch. The fixture files in Fixtures/ were
// written by scripts/fixtures/make_reference.py (PyTorch, float64 from float32 weights) and
// are read by path from the source tree (FixtureFile). Tolerance: 1e-4 relative for logits and losses and
// 1e-4 L2-relative per gradient tensor; float32 accumulation in the GEMMs and batch norm
// leaves errors near 1e-6.

private let tolerance = 1e-4

/// The settings of `resnet8_step`.
private struct StepSettings {
    let batch, channels, height, width, classes: Int
    let temperature, ceAlpha, kdAlpha, labelSmoothing, dkdAlpha, dkdBeta: Double

    init(_ fixture: FixtureFile) throws {
        batch = try fixture.integer("batch")
        channels = try fixture.integer("channels")
        height = try fixture.integer("height")
        width = try fixture.integer("width")
        classes = try fixture.integer("classes")
        temperature = try fixture.number("temperature")
        ceAlpha = try fixture.number("ce_alpha")
        kdAlpha = try fixture.number("kd_alpha")
        labelSmoothing = try fixture.number("label_smoothing")
        dkdAlpha = try fixture.number("dkd_alpha")
        dkdBeta = try fixture.number("dkd_beta")
    }
}

/// Returns `|a - b| / max(|a|, |b|)` over the L2 norms of two vectors.
private func relativeDifference(_ swift: [Float], _ reference: [Float]) -> Double {
    GradientCheck.relativeError(swift, reference.map(Double.init))
}

/// The fixture's weights in a resnet8 graph after one training-mode forward.
private final class ReferenceNetwork {
    let reference: FixtureFile
    let model: ResNetModel
    let graph: ResNetGraph
    let input: Tensor
    let teacherLogits: Tensor
    var labels: [Int32]
    let settings: StepSettings

    init() throws {
        reference = try FixtureFile("resnet8_step")
        settings = try StepSettings(reference)
        model = ResNetModel(
            architecture: try ResNetArchitecture.named("resnet8", key: "fixture"),
            inputChannels: settings.channels, classes: settings.classes, seed: 0
        )
        for entry in model.parameters.entries {
            let weights = try reference.tensor("weight.\(entry.name)")
            try #require(weights.count == entry.count, "size of \(entry.name)")
            for i in 0..<entry.count { model.parameters.values[entry.offset + i] = weights[i] }
        }
        graph = ResNetGraph(
            model: model, batch: settings.batch, height: settings.height, width: settings.width,
            withGradients: true
        )
        input = Tensor(
            shape: [settings.channels, settings.batch, settings.height, settings.width],
            values: try reference.tensor("input")
        )
        teacherLogits = Tensor(
            shape: [settings.batch, settings.classes], values: try reference.tensor("teacher_logits")
        )
        labels = reference.manifest.labels
    }

    /// Runs forward and backward for `ce_alpha * CE + kd_alpha * (KD or DKD)` and returns the
    /// logits, the named losses and the parameter gradients.
    func step(dkd: Bool) -> (logits: [Float], losses: [String: Double], gradients: [Float]) {
        let (batch, classes) = (settings.batch, settings.classes)
        model.parameters.zeroGradients()
        let logits = graph.forward(input: input.data, training: true)
        let probabilities = Tensor(shape: [batch, classes])
        let studentSoftened = Tensor(shape: [batch, classes])
        let teacherSoftened = Tensor(shape: [batch, classes])
        let logitGradient = Tensor(shape: [batch, classes])
        var losses: [String: Double] = [:]
        labels.withUnsafeBufferPointer { labelBuffer in
            let labels = labelBuffer.baseAddress!
            losses["ce"] = CrossEntropyLoss.forward(
                probabilities: probabilities.data, logits: logits, labels: labels,
                smoothing: settings.labelSmoothing, batch: batch, classes: classes
            )
            CrossEntropyLoss.backward(
                logitGradient: logitGradient.data, probabilities: probabilities.data,
                labels: labels, smoothing: settings.labelSmoothing, scale: settings.ceAlpha,
                batch: batch, classes: classes
            )
            let distillation: Double
            if dkd {
                let parts = DKDLoss.forward(
                    studentProbabilities: studentSoftened.data,
                    teacherProbabilities: teacherSoftened.data, studentLogits: logits,
                    teacherLogits: teacherLogits.data, labels: labels,
                    temperature: settings.temperature, batch: batch, classes: classes
                )
                losses["tckd"] = parts.target
                losses["nckd"] = parts.nonTarget
                distillation = DKDLoss.combine(parts, alpha: settings.dkdAlpha, beta: settings.dkdBeta)
                DKDLoss.backward(
                    studentLogitGradient: logitGradient.data,
                    studentProbabilities: studentSoftened.data,
                    teacherProbabilities: teacherSoftened.data, labels: labels,
                    alpha: settings.dkdAlpha, beta: settings.dkdBeta,
                    temperature: settings.temperature, scale: settings.kdAlpha, batch: batch,
                    classes: classes
                )
            } else {
                distillation = KDLoss.forward(
                    studentProbabilities: studentSoftened.data,
                    teacherProbabilities: teacherSoftened.data, studentLogits: logits,
                    teacherLogits: teacherLogits.data, temperature: settings.temperature,
                    batch: batch, classes: classes
                )
                losses["kd"] = distillation
                KDLoss.backward(
                    studentLogitGradient: logitGradient.data,
                    studentProbabilities: studentSoftened.data,
                    teacherProbabilities: teacherSoftened.data, temperature: settings.temperature,
                    scale: settings.kdAlpha, batch: batch, classes: classes
                )
            }
            losses["loss"] = settings.ceAlpha * losses["ce"]! + settings.kdAlpha * distillation
        }
        let logitValues = Array(UnsafeBufferPointer(start: logits, count: batch * classes))
        graph.backward(logitGradient: logitGradient.data)
        let gradients = Array(
            UnsafeBufferPointer(start: model.parameters.gradients, count: model.parameters.count)
        )
        return (logitValues, losses, gradients)
    }
}

@Test(arguments: ["kd", "dkd"])
func resnet8StepMatchesPyTorch(_ loss: String) throws {
    let network = try ReferenceNetwork()
    let (logits, losses, gradients) = network.step(dkd: loss == "dkd")
    let reference = network.reference

    let logitError = relativeDifference(logits, try reference.tensor("logits"))
    #expect(logitError < tolerance, "logits: \(logitError)")
    for (name, value) in losses {
        let expected = try reference.scalar(loss, name)
        #expect(abs(value - expected) / abs(expected) < tolerance, "\(name): \(value) vs \(expected)")
    }
    #expect(losses.count == reference.manifest.scalars[loss]?.count)

    for entry in network.model.parameters.entries {
        let swift = Array(gradients[entry.offset..<(entry.offset + entry.count)])
        let expected = try reference.tensor("\(loss).grad.\(entry.name)")
        let error = relativeDifference(swift, expected)
        #expect(error < tolerance, "\(entry.name): \(error)")
    }
}

@Test func fixtureCoversEveryParameter() throws {
    let network = try ReferenceNetwork()
    let names = Set(network.reference.manifest.tensors.keys)
    for entry in network.model.parameters.entries {
        #expect(names.contains("weight.\(entry.name)"), "\(entry.name)")
    }
}
