import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// An exclusive `flock` on `<folder>/.lock`, held by one coordinator at a time so that two
/// launches never train into the same results folder. The kernel releases the lock when the
/// process exits, however it exits, so a killed coordinator leaves no stale lock behind.
public final class FolderLock {
    public static let fileName = ".lock"
    private let descriptor: Int32

    /// Creates `folder` when needed and takes the lock, or throws a `UsageError` naming the
    /// process that holds it.
    public init(folder: URL, purpose: String) throws {
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw UsageError(
                "cannot create the results folder '\(folder.path)': \(error.localizedDescription); "
                    + "choose another --out folder"
            )
        }
        let path = folder.appendingPathComponent(Self.fileName).path
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw UsageError(
                "cannot open '\(path)': \(String(cString: strerror(errno))); "
                    + "check the permissions of the results folder"
            )
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            close(descriptor)
            throw UsageError(
                "results folder '\(folder.path)' is in use by another \(purpose)"
                    + (holder.isEmpty ? "" : " (\(holder))")
                    + "; wait for it to finish, stop it, or choose another --out folder"
            )
        }
        self.descriptor = descriptor
        let record = "pid \(getpid()) on \(ProcessInfo.processInfo.hostName)\n"
        _ = ftruncate(descriptor, 0)
        _ = record.withCString { write(descriptor, $0, strlen($0)) }
    }

    deinit {
        close(descriptor)
    }
}
