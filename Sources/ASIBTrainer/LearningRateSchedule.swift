import Foundation

/// The learning rate of each optimiser step: linear warm-up over the first
/// `warmupEpochs * stepsPerEpoch` steps (step t, 0-based, gets `base * (t + 1) / warmupSteps`),
/// then cosine annealing from `base` to `minimum` over the remaining steps:
/// `minimum + (base - minimum) * (1 + cos(pi * t' / T')) / 2`, t' counted from the end of the
/// warm-up and T' the remaining step count. The rate changes every step, not every epoch.
public struct LearningRateSchedule: Equatable {
    public let base: Double
    public let minimum: Double
    public let warmupSteps: Int
    public let totalSteps: Int

    public init(base: Double, minimum: Double, warmupEpochs: Int, epochs: Int, stepsPerEpoch: Int) {
        self.base = base
        self.minimum = minimum
        totalSteps = max(1, epochs * stepsPerEpoch)
        warmupSteps = min(max(0, warmupEpochs) * stepsPerEpoch, totalSteps)
    }

    public func rate(atStep step: Int) -> Double {
        if step < warmupSteps {
            return base * Double(step + 1) / Double(warmupSteps)
        }
        let annealing = max(1, totalSteps - warmupSteps)
        let progress = min(1, Double(step - warmupSteps) / Double(annealing))
        return minimum + (base - minimum) * (1 + cos(Double.pi * progress)) / 2
    }
}
