import CBLAS
import Dispatch

/// Splits element-wise kernels over the same number of threads that OpenBLAS uses, so the
/// trainer never runs more threads than it was given.
enum Parallel {
    /// Thread count for the kernels outside BLAS; set together with the BLAS threads.
    nonisolated(unsafe) static var threadCount = 1

    /// Calls `body` once for each index in `0..<count`, in contiguous chunks over the threads.
    /// Work below `minimumPerThread` indices per thread runs on the calling thread.
    static func forEach(_ count: Int, minimumPerThread: Int = 1, _ body: (Int) -> Void) {
        let threads = min(threadCount, count / max(minimumPerThread, 1))
        if threads <= 1 {
            for index in 0..<count { body(index) }
            return
        }
        DispatchQueue.concurrentPerform(iterations: threads) { chunk in
            let start = count * chunk / threads
            let end = count * (chunk + 1) / threads
            for index in start..<end { body(index) }
        }
    }
}

/// Sets the number of threads that OpenBLAS and the trainer's own kernels use (at least 1).
public func setBLASThreads(_ n: Int) {
    let threads = max(1, n)
    openblas_set_num_threads(Int32(threads))
    Parallel.threadCount = threads
}

/// The build configuration string of the linked OpenBLAS, e.g. its kernel target.
public func blasConfiguration() -> String {
    guard let text = openblas_get_config() else { return "unknown" }
    return String(cString: text)
}
