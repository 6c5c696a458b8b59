import CBLAS

/// Row-major single-precision matrix products through OpenBLAS `cblas_sgemm`.
enum GEMM {
    /// Computes `c[m, n] = op(a)[m, k] x op(b)[k, n]`, or adds it to `c` when `accumulate`.
    /// Every matrix is contiguous: `a` is stored `[m, k]` (or `[k, m]` when transposed) and `b`
    /// is stored `[k, n]` (or `[n, k]`).
    ///
    /// With a `rounding` workspace, `a` and `b` are first rounded to bfloat16 precision
    /// (`BFloat16.round`) in copies, and the product accumulates in float32, as mixed-precision
    /// training does on hardware with bfloat16 matrix units. The inputs are not changed.
    static func multiply(
        _ c: UnsafeMutablePointer<Float>,
        _ a: UnsafePointer<Float>,
        _ b: UnsafePointer<Float>,
        m: Int, n: Int, k: Int,
        transposeA: Bool = false,
        transposeB: Bool = false,
        accumulate: Bool = false,
        rounding: BFloat16Workspace? = nil
    ) {
        var a = a
        var b = b
        if let rounding {
            a = rounding.rounded(a, count: m * k, slot: 0)
            b = rounding.rounded(b, count: k * n, slot: 1)
        }
        cblas_sgemm(
            CblasRowMajor,
            transposeA ? CblasTrans : CblasNoTrans,
            transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k),
            1, a, Int32(transposeA ? m : k),
            b, Int32(transposeB ? k : n),
            accumulate ? 1 : 0, c, Int32(n)
        )
    }
}

/// Rounding of float32 values to bfloat16 precision (8 exponent bits, 7 stored mantissa bits).
public enum BFloat16 {
    /// Rounds `value` to the nearest bfloat16 value, ties to even, and returns it as a float32.
    ///
    /// The low 16 bits of the float32 pattern are dropped after adding `0x7FFF` plus the lowest
    /// kept bit, which rounds half-way cases to an even mantissa. Values beyond the largest
    /// bfloat16 (about 3.39e38) become infinity, and NaN stays a quiet NaN.
    public static func round(_ value: Float) -> Float {
        let bits = value.bitPattern
        if value.isNaN {
            return Float(bitPattern: (bits | 0x0040_0000) & 0xFFFF_0000)
        }
        let lowestKeptBit = (bits >> 16) & 1
        let rounded = bits &+ 0x7FFF &+ lowestKeptBit
        return Float(bitPattern: rounded & 0xFFFF_0000)
    }
}

/// Reusable buffers for the bfloat16-rounded copies of GEMM inputs, one per operand slot.
///
/// One workspace serves one network graph, whose layers run one after another, so the buffers
/// are never used by two products at once. Not thread-safe.
public final class BFloat16Workspace {
    private var buffers: [UnsafeMutablePointer<Float>?] = [nil, nil]
    private var capacities = [0, 0]

    public init() {}

    deinit {
        for buffer in buffers {
            buffer?.deallocate()
        }
    }

    /// Copies `count` values rounded to bfloat16 precision into buffer `slot` (0 or 1) and
    /// returns it; the buffer grows when needed and stays valid until the next call on `slot`.
    func rounded(_ source: UnsafePointer<Float>, count: Int, slot: Int) -> UnsafePointer<Float> {
        if capacities[slot] < count {
            buffers[slot]?.deallocate()
            buffers[slot] = UnsafeMutablePointer<Float>.allocate(capacity: count)
            capacities[slot] = count
        }
        let target = buffers[slot]!
        Parallel.forEach(count, minimumPerThread: 1 << 16) { index in
            target[index] = BFloat16.round(source[index])
        }
        return UnsafePointer(target)
    }
}
