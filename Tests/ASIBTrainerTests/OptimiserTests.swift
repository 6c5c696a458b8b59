import ASIBConfig
import Foundation
import Testing
@testable import ASIBTrainer

@Test func nesterovSGDStepMatchesHandComputation() {
    // p = 1, grad = 0.5, wd = 0.1, momentum 0.9, lr 0.1:
    // g = 0.5 + 0.1 = 0.6; v = 0.6; p = 1 - 0.1 * (0.6 + 0.9 * 0.6) = 0.886.
    // Second step, same grad: g = 0.5 + 0.0886 = 0.5886; v = 0.54 + 0.5886 = 1.1286;
    // p = 0.886 - 0.1 * (0.5886 + 0.9 * 1.1286) = 0.725566.
    let optimiser = SGD(parameterCount: 1, momentum: 0.9, nesterov: true, weightDecay: 0.1)
    let value = Tensor(shape: [1], values: [1])
    let gradient = Tensor(shape: [1], values: [0.5])
    optimiser.step(values: value.data, gradients: gradient.data, count: 1, learningRate: 0.1)
    #expect(abs(value.data[0] - 0.886) < 1e-6)
    optimiser.step(values: value.data, gradients: gradient.data, count: 1, learningRate: 0.1)
    #expect(abs(value.data[0] - 0.725566) < 1e-6)
}

@Test func plainMomentumSGDStepMatchesHandComputation() {
    // g = 0.6; v = 0.6; p = 1 - 0.06 = 0.94; then g = 0.594, v = 1.134, p = 0.8266.
    let optimiser = SGD(parameterCount: 1, momentum: 0.9, nesterov: false, weightDecay: 0.1)
    let value = Tensor(shape: [1], values: [1])
    let gradient = Tensor(shape: [1], values: [0.5])
    optimiser.step(values: value.data, gradients: gradient.data, count: 1, learningRate: 0.1)
    #expect(abs(value.data[0] - 0.94) < 1e-6)
    optimiser.step(values: value.data, gradients: gradient.data, count: 1, learningRate: 0.1)
    #expect(abs(value.data[0] - 0.8266) < 1e-6)
}

@Test func scheduleWarmsUpLinearlyThenAnneals() {
    // 2 warm-up epochs of 5 steps, 10 epochs: warm-up steps 0...9, cosine over 40 steps.
    let schedule = LearningRateSchedule(
        base: 0.1, minimum: 0.001, warmupEpochs: 2, epochs: 10, stepsPerEpoch: 5
    )
    #expect(abs(schedule.rate(atStep: 0) - 0.01) < 1e-12)
    #expect(abs(schedule.rate(atStep: 9) - 0.1) < 1e-12)
    #expect(abs(schedule.rate(atStep: 10) - 0.1) < 1e-12)
    #expect(abs(schedule.rate(atStep: 30) - (0.001 + 0.099 * 0.5)) < 1e-12)
    #expect(abs(schedule.rate(atStep: 50) - 0.001) < 1e-12)
}

@Test func scheduleWithoutWarmupStartsAtBase() {
    let schedule = LearningRateSchedule(
        base: 0.05, minimum: 0, warmupEpochs: 0, epochs: 4, stepsPerEpoch: 10
    )
    #expect(abs(schedule.rate(atStep: 0) - 0.05) < 1e-12)
    #expect(abs(schedule.rate(atStep: 20) - 0.025) < 1e-12)
}

@Test func stepScheduleDecaysAtEpochBoundaries() {
    // 1 warm-up epoch of 4 steps, then 0.1 * 0.5^floor(epoch / 2) for 0-based epochs, never
    // below 0.02: epochs 2-3 at 0.05, 4-5 at 0.025, 6 and later at the 0.02 floor.
    let schedule = LearningRateSchedule(
        base: 0.1, minimum: 0.02, warmupEpochs: 1, epochs: 8, stepsPerEpoch: 4,
        decay: .step(stepSize: 2, gamma: 0.5)
    )
    #expect(abs(schedule.rate(atStep: 0) - 0.025) < 1e-12)
    #expect(abs(schedule.rate(atStep: 3) - 0.1) < 1e-12)
    #expect(abs(schedule.rate(atStep: 7) - 0.1) < 1e-12)
    #expect(abs(schedule.rate(atStep: 8) - 0.05) < 1e-12)
    #expect(abs(schedule.rate(atStep: 15) - 0.05) < 1e-12)
    #expect(abs(schedule.rate(atStep: 16) - 0.025) < 1e-12)
    #expect(abs(schedule.rate(atStep: 24) - 0.02) < 1e-12)
    let constant = LearningRateSchedule(
        base: 0.1, minimum: 0, warmupEpochs: 0, epochs: 3, stepsPerEpoch: 4, decay: .constant
    )
    #expect(constant.rate(atStep: 0) == 0.1)
    #expect(constant.rate(atStep: 11) == 0.1)
}

@Test func scheduleTypesAreRead() throws {
    func decay(_ schedule: [String: ConfigValue]) throws -> LearningRateDecay {
        try TrainingOptions(config: .map([
            "model": .map(["student": .map(["name": .string("resnet8")])]),
            "student_epochs": .int(1), "schedule": .map(schedule),
        ])).learningRateDecay
    }
    #expect(try decay(["type": .string("cosine")]) == .cosine)
    #expect(try decay([
        "type": .string("step"), "step_size": .int(30), "gamma": .double(0.1),
    ]) == .step(stepSize: 30, gamma: 0.1))
    #expect(try decay(["type": .string("none")]) == .constant)
    #expect(throws: TrainerError.self) { try decay(["type": .string("linear")]) }
    #expect(throws: TrainerError.self) {
        try decay(["type": .string("step"), "step_size": .int(0)])
    }
    #expect(throws: TrainerError.self) {
        try decay(["type": .string("step"), "gamma": .double(1.5)])
    }
}

@Test func adamWFirstStepMovesByLearningRate() {
    // Step 1: m_hat = g and v_hat = g^2, so p -= lr * wd * p, then p -= lr * g / (|g| + eps).
    let values = Tensor(shape: [3], values: [1, -2, 0.5])
    let gradients = Tensor(shape: [3], values: [0.3, -4, 0])
    let optimiser = AdamW(parameterCount: 3, weightDecay: 0.1)
    optimiser.step(values: values.data, gradients: gradients.data, count: 3, learningRate: 0.01)
    let expected: [Double] = [1 * 0.999 - 0.01, -2 * 0.999 + 0.01, 0.5 * 0.999]
    for (value, target) in zip(values.values, expected) {
        #expect(abs(Double(value) - target) < 1e-6)
    }
}

@Test func adamWBiasCorrectionAfterTwoSteps() {
    // Constant gradient g: both bias-corrected moments stay g and g^2, so every step moves
    // by lr (no weight decay).
    let values = Tensor(shape: [1], values: [0])
    let gradients = Tensor(shape: [1], values: [2])
    let optimiser = AdamW(parameterCount: 1, weightDecay: 0)
    optimiser.step(values: values.data, gradients: gradients.data, count: 1, learningRate: 0.1)
    optimiser.step(values: values.data, gradients: gradients.data, count: 1, learningRate: 0.1)
    #expect(abs(Double(values.values[0]) + 0.2) < 1e-6)
}

@Test func unknownOptimizerIsRejected() {
    let config = ConfigValue.map([
        "model": .map(["student": .map(["name": .string("resnet8")])]),
        "student_epochs": .int(1),
        "optimizer": .string("lion"),
    ])
    #expect(throws: TrainerError.invalidOption(key: "optimizer", value: "lion", allowed: "sgd, adamw")) {
        _ = try TrainingOptions(config: config)
    }
}
