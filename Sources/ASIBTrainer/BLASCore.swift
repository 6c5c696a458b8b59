import CBLAS
import Foundation

/// Selection of the OpenBLAS kernel set on CPUs that the linked OpenBLAS does not recognise.
///
/// Debian 12's OpenBLAS 0.3.21 (built with DYNAMIC_ARCH) picks its kernels from the CPU model.
/// On newer Xeons that report a generic model name it falls back to the SSE3 `Prescott`
/// kernels, which are much slower than the AVX-512 `SkylakeX` kernels (BENCHMARKS.md has
/// both, measured on a 2-core Xeon). OpenBLAS reads `OPENBLAS_CORETYPE`
/// only while the library loads, so the process has to start again with the variable set.
public enum BLASCore {
    /// Name of the kernel set OpenBLAS chose, e.g. `SkylakeX` or `Prescott`.
    public static var current: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// Kernel set for the instruction-set flags of `/proc/cpuinfo`, or nil when OpenBLAS's own
    /// choice should stand.
    static func preferred(cpuFlags: Set<Substring>) -> String? {
        if cpuFlags.contains("avx512f") && cpuFlags.contains("avx512bw")
            && cpuFlags.contains("avx512vl")
        {
            return "SkylakeX"
        }
        if cpuFlags.contains("avx2") && cpuFlags.contains("fma") {
            return "Haswell"
        }
        return nil
    }

    /// Starts this executable again with `OPENBLAS_CORETYPE` set when OpenBLAS fell back to
    /// the Prescott kernels on a CPU with AVX2 or AVX-512. Returns normally when nothing needs
    /// to change, when the user set `OPENBLAS_CORETYPE`, or when the restart fails.
    public static func restartWithDetectedCoreIfNeeded() {
        let environment = ProcessInfo.processInfo.environment
        guard environment["OPENBLAS_CORETYPE"] == nil, current.lowercased() == "prescott",
            let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
            let flagsLine = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
            let core = preferred(cpuFlags: Set(flagsLine.split(separator: " ")))
        else { return }

        setenv("OPENBLAS_CORETYPE", core, 1)
        var argv: [UnsafeMutablePointer<CChar>?] = CommandLine.arguments.map { strdup($0) }
        argv.append(nil)
        execv("/proc/self/exe", argv)
        // execv returns only on failure; the Prescott kernels still give correct results.
        unsetenv("OPENBLAS_CORETYPE")
    }
}
