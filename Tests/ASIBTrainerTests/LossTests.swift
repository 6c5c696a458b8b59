import Foundation
import Testing
@testable import ASIBTrainer

// Shapes: logits, probabilities and gradients [B, K]; labels [B].

@Test func crossEntropyMatchesClosedForm() {
    // softmax(0, ln 3) = (1/4, 3/4); label 1 with smoothing 0.2 over K = 2 gives the target
    // (0.1, 0.9), so CE = -(0.1 ln 1/4 + 0.9 ln 3/4) and dCE = p - target = (0.15, -0.15).
    let logits = Tensor(shape: [1, 2], values: [0, Float(log(3.0))])
    var labels: [Int32] = [1]
    let probabilities = Tensor(shape: [1, 2])
    let gradient = Tensor(shape: [1, 2])
    let loss = CrossEntropyLoss.forward(
        probabilities: probabilities.data, logits: logits.data, labels: &labels,
        smoothing: 0.2, batch: 1, classes: 2
    )
    CrossEntropyLoss.backward(
        logitGradient: gradient.data, probabilities: probabilities.data, labels: &labels,
        smoothing: 0.2, scale: 1, batch: 1, classes: 2
    )
    #expect(abs(loss - (0.1 * log(4.0) + 0.9 * log(4.0 / 3))) < 1e-6)
    #expect(abs(gradient.values[0] - 0.15) < 1e-6)
    #expect(abs(gradient.values[1] + 0.15) < 1e-6)
}

@Test func crossEntropyGradientMatchesFiniteDifferences() {
    let (batch, classes) = (3, 5)
    let logits = Tensor(shape: [batch, classes], values: GradientCheck.random(15, seed: 20))
    var labels: [Int32] = [0, 3, 4]
    let probabilities = Tensor(shape: [batch, classes])
    func loss() -> Double {
        CrossEntropyLoss.forward(
            probabilities: probabilities.data, logits: logits.data, labels: &labels,
            smoothing: 0.1, batch: batch, classes: classes
        )
    }
    _ = loss()
    let gradient = Tensor(shape: [batch, classes])
    CrossEntropyLoss.backward(
        logitGradient: gradient.data, probabilities: probabilities.data, labels: &labels,
        smoothing: 0.1, scale: 1, batch: batch, classes: classes
    )
    let numeric = GradientCheck.numeric(logits.data, count: 15, eps: 1e-3, loss: loss)
    #expect(GradientCheck.relativeError(gradient.values, numeric) < GradientCheck.tolerance)
}

@Test func kdLossMatchesClosedForm() {
    // T = 2: teacher logits (0, 2 ln 3) soften to (1/4, 3/4), student (0, 0) to (1/2, 1/2).
    // KD = T^2 (1/4 ln(1/2) + 3/4 ln(3/2)); dKD/ds = T (p_s - p_t) = (0.5, -0.5).
    let student = Tensor(shape: [1, 2], values: [0, 0])
    let teacher = Tensor(shape: [1, 2], values: [0, Float(2 * log(3.0))])
    let studentProbabilities = Tensor(shape: [1, 2])
    let teacherProbabilities = Tensor(shape: [1, 2])
    let gradient = Tensor(shape: [1, 2])
    let loss = KDLoss.forward(
        studentProbabilities: studentProbabilities.data,
        teacherProbabilities: teacherProbabilities.data, studentLogits: student.data,
        teacherLogits: teacher.data, temperature: 2, batch: 1, classes: 2
    )
    KDLoss.backward(
        studentLogitGradient: gradient.data, studentProbabilities: studentProbabilities.data,
        teacherProbabilities: teacherProbabilities.data, temperature: 2, scale: 1, batch: 1,
        classes: 2
    )
    #expect(abs(loss - 4 * (0.25 * log(0.5) + 0.75 * log(1.5))) < 1e-6)
    #expect(abs(gradient.values[0] - 0.5) < 1e-6)
    #expect(abs(gradient.values[1] + 0.5) < 1e-6)
}

@Test func kdLossIsZeroForIdenticalLogits() {
    let logits = Tensor(shape: [2, 3], values: [1, -2, 0.5, 3, 0, -1])
    let studentProbabilities = Tensor(shape: [2, 3])
    let teacherProbabilities = Tensor(shape: [2, 3])
    let loss = KDLoss.forward(
        studentProbabilities: studentProbabilities.data,
        teacherProbabilities: teacherProbabilities.data, studentLogits: logits.data,
        teacherLogits: logits.data, temperature: 4, batch: 2, classes: 3
    )
    #expect(abs(loss) < 1e-12)
}

@Test func kdLossGradientMatchesFiniteDifferences() {
    let (batch, classes) = (3, 4)
    let student = Tensor(shape: [batch, classes], values: GradientCheck.random(12, seed: 21, scale: 2))
    let teacher = Tensor(shape: [batch, classes], values: GradientCheck.random(12, seed: 22, scale: 2))
    let studentProbabilities = Tensor(shape: [batch, classes])
    let teacherProbabilities = Tensor(shape: [batch, classes])
    func loss() -> Double {
        KDLoss.forward(
            studentProbabilities: studentProbabilities.data,
            teacherProbabilities: teacherProbabilities.data, studentLogits: student.data,
            teacherLogits: teacher.data, temperature: 3, batch: batch, classes: classes
        )
    }
    _ = loss()
    let gradient = Tensor(shape: [batch, classes])
    KDLoss.backward(
        studentLogitGradient: gradient.data, studentProbabilities: studentProbabilities.data,
        teacherProbabilities: teacherProbabilities.data, temperature: 3, scale: 1,
        batch: batch, classes: classes
    )
    let numeric = GradientCheck.numeric(student.data, count: 12, eps: 1e-3, loss: loss)
    #expect(GradientCheck.relativeError(gradient.values, numeric) < GradientCheck.tolerance)
}

@Test func kdWeightRampsOverWarmupEpochs() {
    var options = TrainingOptions()
    options.kdAlpha = 0.3
    options.kdWarmupEpochs = 10
    #expect(abs(options.kdWeight(epoch: 1) - 0.03) < 1e-12)
    #expect(abs(options.kdWeight(epoch: 10) - 0.3) < 1e-12)
    #expect(abs(options.kdWeight(epoch: 25) - 0.3) < 1e-12)
}
