// Shapes: stage outputs [C_s, B, H_s, W_s] for stages 1..3; pooled feature [C, B].

/// Gradients of a loss with respect to intermediate features, added during
/// `ResNetGraph.backward`. Each pointer has the shape of the feature it belongs to.
public struct FeatureGradients {
    /// Gradient of the pooled feature `[C, B]`.
    public var pooled: UnsafePointer<Float>?
    /// Gradients of stage outputs by 1-based stage number.
    public var stages: [Int: UnsafePointer<Float>] = [:]

    public init(pooled: UnsafePointer<Float>? = nil, stages: [Int: UnsafePointer<Float>] = [:]) {
        self.pooled = pooled
        self.stages = stages
    }
}

extension ResNetGraph {
    /// Number of feature stages: the three ResNet stages, or the three MobileNetV2 groups that
    /// `MobileNetV2Settings.stageRows` names.
    public var stageCount: Int { model.stageEndBlocks.count }

    /// Returns the output of a 1-based stage, `[C_s, B, H_s, W_s]`, from the last `forward`.
    public func stageOutput(_ stage: Int) -> Tensor {
        blocks[lastBlockIndex(ofStage: stage)].output
    }

    /// The pooled feature `[C, B]` from the last `forward`.
    public var pooledFeature: Tensor { pooled }

    private func lastBlockIndex(ofStage stage: Int) -> Int {
        precondition((1...stageCount).contains(stage), "stage \(stage) out of 1...\(stageCount)")
        return model.stageEndBlocks[stage - 1]
    }

    /// Adds the gradient of a stage output into the output gradient of the block at `index`
    /// when that block ends the stage. The block's own backward then carries it further.
    func addStageGradient(_ gradients: FeatureGradients, intoOutputOf index: Int) {
        guard !gradients.stages.isEmpty, let target = blocks[index].outputGradient else { return }
        guard let position = model.stageEndBlocks.firstIndex(of: index) else { return }
        guard let extra = gradients.stages[position + 1] else { return }
        for i in 0..<target.count { target.data[i] += extra[i] }
    }
}
