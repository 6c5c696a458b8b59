// Shapes: input [C, B, H, W]; each teacher's logits and the KD target [B, K].

/// The teacher networks of a KD run, evaluated with running BN statistics, and the rule that
/// turns their logits into the KD target.
final class TeacherEnsemble {
    let models: [ResNetModel]
    let target: KDTarget
    let teacherIndex: Int
    /// Normalised averaging weights, one per teacher.
    let weights: [Float]
    private var graphs: [Int: [ResNetGraph]] = [:]
    private let height: Int
    private let width: Int

    init(
        models: [ResNetModel], target: KDTarget, teacherIndex: Int, weights: [Double]?,
        height: Int, width: Int
    ) {
        self.models = models
        self.target = target
        self.teacherIndex = min(max(teacherIndex, 0), models.count - 1)
        self.height = height
        self.width = width
        var raw = weights ?? [Double](repeating: 1, count: models.count)
        // A shorter weight list repeats its last value; a longer one is cut.
        while raw.count < models.count { raw.append(raw.last ?? 1) }
        raw = Array(raw.prefix(models.count))
        let total = raw.reduce(0, +)
        self.weights = raw.map { Float($0 / (total + 1e-8)) }
    }

    /// Writes the KD target for `input` into `output`: the selected teacher's logits for
    /// `teacher`, `sum_k w_k * logits_k` for `avg`.
    func computeTarget(
        output: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, batch: Int
    ) {
        let classes = models[0].classes
        let count = batch * classes
        let active = graphs(batch: batch)
        if target == .teacher {
            let logits = active[teacherIndex].forward(input: input, training: false)
            output.update(from: logits, count: count)
            return
        }
        output.update(repeating: 0, count: count)
        for (index, graph) in active.enumerated() {
            let logits = graph.forward(input: input, training: false)
            let weight = weights[index]
            for i in 0..<count { output[i] += weight * logits[i] }
        }
    }

    /// The graph of the selected teacher (`teacherIndex`), whose features feature
    /// distillation reads after `computeTarget` ran on the same batch.
    func featureGraph(batch: Int) -> ResNetGraph {
        graphs(batch: batch)[teacherIndex]
    }

    /// The graphs of every teacher; after `computeTarget` with an average they hold that
    /// batch's logits and features, otherwise call `forwardAll` first.
    func allGraphs(batch: Int) -> [ResNetGraph] {
        graphs(batch: batch)
    }

    /// Runs every teacher on `input`.
    func forwardAll(input: UnsafePointer<Float>, batch: Int) {
        for graph in graphs(batch: batch) { graph.forward(input: input, training: false) }
    }

    private func graphs(batch: Int) -> [ResNetGraph] {
        if let cached = graphs[batch] { return cached }
        let built = models.map {
            ResNetGraph(model: $0, batch: batch, height: height, width: width, withGradients: false)
        }
        graphs[batch] = built
        return built
    }
}
