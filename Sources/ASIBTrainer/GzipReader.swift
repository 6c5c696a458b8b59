import CZlib
import Foundation

/// A gzip-compressed file read through zlib's `gzopen`/`gzread`; plain files pass through
/// unchanged, as zlib reads them transparently.
final class GzipReader {
    let path: String
    private let file: gzFile

    /// Opens `path`, or returns nil when the file does not exist or cannot be opened.
    init?(path: String) {
        guard FileManager.default.isReadableFile(atPath: path), let file = gzopen(path, "rb") else {
            return nil
        }
        self.path = path
        self.file = file
    }

    deinit {
        gzclose(file)
    }

    /// Reads exactly `count` bytes, or throws naming the file when it ends early or is corrupt.
    func read(_ count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let chunk = UInt32(min(count - done, 1 << 30))
            let got = bytes.withUnsafeMutableBytes { buffer in
                gzread(file, buffer.baseAddress! + done, chunk)
            }
            if got < 0 {
                var code: Int32 = 0
                let message = gzerror(file, &code).map { String(cString: $0) } ?? "unknown error"
                throw TrainerError.datasetMalformed(path: path, problem: "zlib: \(message)")
            }
            if got == 0 {
                throw TrainerError.datasetMalformed(
                    path: path,
                    problem: "file ends after \(done) of \(count) expected bytes"
                )
            }
            done += Int(got)
        }
        return bytes
    }

    /// Reads a big-endian 32-bit unsigned integer.
    func readBigEndianUInt32() throws -> UInt32 {
        let bytes = try read(4)
        return bytes.reduce(0) { ($0 << 8) | UInt32($1) }
    }
}
