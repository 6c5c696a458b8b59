import Foundation

/// The decay of the learning rate after the warm-up [schedule.type].
public enum LearningRateDecay: Equatable, Sendable {
    /// Cosine annealing from the base rate to the minimum over the remaining steps.
    case cosine
    /// The base rate times `gamma^floor(epoch / stepSize)` for the 0-based epoch, as
    /// PyTorch's `StepLR` stepped once per epoch, floored at the minimum.
    case step(stepSize: Int, gamma: Double)
    /// The base rate throughout.
    case constant
}

/// The learning rate of each optimiser step: linear warm-up over the first
/// `warmupEpochs * stepsPerEpoch` steps (step t, 0-based, gets `base * (t + 1) / warmupSteps`),
/// then the decay. Cosine changes the rate every step:
/// `minimum + (base - minimum) * (1 + cos(pi * t' / T')) / 2`, t' counted from the end of the
/// warm-up and T' the remaining step count. Step decay changes it at epoch boundaries.
public struct LearningRateSchedule: Equatable {
    public let base: Double
    public let minimum: Double
    public let warmupSteps: Int
    public let totalSteps: Int
    public let stepsPerEpoch: Int
    public let decay: LearningRateDecay

    public init(
        base: Double, minimum: Double, warmupEpochs: Int, epochs: Int, stepsPerEpoch: Int,
        decay: LearningRateDecay = .cosine
    ) {
        self.base = base
        self.minimum = minimum
        self.stepsPerEpoch = max(1, stepsPerEpoch)
        self.decay = decay
        totalSteps = max(1, epochs * stepsPerEpoch)
        warmupSteps = min(max(0, warmupEpochs) * stepsPerEpoch, totalSteps)
    }

    public func rate(atStep step: Int) -> Double {
        if step < warmupSteps {
            return base * Double(step + 1) / Double(warmupSteps)
        }
        switch decay {
        case .cosine:
            let annealing = max(1, totalSteps - warmupSteps)
            let progress = min(1, Double(step - warmupSteps) / Double(annealing))
            return minimum + (base - minimum) * (1 + cos(Double.pi * progress)) / 2
        case .step(let stepSize, let gamma):
            let epoch = step / stepsPerEpoch
            let decays = Double(epoch / max(1, stepSize))
            return max(minimum, base * pow(gamma, decays))
        case .constant:
            return base
        }
    }
}
