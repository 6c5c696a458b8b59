import CBLAS

/// Row-major single-precision matrix products through OpenBLAS `cblas_sgemm`.
enum GEMM {
    /// Computes `c[m, n] = op(a)[m, k] x op(b)[k, n]`, or adds it to `c` when `accumulate`.
    /// Every matrix is contiguous: `a` is stored `[m, k]` (or `[k, m]` when transposed) and `b`
    /// is stored `[k, n]` (or `[n, k]`).
    static func multiply(
        _ c: UnsafeMutablePointer<Float>,
        _ a: UnsafePointer<Float>,
        _ b: UnsafePointer<Float>,
        m: Int, n: Int, k: Int,
        transposeA: Bool = false,
        transposeB: Bool = false,
        accumulate: Bool = false
    ) {
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
