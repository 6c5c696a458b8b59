import Foundation
import Testing
@testable import ASIBTrainer

// Shapes: student and teacher logits, probabilities and gradients [B, K]; partners [B].

/// Returns `max softmax(row / temperature)` in Double.
private func confidence(_ row: ArraySlice<Float>, _ temperature: Double) -> Double {
    let scaled = row.map { Double($0) / temperature }
    let maximum = scaled.max()!
    let total = scaled.reduce(0) { $0 + exp($1 - maximum) }
    return 1 / total
}

private func softmax(_ row: [Double], _ temperature: Double) -> [Double] {
    let scaled = row.map { $0 / temperature }
    let maximum = scaled.max()!
    let exps = scaled.map { exp($0 - maximum) }
    let total = exps.reduce(0, +)
    return exps.map { $0 / total }
}

@Test func weightedConfMatchesHandComputation() {
    // Teacher 1 (0, ln 3) has max softmax 3/4 at tau_gate 1; teacher 2 (ln 9, 0) has 9/10.
    // Weights 0.75 / 1.65 and 0.9 / 1.65, so the target is their mix of the two rows.
    let first: [Float] = [0, Float(log(3.0))]
    let second: [Float] = [Float(log(9.0)), 0]
    var output: [Float] = [0, 0]
    first.withUnsafeBufferPointer { a in
        second.withUnsafeBufferPointer { b in
            TeacherEnsemble.confidenceCombination(
                output: &output, logits: [a.baseAddress!, b.baseAddress!], temperature: 1,
                batch: 1, classes: 2
            )
        }
    }
    let w1 = 0.75 / 1.65
    let w2 = 0.9 / 1.65
    #expect(abs(Double(output[0]) - w2 * log(9.0)) < 1e-6)
    #expect(abs(Double(output[1]) - w1 * log(3.0)) < 1e-6)

    // At tau_gate 2, teacher 1 softens to (1, sqrt 3) / (1 + sqrt 3) and teacher 2 to
    // (3, 1) / 4.
    first.withUnsafeBufferPointer { a in
        second.withUnsafeBufferPointer { b in
            TeacherEnsemble.confidenceCombination(
                output: &output, logits: [a.baseAddress!, b.baseAddress!], temperature: 2,
                batch: 1, classes: 2
            )
        }
    }
    let c1 = 3.0.squareRoot() / (1 + 3.0.squareRoot())
    let c2 = 0.75
    #expect(abs(Double(output[0]) - c2 / (c1 + c2) * log(9.0)) < 1e-6)
    #expect(abs(Double(output[1]) - c1 / (c1 + c2) * log(3.0)) < 1e-6)
}

/// Two teachers' logits, the partner permutation and lambda of a four-sample batch.
private struct TwoViewCase {
    let batch = 4
    let classes = 5
    let temperature = 3.0
    let gateTemperature = 2.0
    let lambda = 0.35
    let partner = [2, 0, 3, 1]
    let first = GradientCheck.random(20, seed: 41, scale: 2)
    let second = GradientCheck.random(20, seed: 42, scale: 2)

    /// Returns the two-view distribution q, computed directly from its definition.
    func handTarget() -> [[Double]] {
        func combined(_ b: Int) -> [Double] {
            let row = b * classes..<(b + 1) * classes
            let c1 = confidence(first[row], gateTemperature)
            let c2 = confidence(second[row], gateTemperature)
            return (0..<classes).map {
                (c1 * Double(first[b * classes + $0]) + c2 * Double(second[b * classes + $0]))
                    / (c1 + c2)
            }
        }
        return (0..<batch).map { b in
            let own = softmax(combined(b), temperature)
            let other = softmax(combined(partner[b]), temperature)
            return (0..<classes).map { lambda * own[$0] + (1 - lambda) * other[$0] }
        }
    }

    /// Returns `sum_b T^2 * sum_c q (log q - log softmax(s_b / T))` in Double.
    func handLoss(_ student: UnsafePointer<Float>, _ q: [[Double]]) -> Double {
        var total = 0.0
        for b in 0..<batch {
            let row = (0..<classes).map { Double(student[b * classes + $0]) }
            let p = softmax(row, temperature)
            for c in 0..<classes { total += q[b][c] * (log(q[b][c]) - log(p[c])) }
        }
        return temperature * temperature * total
    }

    func targetLogits() -> [Float] {
        var output = [Float](repeating: 0, count: batch * classes)
        first.withUnsafeBufferPointer { a in
            second.withUnsafeBufferPointer { b in
                TwoViewTarget.targetLogits(
                    output: &output, teacherLogits: [a.baseAddress!, b.baseAddress!],
                    partner: partner, lambda: lambda, temperature: temperature,
                    gateTemperature: gateTemperature, batch: batch, classes: classes
                )
            }
        }
        return output
    }
}

@Test func twoViewLossMatchesDefinition() {
    let setup = TwoViewCase()
    let q = setup.handTarget()
    let target = setup.targetLogits()
    let student = Tensor(shape: [4, 5], values: GradientCheck.random(20, seed: 43))
    var losses = [Double](repeating: 0, count: 4)
    let probabilities = Tensor(shape: [4, 5])
    let targetProbabilities = Tensor(shape: [4, 5])
    SampleLosses.distillation(
        losses: &losses, probabilities: probabilities.data,
        targetProbabilities: targetProbabilities.data, logits: student.data,
        targetLogits: target, temperature: setup.temperature, batch: 4, classes: 5
    )
    for b in 0..<4 {
        for c in 0..<5 {
            #expect(abs(Double(targetProbabilities.values[b * 5 + c]) - q[b][c]) < 1e-6)
        }
    }
    let expected = setup.handLoss(student.data, q)
    #expect(abs(losses.reduce(0, +) - expected) < 1e-4 * max(1, abs(expected)))
}

@Test func twoViewGradientMatchesFiniteDifferences() {
    let setup = TwoViewCase()
    let q = setup.handTarget()
    let target = setup.targetLogits()
    let student = Tensor(shape: [4, 5], values: GradientCheck.random(20, seed: 44))
    var losses = [Double](repeating: 0, count: 4)
    let probabilities = Tensor(shape: [4, 5])
    let targetProbabilities = Tensor(shape: [4, 5])
    SampleLosses.distillation(
        losses: &losses, probabilities: probabilities.data,
        targetProbabilities: targetProbabilities.data, logits: student.data,
        targetLogits: target, temperature: setup.temperature, batch: 4, classes: 5
    )
    let gradient = Tensor(shape: [4, 5])
    let weights = [Double](repeating: 1, count: 4)
    SampleLosses.distillationBackward(
        logitGradient: gradient.data, probabilities: probabilities.data,
        targetProbabilities: targetProbabilities.data, weights: weights,
        temperature: setup.temperature, batch: 4, classes: 5
    )
    let numeric = GradientCheck.numeric(student.data, count: 20, eps: 1e-2) {
        setup.handLoss(student.data, q)
    }
    #expect(GradientCheck.relativeError(gradient.values, numeric) < GradientCheck.tolerance)
}

@Test func twoViewWithoutMixingIsTheCombination() {
    // lambda 1 leaves only the sample's own combined teacher distribution.
    let logits: [Float] = [1, -2, 0.5, 0, 2, 1]
    var output = [Float](repeating: 0, count: 6)
    var combined = [Float](repeating: 0, count: 6)
    logits.withUnsafeBufferPointer { a in
        TwoViewTarget.targetLogits(
            output: &output, teacherLogits: [a.baseAddress!], partner: [1, 0], lambda: 1,
            temperature: 4, gateTemperature: 2, batch: 2, classes: 3
        )
        TeacherEnsemble.confidenceCombination(
            output: &combined, logits: [a.baseAddress!], temperature: 2, batch: 2, classes: 3
        )
    }
    for b in 0..<2 {
        let expected = softmax((0..<3).map { Double(combined[b * 3 + $0]) }, 4)
        let actual = softmax((0..<3).map { Double(output[b * 3 + $0]) }, 4)
        for c in 0..<3 { #expect(abs(actual[c] - expected[c]) < 1e-6) }
    }
}

@Test func secondTeacherWeightDecays() {
    var options = StudentStepOptions()
    options.teacher2DecayStartEpoch = 120
    options.teacher2DecayLength = 80
    let raw = [0.7, 0.3]
    let before = options.averagingWeights(raw, epoch: 100)
    #expect(abs(Double(before[0]) - 0.7) < 1e-6)
    #expect(abs(Double(before[1]) - 0.3) < 1e-6)
    // Half-way: w2 = 0.15, renormalised over 0.85.
    let halfway = options.averagingWeights(raw, epoch: 160)
    #expect(abs(Double(halfway[0]) - 0.7 / 0.85) < 1e-6)
    #expect(abs(Double(halfway[1]) - 0.15 / 0.85) < 1e-6)
    let after = options.averagingWeights(raw, epoch: 240)
    #expect(abs(Double(after[0]) - 1) < 1e-6)
    #expect(after[1] == 0)
    // A length of 0 turns the decay off.
    options.teacher2DecayLength = 0
    #expect(options.averagingWeights(raw, epoch: 240) == before)
}
