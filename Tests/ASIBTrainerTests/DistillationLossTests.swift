import Foundation
import Testing
@testable import ASIBTrainer

// DKD, FitNet hint and attention transfer: closed forms and finite-difference gradients.
// Shapes: logits [B, K]; features [C, B, H, W]; attention maps [B, H * W].

/// Runs DKD forward on fresh buffers and returns the parts and the saved probabilities.
private func dkdForward(
    student: Tensor, teacher: Tensor, labels: [Int32], temperature: Double
) -> (DKDLoss.Parts, Tensor, Tensor) {
    let studentProbabilities = Tensor(shape: student.shape)
    let teacherProbabilities = Tensor(shape: student.shape)
    let parts = labels.withUnsafeBufferPointer {
        DKDLoss.forward(
            studentProbabilities: studentProbabilities.data,
            teacherProbabilities: teacherProbabilities.data, studentLogits: student.data,
            teacherLogits: teacher.data, labels: $0.baseAddress!, temperature: temperature,
            batch: student.shape[0], classes: student.shape[1]
        )
    }
    return (parts, studentProbabilities, teacherProbabilities)
}

@Test func dkdPartsMatchClosedForm() {
    // K = 3, T = 1, label 0. Student logits (0, 0, 0): p = (1/3, 1/3, 1/3).
    // Teacher logits (ln 2, 0, ln 3): q = (2/6, 1/6, 3/6).
    // TCKD = 1/3 ln(1) + 2/3 ln(1) = 0 because q_g = p_g = 1/3.
    // NCKD over classes 1, 2: q~ = (1/4, 3/4), p~ = (1/2, 1/2).
    let student = Tensor(shape: [1, 3], values: [0, 0, 0])
    let teacher = Tensor(shape: [1, 3], values: [Float(log(2.0)), 0, Float(log(3.0))])
    let (parts, _, _) = dkdForward(student: student, teacher: teacher, labels: [0], temperature: 1)
    let nckd = 0.25 * log(0.25 / 0.5) + 0.75 * log(0.75 / 0.5)
    #expect(abs(parts.target) < 1e-7)
    #expect(abs(parts.nonTarget - nckd) < 1e-7)
}

@Test func dkdTargetPartIsBinaryKL() {
    // K = 2, T = 2: the non-target part has one class, so NCKD = 0, and TCKD is the full KD.
    let student = Tensor(shape: [1, 2], values: [1, -1])
    let teacher = Tensor(shape: [1, 2], values: [3, 0])
    let (parts, p, q) = dkdForward(student: student, teacher: teacher, labels: [0], temperature: 2)
    let (pg, qg) = (Double(p.values[0]), Double(q.values[0]))
    let binary = qg * log(qg / pg) + (1 - qg) * log((1 - qg) / (1 - pg))
    #expect(abs(parts.nonTarget) < 1e-7)
    #expect(abs(parts.target - 4 * binary) < 1e-6)
}

@Test func dkdIsZeroForIdenticalLogits() {
    let logits = Tensor(shape: [2, 4], values: [1, -2, 0.5, 3, 0, -1, 2, 0.25])
    let (parts, _, _) = dkdForward(student: logits, teacher: logits, labels: [3, 1], temperature: 4)
    #expect(abs(parts.target) < 1e-12)
    #expect(abs(parts.nonTarget) < 1e-12)
}

@Test(arguments: [(1.0, 8.0, 4.0), (1.0, 2.0, 1.0), (0.5, 0.0, 3.0), (0.0, 1.0, 2.0)])
func dkdGradientMatchesFiniteDifferences(_ alpha: Double, _ beta: Double, _ temperature: Double) {
    let (batch, classes) = (3, 5)
    let student = Tensor(shape: [batch, classes], values: GradientCheck.random(15, seed: 31, scale: 2))
    let teacher = Tensor(shape: [batch, classes], values: GradientCheck.random(15, seed: 32, scale: 2))
    let labels: [Int32] = [0, 4, 2]
    func loss() -> Double {
        let (parts, _, _) = dkdForward(
            student: student, teacher: teacher, labels: labels, temperature: temperature
        )
        return DKDLoss.combine(parts, alpha: alpha, beta: beta)
    }
    let (_, p, q) = dkdForward(student: student, teacher: teacher, labels: labels, temperature: temperature)
    let gradient = Tensor(shape: [batch, classes])
    labels.withUnsafeBufferPointer {
        DKDLoss.backward(
            studentLogitGradient: gradient.data, studentProbabilities: p.data,
            teacherProbabilities: q.data, labels: $0.baseAddress!, alpha: alpha, beta: beta,
            temperature: temperature, scale: 1, batch: batch, classes: classes
        )
    }
    let numeric = GradientCheck.numeric(student.data, count: 15, eps: 1e-3, loss: loss)
    #expect(GradientCheck.relativeError(gradient.values, numeric) < GradientCheck.tolerance)
}

@Test func dkdDiffersFromKD() {
    // With alpha = beta = 1 DKD is not KD: KD = TCKD + (1 - q_g) NCKD (the DKD identity).
    let student = Tensor(shape: [1, 4], values: [0.5, 1, -1, 2])
    let teacher = Tensor(shape: [1, 4], values: [3, 0, 1, -1])
    let (parts, _, q) = dkdForward(student: student, teacher: teacher, labels: [0], temperature: 1)
    let sp = Tensor(shape: [1, 4])
    let tp = Tensor(shape: [1, 4])
    let kd = KDLoss.forward(
        studentProbabilities: sp.data, teacherProbabilities: tp.data, studentLogits: student.data,
        teacherLogits: teacher.data, temperature: 1, batch: 1, classes: 4
    )
    let qg = Double(q.values[0])
    #expect(abs(kd - (parts.target + (1 - qg) * parts.nonTarget)) < 1e-6)
    #expect(abs(kd - (parts.target + parts.nonTarget)) > 1e-3)
}

@Test func hintGradientsMatchFiniteDifferences() {
    // Cs = 3, Ct = 4, N = 2 * 5 columns (B = 2, H * W = 5).
    let (studentChannels, teacherChannels, columns) = (3, 4, 10)
    let student = Tensor(shape: [3, 10], values: GradientCheck.random(30, seed: 41))
    let teacher = Tensor(shape: [4, 10], values: GradientCheck.random(40, seed: 42))
    let weight = Tensor(shape: [4, 3], values: GradientCheck.random(12, seed: 43, scale: 0.5))
    let bias = Tensor(shape: [4], values: GradientCheck.random(4, seed: 44))
    let difference = Tensor(shape: [4, 10])
    func loss() -> Double {
        FitNetHintLoss.forward(
            difference: difference.data, studentFeature: student.data,
            teacherFeature: teacher.data, weight: weight.data, bias: bias.data,
            studentChannels: studentChannels, teacherChannels: teacherChannels, columns: columns
        )
    }
    _ = loss()
    let studentGradient = Tensor(shape: [3, 10])
    let weightGradient = Tensor(shape: [4, 3])
    let biasGradient = Tensor(shape: [4])
    FitNetHintLoss.backward(
        studentFeatureGradient: studentGradient.data, weightGradient: weightGradient.data,
        biasGradient: biasGradient.data, difference: difference.data,
        studentFeature: student.data, weight: weight.data, scale: 1,
        studentChannels: studentChannels, teacherChannels: teacherChannels, columns: columns
    )
    let cases: [(String, Tensor, Tensor)] = [
        ("student", student, studentGradient), ("weight", weight, weightGradient),
        ("bias", bias, biasGradient),
    ]
    for (name, values, gradient) in cases {
        let numeric = GradientCheck.numeric(values.data, count: values.count, eps: 1e-2, loss: loss)
        let error = GradientCheck.relativeError(gradient.values, numeric)
        #expect(error < GradientCheck.tolerance, "\(name): \(error)")
    }
}

@Test func hintIsZeroForMatchingRegression() {
    // weight = identity, bias = 0 and equal features give a zero hint.
    let feature = Tensor(shape: [2, 3], values: [1, 2, 3, -1, 0, 4])
    let weight = Tensor(shape: [2, 2], values: [1, 0, 0, 1])
    let bias = Tensor(shape: [2])
    let difference = Tensor(shape: [2, 3])
    let loss = FitNetHintLoss.forward(
        difference: difference.data, studentFeature: feature.data, teacherFeature: feature.data,
        weight: weight.data, bias: bias.data, studentChannels: 2, teacherChannels: 2, columns: 3
    )
    #expect(loss == 0)
}

/// Attention-transfer forward on fresh buffers.
private final class AttentionCase {
    let student: Tensor
    let teacher: Tensor
    let studentAttention: Tensor
    let teacherAttention: Tensor
    let norms: Tensor
    let batch: Int
    let spatial: Int

    init(studentChannels: Int, teacherChannels: Int, batch: Int, spatial: Int, seed: UInt64) {
        self.batch = batch
        self.spatial = spatial
        student = Tensor(
            shape: [studentChannels, batch, spatial],
            values: GradientCheck.random(studentChannels * batch * spatial, seed: seed)
        )
        teacher = Tensor(
            shape: [teacherChannels, batch, spatial],
            values: GradientCheck.random(teacherChannels * batch * spatial, seed: seed + 1)
        )
        studentAttention = Tensor(shape: [batch, spatial])
        teacherAttention = Tensor(shape: [batch, spatial])
        norms = Tensor(shape: [batch])
    }

    func loss() -> Double {
        AttentionTransferLoss.forward(
            studentAttention: studentAttention.data, teacherAttention: teacherAttention.data,
            studentNorms: norms.data, studentFeature: student.data, teacherFeature: teacher.data,
            studentChannels: student.shape[0], teacherChannels: teacher.shape[0], batch: batch,
            spatial: spatial
        )
    }
}

@Test func attentionTransferGradientMatchesFiniteDifferences() {
    let example = AttentionCase(studentChannels: 3, teacherChannels: 5, batch: 2, spatial: 6, seed: 51)
    _ = example.loss()
    let gradient = Tensor(shape: example.student.shape)
    AttentionTransferLoss.backward(
        studentFeatureGradient: gradient.data, studentAttention: example.studentAttention.data,
        teacherAttention: example.teacherAttention.data, studentNorms: example.norms.data,
        studentFeature: example.student.data, scale: 1, studentChannels: 3, batch: 2, spatial: 6
    )
    let numeric = GradientCheck.numeric(
        example.student.data, count: example.student.count, eps: 1e-3, loss: example.loss
    )
    #expect(GradientCheck.relativeError(gradient.values, numeric) < GradientCheck.tolerance)
}

@Test func attentionMapsHaveUnitNorm() {
    let example = AttentionCase(studentChannels: 4, teacherChannels: 2, batch: 3, spatial: 5, seed: 52)
    _ = example.loss()
    for b in 0..<3 {
        let row = example.studentAttention.values[(b * 5)..<(b * 5 + 5)]
        let norm = row.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        #expect(abs(norm - 1) < 1e-6, "sample \(b)")
    }
}

@Test func attentionTransferIgnoresChannelScale() {
    // a = mean_c f^2 is normalised per sample, so scaling the teacher leaves the loss unchanged.
    let example = AttentionCase(studentChannels: 3, teacherChannels: 3, batch: 2, spatial: 4, seed: 53)
    let before = example.loss()
    for i in 0..<example.teacher.count { example.teacher.data[i] *= 3 }
    #expect(abs(example.loss() - before) < 1e-6)
}
