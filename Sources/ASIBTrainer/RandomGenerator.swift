import Foundation

/// A deterministic xoshiro256** generator seeded through SplitMix64, so the same seed gives the
/// same weights, shuffles, crops and dropout masks on every machine.
public struct RandomGenerator {
    private var state: (UInt64, UInt64, UInt64, UInt64)
    private var spareNormal: Double?

    public init(seed: UInt64) {
        var mixer = seed
        state = (
            Self.splitMix64(&mixer), Self.splitMix64(&mixer),
            Self.splitMix64(&mixer), Self.splitMix64(&mixer)
        )
    }

    private static func splitMix64(_ value: inout UInt64) -> UInt64 {
        value &+= 0x9E37_79B9_7F4A_7C15
        var mixed = value
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }

    private static func rotateLeft(_ value: UInt64, _ bits: UInt64) -> UInt64 {
        (value << bits) | (value >> (64 - bits))
    }

    /// A generator's complete state, which resume checkpoints store.
    public struct State: Equatable {
        public var words: [UInt64]
        public var spareNormal: Double?
    }

    /// The state to store, or to restore so that the generator continues where it was.
    public var savedState: State {
        get { State(words: [state.0, state.1, state.2, state.3], spareNormal: spareNormal) }
        set {
            precondition(newValue.words.count == 4, "a generator state has 4 words")
            state = (newValue.words[0], newValue.words[1], newValue.words[2], newValue.words[3])
            spareNormal = newValue.spareNormal
        }
    }

    public mutating func nextUInt64() -> UInt64 {
        let result = Self.rotateLeft(state.1 &* 5, 7) &* 9
        let shifted = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= shifted
        state.3 = Self.rotateLeft(state.3, 45)
        return result
    }

    /// Returns a uniform double in [0, 1) built from the top 53 bits.
    public mutating func nextUniform() -> Double {
        Double(nextUInt64() >> 11) * 0x1.0p-53
    }

    /// Returns a uniform integer in `0..<bound` (Lemire's multiply-shift, bias below 2^-32 for
    /// the bounds used here).
    public mutating func nextInt(below bound: Int) -> Int {
        precondition(bound > 0, "bound must be positive, got \(bound)")
        let product = nextUInt64().multipliedFullWidth(by: UInt64(bound))
        return Int(product.high)
    }

    /// Returns a standard normal sample by the Box-Muller transform; the second value of each
    /// pair is kept for the next call.
    public mutating func nextNormal() -> Double {
        if let spare = spareNormal {
            spareNormal = nil
            return spare
        }
        let u1 = max(nextUniform(), 0x1.0p-60)
        let u2 = nextUniform()
        let radius = (-2 * Foundation.log(u1)).squareRoot()
        let angle = 2 * Double.pi * u2
        spareNormal = radius * sin(angle)
        return radius * cos(angle)
    }

    /// Returns a Gamma(shape, 1) sample by Marsaglia and Tsang's squeeze method ("A simple
    /// method for generating gamma variables", ACM TOMS 26(3), 2000). Shapes below 1 use
    /// `Gamma(shape + 1) * U^(1 / shape)`.
    public mutating func nextGamma(shape: Double) -> Double {
        precondition(shape > 0, "gamma shape must be positive, got \(shape)")
        if shape < 1 {
            let boosted = nextGamma(shape: shape + 1)
            let u = max(nextUniform(), 0x1.0p-60)
            return boosted * Foundation.pow(u, 1 / shape)
        }
        let d = shape - 1.0 / 3
        let c = 1 / (9 * d).squareRoot()
        // Each round accepts with probability above 0.95, so the cap is never reached in
        // practice; it keeps the loop bounded.
        for _ in 0..<1000 {
            let x = nextNormal()
            let base = 1 + c * x
            guard base > 0 else { continue }
            let v = base * base * base
            let u = nextUniform()
            if u < 1 - 0.0331 * x * x * x * x { return d * v }
            if Foundation.log(max(u, 0x1.0p-60)) < 0.5 * x * x + d * (1 - v + Foundation.log(v)) {
                return d * v
            }
        }
        return d
    }

    /// Returns a Beta(a, b) sample as `X / (X + Y)` with `X ~ Gamma(a)` and `Y ~ Gamma(b)`.
    /// When both gamma draws underflow to 0 (possible for shapes far below 1), returns 0.5.
    public mutating func nextBeta(_ a: Double, _ b: Double) -> Double {
        let x = nextGamma(shape: a)
        let y = nextGamma(shape: b)
        guard x + y > 0 else { return 0.5 }
        return x / (x + y)
    }

    /// Shuffles `0..<count` by Fisher-Yates into `indices`.
    public mutating func permutation(_ count: Int) -> [Int] {
        var indices = Array(0..<count)
        var position = count - 1
        while position > 0 {
            let other = nextInt(below: position + 1)
            indices.swapAt(position, other)
            position -= 1
        }
        return indices
    }
}
