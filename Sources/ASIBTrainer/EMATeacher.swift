// Shapes: input [C, B, H, W]; logits [B, K].

/// An exponential moving average of the student, used as an extra KD teacher:
/// after every `ema_update_every`-th optimiser step, `theta_ema = d * theta_ema + (1 - d) *
/// theta` for the parameters and the batch-norm running statistics.
final class EMATeacher {
    let model: ResNetModel
    let decay: Float
    let updateEvery: Int
    /// Optimiser steps seen since the last reset; resume checkpoints store it.
    var steps = 0
    private var graphs: [Int: ResNetGraph] = [:]
    private let height: Int
    private let width: Int

    init(student: ResNetModel, options: ASIBOptions, height: Int, width: Int) {
        model = ResNetModel(
            architecture: student.architecture, inputChannels: student.inputChannels,
            classes: student.classes, seed: 0, withGradients: false
        )
        model.parameters.values.update(
            from: student.parameters.values, count: student.parameters.count
        )
        model.statistics.values.update(
            from: student.statistics.values, count: student.statistics.count
        )
        decay = Float(options.emaDecay)
        updateEvery = options.emaUpdateEvery
        self.height = height
        self.width = width
    }

    /// Copies the student again and restarts the step count, as the original does at the
    /// start of every B-Step.
    func reset(from student: ResNetModel) {
        model.parameters.values.update(
            from: student.parameters.values, count: student.parameters.count
        )
        model.statistics.values.update(
            from: student.statistics.values, count: student.statistics.count
        )
        steps = 0
    }

    func update(from student: ResNetModel) {
        steps += 1
        guard steps % updateEvery == 0 else { return }
        for (target, source, count) in [
            (model.parameters.values, student.parameters.values, student.parameters.count),
            (model.statistics.values, student.statistics.values, student.statistics.count),
        ] {
            for i in 0..<count { target[i] = decay * target[i] + (1 - decay) * source[i] }
        }
    }

    /// Returns the EMA model's logits `[B, K]` in evaluation mode.
    func logits(input: UnsafePointer<Float>, batch: Int) -> UnsafeMutablePointer<Float> {
        let graph = graphs[batch] ?? ResNetGraph(
            model: model, batch: batch, height: height, width: width, withGradients: false
        )
        graphs[batch] = graph
        return graph.forward(input: input, training: false)
    }
}
