import Testing
@testable import ASIBTrainer

// Feature gradients injected into ResNetGraph.backward: attention transfer on every stage and
// a FitNet hint on the pooled feature of a tiny resnet8, checked by finite differences on
// the student parameters. Tolerance 3e-2 with eps 1e-3, as for the CE network check, because
// batch norm over 4 images and ReLU kinks make the loss strongly curved.

private final class FeatureNetwork {
    let model: ResNetModel
    let graph: ResNetGraph
    let teacherModel: ResNetModel
    let teacher: ResNetGraph
    let input: Tensor
    let regressorWeight: Tensor
    let regressorBias: Tensor
    let hintDifference: Tensor
    let attentionStates: [(Tensor, Tensor, Tensor)]
    let useHint: Bool

    init(useHint: Bool) throws {
        self.useHint = useHint
        model = ResNetModel(
            architecture: try ResNetArchitecture.named("resnet8", key: "test"), inputChannels: 2,
            classes: 3, seed: 7
        )
        let graph = ResNetGraph(model: model, batch: 4, height: 8, width: 8, withGradients: true)
        self.graph = graph
        teacherModel = ResNetModel(
            architecture: try ResNetArchitecture.named("resnet8x4", key: "test"), inputChannels: 2,
            classes: 3, seed: 9, withGradients: false
        )
        teacher = ResNetGraph(model: teacherModel, batch: 4, height: 8, width: 8, withGradients: false)
        input = Tensor(shape: [2, 4, 8, 8], values: GradientCheck.random(512, seed: 8))
        teacher.forward(input: input.data, training: false)
        regressorWeight = Tensor(shape: [256, 64], values: GradientCheck.random(256 * 64, seed: 10, scale: 0.1))
        regressorBias = Tensor(shape: [256])
        hintDifference = Tensor(shape: [256, 4])
        attentionStates = (1...3).map { stage in
            let spatial = graph.stageOutput(stage).count / (graph.stageOutput(stage).shape[0] * 4)
            return (Tensor(shape: [4, spatial]), Tensor(shape: [4, spatial]), Tensor(shape: [4]))
        }
    }

    private func spatial(_ stage: Int) -> Int { attentionStates[stage - 1].0.count / 4 }

    func loss() -> Double {
        graph.forward(input: input.data, training: true)
        if useHint {
            return FitNetHintLoss.forward(
                difference: hintDifference.data, studentFeature: graph.pooledFeature.data,
                teacherFeature: teacher.pooledFeature.data, weight: regressorWeight.data,
                bias: regressorBias.data, studentChannels: 64, teacherChannels: 256, columns: 4
            )
        }
        var total = 0.0
        for stage in 1...3 {
            let (studentAttention, teacherAttention, norms) = attentionStates[stage - 1]
            total += 100 * AttentionTransferLoss.forward(
                studentAttention: studentAttention.data, teacherAttention: teacherAttention.data,
                studentNorms: norms.data, studentFeature: graph.stageOutput(stage).data,
                teacherFeature: teacher.stageOutput(stage).data,
                studentChannels: graph.stageOutput(stage).shape[0],
                teacherChannels: teacher.stageOutput(stage).shape[0], batch: 4,
                spatial: spatial(stage)
            )
        }
        return total
    }

    func analyticGradients() -> [Float] {
        model.parameters.zeroGradients()
        _ = loss()
        var gradients = FeatureGradients()
        var buffers: [Tensor] = []
        if useHint {
            let pooled = Tensor(shape: [64, 4])
            let weightGradient = Tensor(shape: [256, 64])
            let biasGradient = Tensor(shape: [256])
            FitNetHintLoss.backward(
                studentFeatureGradient: pooled.data, weightGradient: weightGradient.data,
                biasGradient: biasGradient.data, difference: hintDifference.data,
                studentFeature: graph.pooledFeature.data, weight: regressorWeight.data, scale: 1,
                studentChannels: 64, teacherChannels: 256, columns: 4
            )
            buffers.append(pooled)
            gradients.pooled = UnsafePointer(pooled.data)
        } else {
            for stage in 1...3 {
                let (studentAttention, teacherAttention, norms) = attentionStates[stage - 1]
                let output = graph.stageOutput(stage)
                let gradient = Tensor(shape: output.shape)
                AttentionTransferLoss.backward(
                    studentFeatureGradient: gradient.data,
                    studentAttention: studentAttention.data,
                    teacherAttention: teacherAttention.data, studentNorms: norms.data,
                    studentFeature: output.data, scale: 100, studentChannels: output.shape[0],
                    batch: 4, spatial: spatial(stage)
                )
                buffers.append(gradient)
                gradients.stages[stage] = UnsafePointer(gradient.data)
            }
        }
        let noLogitGradient = Tensor(shape: [4, 3])
        graph.backward(logitGradient: noLogitGradient.data, featureGradients: gradients)
        return withExtendedLifetime(buffers) {
            Array(UnsafeBufferPointer(start: model.parameters.gradients, count: model.parameters.count))
        }
    }
}

@Test(arguments: [
    (false, "conv1.weight"), (false, "layer1.0.conv2.weight"), (false, "layer2.0.bn1.weight"),
    (false, "layer3.0.conv1.weight"), (true, "conv1.weight"), (true, "layer3.0.conv2.weight"),
    (true, "layer3.0.bn2.bias"),
])
func featureGradientsReachParameters(_ useHint: Bool, _ name: String) throws {
    let network = try FeatureNetwork(useHint: useHint)
    let gradients = network.analyticGradients()
    let entry = try #require(network.model.parameters.entry(named: name))
    let stride = max(1, entry.count / 16)
    let indices = Array(Swift.stride(from: 0, to: entry.count, by: stride).prefix(16))
    var analytic: [Float] = []
    var numeric: [Double] = []
    for index in indices {
        let position = entry.offset + index
        analytic.append(gradients[position])
        numeric += GradientCheck.numeric(
            network.model.parameters.values + position, count: 1, eps: 1e-3, loss: network.loss
        )
    }
    #expect(analytic.contains { $0 != 0 })
    #expect(GradientCheck.relativeError(analytic, numeric) < 3e-2)
}
