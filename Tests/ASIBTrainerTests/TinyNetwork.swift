@testable import ASIBTrainer
import Testing

// Shapes: input [2, 4, 8, 8] (C, B, H, W); logits and probabilities [4, 3].

/// A tiny network of one architecture (4 images of 8x8x2, 3 classes) in training mode, with
/// CE over the logits as the loss, for finite-difference checks through a whole model.
final class TinyNetwork {
    let model: ResNetModel
    let graph: ResNetGraph
    let input: Tensor
    var labels: [Int32] = [0, 1, 2, 1]
    let probabilities = Tensor(shape: [4, 3])

    init(architecture: ResNetArchitecture, weightSeed: UInt64, inputSeed: UInt64) {
        model = ResNetModel(architecture: architecture, inputChannels: 2, classes: 3, seed: weightSeed)
        graph = ResNetGraph(model: model, batch: 4, height: 8, width: 8, withGradients: true)
        input = Tensor(shape: [2, 4, 8, 8], values: GradientCheck.random(512, seed: inputSeed))
    }

    func loss() -> Double {
        let logits = graph.forward(input: input.data, training: true)
        return CrossEntropyLoss.forward(
            probabilities: probabilities.data, logits: logits, labels: &labels, smoothing: 0.1,
            batch: 4, classes: 3
        )
    }

    func analyticGradients() -> [Float] {
        model.parameters.zeroGradients()
        _ = loss()
        let logitGradient = Tensor(shape: [4, 3])
        CrossEntropyLoss.backward(
            logitGradient: logitGradient.data, probabilities: probabilities.data, labels: &labels,
            smoothing: 0.1, scale: 1, batch: 4, classes: 3
        )
        graph.backward(logitGradient: logitGradient.data)
        return Array(UnsafeBufferPointer(start: model.parameters.gradients, count: model.parameters.count))
    }

    /// Compares the analytic gradient of parameter tensor `name` with central differences of
    /// step `eps` at up to 24 evenly spread elements, and returns the relative error.
    func relativeGradientError(parameter name: String, eps: Float) throws -> Double {
        let gradients = analyticGradients()
        let entry = try #require(model.parameters.entry(named: name))
        let stride = max(1, entry.count / 24)
        let indices = Array(Swift.stride(from: 0, to: entry.count, by: stride).prefix(24))
        var analytic: [Float] = []
        var numeric: [Double] = []
        for index in indices {
            let position = entry.offset + index
            analytic.append(gradients[position])
            numeric += GradientCheck.numeric(
                model.parameters.values + position, count: 1, eps: eps, loss: loss
            )
        }
        return GradientCheck.relativeError(analytic, numeric)
    }
}
