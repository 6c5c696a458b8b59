@testable import ASIBTrainer
import Testing

@Suite("OpenBLAS kernel selection")
struct BLASCoreTests {
    @Test("AVX-512 flags select SkylakeX")
    func avx512SelectsSkylakeX() {
        let flags: Set<Substring> = ["sse3", "avx2", "fma", "avx512f", "avx512bw", "avx512vl"]
        #expect(BLASCore.preferred(cpuFlags: flags) == "SkylakeX")
    }

    @Test("AVX2 without AVX-512 selects Haswell")
    func avx2SelectsHaswell() {
        #expect(BLASCore.preferred(cpuFlags: ["sse3", "avx", "avx2", "fma"]) == "Haswell")
        // avx512f alone (no BW/VL, as on Knights Landing) is not enough for SkylakeX kernels.
        #expect(BLASCore.preferred(cpuFlags: ["avx2", "fma", "avx512f"]) == "Haswell")
    }

    @Test("older CPUs keep OpenBLAS's choice")
    func sse3KeepsDefault() {
        #expect(BLASCore.preferred(cpuFlags: ["sse3", "ssse3", "avx"]) == nil)
    }
}
