import Foundation
import Testing
@testable import ASIBTrainer

/// bfloat16 rounding of GEMM inputs, the numerics behind `use_amp`.
struct BFloat16Tests {
    /// Float32 bit patterns and their bfloat16 roundings, worked out by hand: keep the high 16
    /// bits, round up when the low 16 bits exceed 0x8000, and at exactly 0x8000 round to the
    /// even high half.
    static let roundingCases: [(UInt32, UInt32)] = [
        (0x3F80_0000, 0x3F80_0000),  // 1.0 is exact
        (0x3F80_8000, 0x3F80_0000),  // 1 + 2^-8: tie, 0x3F80 is even, so down to 1.0
        (0x3F81_8000, 0x3F82_0000),  // 1 + 3 * 2^-8: tie, 0x3F81 is odd, so up to 1 + 2^-6
        (0x3F80_8001, 0x3F81_0000),  // just above the tie: up to 1 + 2^-7
        (0x3F80_7FFF, 0x3F80_0000),  // just below the tie: down to 1.0
        (0x4049_0FDB, 0x4049_0000),  // Float.pi 3.14159274 -> 3.140625
        (0xC02D_F854, 0xC02E_0000),  // -2.71828 -> -2.71875
        (0x7F7F_FFFF, 0x7F80_0000),  // Float.greatestFiniteMagnitude overflows to +infinity
        (0x0000_0001, 0x0000_0000),  // smallest subnormal rounds to +0
        (0x8000_0000, 0x8000_0000),  // -0 keeps its sign
        (0x7F80_0000, 0x7F80_0000),  // +infinity stays infinite
    ]

    @Test("bfloat16 rounds to nearest even", arguments: roundingCases)
    func roundingMatchesHandValues(input: UInt32, expected: UInt32) {
        let rounded = BFloat16.round(Float(bitPattern: input))
        #expect(rounded.bitPattern == expected)
    }

    @Test func roundedValuesMatchDecimalForms() {
        #expect(BFloat16.round(1.00390625) == 1.0)
        #expect(BFloat16.round(1.01171875) == 1.015625)
        #expect(BFloat16.round(Float.pi) == 3.140625)
        #expect(BFloat16.round(-2.71828) == -2.71875)
    }

    @Test func nanStaysNaN() {
        #expect(BFloat16.round(.nan).isNaN)
        #expect(BFloat16.round(Float(bitPattern: 0x7F80_0001)).isNaN)
    }

    @Test func roundingIsIdempotent() {
        for value in GradientCheck.random(1000, seed: 3) {
            let once = BFloat16.round(value)
            #expect(BFloat16.round(once) == once)
            // bfloat16 keeps 8 significant bits, so its unit roundoff is 2^-8.
            #expect(abs(once - value) <= abs(value) * 0x1p-8)
        }
    }

    @Test func gemmRoundsInputCopiesOnly() {
        let (m, n, k) = (3, 4, 5)
        let aValues = GradientCheck.random(m * k, seed: 11)
        let bValues = GradientCheck.random(k * n, seed: 12)
        let a = Tensor(shape: [m * k], values: aValues)
        let b = Tensor(shape: [k * n], values: bValues)
        let product = Tensor(shape: [m * n])
        GEMM.multiply(
            product.data, a.data, b.data, m: m, n: n, k: k, rounding: BFloat16Workspace()
        )

        // Reference: the float32 product of the rounded inputs, summed in Double.
        for i in 0..<m {
            for j in 0..<n {
                var sum = 0.0
                for p in 0..<k {
                    let left = BFloat16.round(aValues[i * k + p])
                    let right = BFloat16.round(bValues[p * n + j])
                    sum += Double(left) * Double(right)
                }
                #expect(abs(Double(product.data[i * n + j]) - sum) <= 1e-5)
            }
        }
        #expect(Array(UnsafeBufferPointer(start: a.data, count: m * k)) == aValues)
        #expect(Array(UnsafeBufferPointer(start: b.data, count: k * n)) == bValues)
    }

    @Test func bfloat16GraphStaysCloseToFloat32() throws {
        let model = ResNetModel(
            architecture: try ResNetArchitecture.named("resnet8", key: "test"), inputChannels: 2,
            classes: 3, seed: 7
        )
        let input = Tensor(shape: [2, 4, 8, 8], values: GradientCheck.random(512, seed: 8))
        let exact = ResNetGraph(model: model, batch: 4, height: 8, width: 8, withGradients: false)
        let reduced = ResNetGraph(
            model: model, batch: 4, height: 8, width: 8, withGradients: false, bfloat16: true
        )
        let exactLogits = Array(
            UnsafeBufferPointer(start: exact.forward(input: input.data, training: false), count: 12)
        )
        let reducedLogits = Array(
            UnsafeBufferPointer(start: reduced.forward(input: input.data, training: false), count: 12)
        )
        let scale = exactLogits.map { abs($0) }.max() ?? 1
        // bfloat16 inputs differ by at most 2^-8 relative, so over eight layers the logits
        // move by a few per cent of their range at most, but they do move.
        let largest = zip(exactLogits, reducedLogits).map { abs($0 - $1) }.max() ?? 0
        #expect(largest <= 0.05 * scale)
        #expect(exactLogits != reducedLogits)
    }
}
