import Foundation

// Shapes: input [C, B, H, W]; each teacher's logits and the KD target [B, K].

/// The teacher networks of a KD run, evaluated with running BN statistics, and the rule that
/// turns their logits into the KD target.
final class TeacherEnsemble {
    let models: [ResNetModel]
    let target: KDTarget
    let teacherIndex: Int
    /// Normalised averaging weights, one per teacher.
    let weights: [Float]
    /// The averaging weights as configured, padded or cut to one per teacher.
    let rawWeights: [Double]
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
        rawWeights = raw
        let total = raw.reduce(0, +)
        self.weights = raw.map { Float($0 / (total + 1e-8)) }
    }

    /// Writes the KD target for `input` into `output`: the selected teacher's logits for
    /// `teacher`, `sum_k w_k * logits_k` for `avg` and the synergy targets (with `weights`
    /// when given, else the configured weights), and the confidence-weighted combination at
    /// `gateTemperature` for `weightedConf`.
    func computeTarget(
        output: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, batch: Int,
        weights epochWeights: [Float]? = nil, gateTemperature: Double = 1
    ) {
        let classes = models[0].classes
        let count = batch * classes
        let active = graphs(batch: batch)
        if target == .teacher {
            let logits = active[teacherIndex].forward(input: input, training: false)
            output.update(from: logits, count: count)
            return
        }
        let logits = active.map { UnsafePointer($0.forward(input: input, training: false)) }
        if target == .weightedConf {
            Self.confidenceCombination(
                output: output, logits: logits, temperature: gateTemperature, batch: batch,
                classes: classes
            )
            return
        }
        let weights = epochWeights ?? self.weights
        output.update(repeating: 0, count: count)
        for (index, teacherLogits) in logits.enumerated() {
            let weight = weights[index]
            for i in 0..<count { output[i] += weight * teacherLogits[i] }
        }
    }

    /// Returns the logits of the teachers that the KD target reads (the selected teacher for
    /// `teacher`, every teacher otherwise), as left by `computeTarget` on the last batch.
    func targetLogits(batch: Int) -> [UnsafePointer<Float>] {
        let active = graphs(batch: batch)
        let used = target == .teacher ? [active[teacherIndex]] : active
        return used.map { UnsafePointer($0.logits.data) }
    }

    /// Writes the per-sample confidence-weighted combination `sum_k c_k t_k / sum_k c_k` of
    /// the logits `t_k`, where `c_k = max_c softmax(t_k / temperature)_c` for that sample.
    static func confidenceCombination(
        output: UnsafeMutablePointer<Float>, logits: [UnsafePointer<Float>], temperature: Double,
        batch: Int, classes: Int
    ) {
        for b in 0..<batch {
            let row = b * classes
            let confidences = logits.map {
                Foundation.exp(Softmax.logSoftmax($0 + row, classes, temperature).max() ?? 0)
            }
            let total = max(confidences.reduce(0, +), 1e-8)
            for k in 0..<classes { output[row + k] = 0 }
            for (teacher, teacherLogits) in logits.enumerated() {
                let share = Float(confidences[teacher] / total)
                for k in 0..<classes { output[row + k] += share * teacherLogits[row + k] }
            }
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

    /// Returns the fraction of rows on which the first two teachers' top-1 classes differ,
    /// from the logits of their last forward; 1 with fewer than two teachers.
    func topOneDisagreement(batch: Int) -> Double {
        let active = graphs(batch: batch)
        guard active.count >= 2 else { return 1 }
        let classes = models[0].classes
        let first = active[0].logits.data
        let second = active[1].logits.data
        var differing = 0
        for b in 0..<batch {
            var top = (0, 0)
            for k in 1..<classes {
                if first[b * classes + k] > first[b * classes + top.0] { top.0 = k }
                if second[b * classes + k] > second[b * classes + top.1] { top.1 = k }
            }
            if top.0 != top.1 { differing += 1 }
        }
        return Double(differing) / Double(max(batch, 1))
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
