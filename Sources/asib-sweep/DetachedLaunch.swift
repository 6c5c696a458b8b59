import ASIBSlurm
import ASIBSupport
import Foundation

/// `launch --array --detach`: runs the same launch without `--detach` as a background process
/// in its own session, with its output in `DIR/logs/coordinator.log`, and returns once that
/// coordinator has submitted every job array.
enum DetachedLaunch {
    /// How long to wait for the background coordinator to submit its arrays.
    static let submissionTimeout: TimeInterval = 300

    static func start(results: URL) throws {
        let logURL = results.appendingPathComponent("logs/coordinator.log")
        try FileManager.default.createDirectory(
            at: logURL.deletingLastPathComponent(), withIntermediateDirectories: true)
        let token = UUID().uuidString
        let arguments = Array(CommandLine.arguments.dropFirst()).filter { $0 != "--detach" }
        let pid = try spawnInNewSession(
            executable: "/proc/self/exe", arguments: arguments, logPath: logURL.path,
            extraEnvironment: [ArrayLaunchCommand.launchTokenVariable: token])

        let deadline = Date().addingTimeInterval(submissionTimeout)
        while Date() < deadline {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                // Exit status 0 without arrays: every run was already done.
                let exitedNormally = status & 0x7f == 0
                if exitedNormally && (status >> 8) & 0xff == 0 {
                    print(tail(of: logURL))
                    return
                }
                throw RuntimeFailure(
                    "the background coordinator (pid \(pid)) exited before it submitted the "
                        + "job arrays; its log '\(logURL.path)' ends with:\n"
                        + tail(of: logURL))
            }
            if let jobs = try? SlurmJobsFile.load(from: results),
                jobs.launchToken == token, jobs.submissionComplete
            {
                let ids = jobs.jobIDs.map(String.init).joined(separator: " ")
                print("coordinator running in the background: pid \(pid), \(jobs.coordinatorEndpoint)")
                print("job arrays: \(ids)")
                print("log: \(logURL.path)")
                print("follow with: asib-sweep status \(ShellQuoting.commandLine([results.path]))")
                return
            }
            Thread.sleep(forTimeInterval: 0.2)
        }
        throw RuntimeFailure(
            "the background coordinator (pid \(pid)) did not submit the job arrays within "
                + "\(Int(submissionTimeout)) s; see '\(logURL.path)', and stop it with 'kill \(pid)'")
    }

    /// Starts `executable` with `setsid` semantics (POSIX_SPAWN_SETSID), so that closing the
    /// terminal or pressing Ctrl-C in it does not reach the background process.
    private static func spawnInNewSession(
        executable: String, arguments: [String], logPath: String,
        extraEnvironment: [String: String]
    ) throws -> pid_t {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // POSIX_SPAWN_SETSID from glibc's spawn.h (glibc 2.26 and later), which Swift does not
        // import because glibc declares it only under _GNU_SOURCE.
        let spawnSetSID: Int16 = 0x80
        posix_spawnattr_setflags(&attributes, spawnSetSID)

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)

        markDescriptorsCloseOnExec()
        var environment = ProcessInfo.processInfo.environment
        for (key, value) in extraEnvironment {
            environment[key] = value
        }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard result == 0 else {
            throw RuntimeFailure(
                "cannot start the background coordinator: \(String(cString: strerror(result)))")
        }
        return pid
    }

    /// Sets FD_CLOEXEC on every open descriptor above stderr, so the background process keeps
    /// none of them open. A caller that waits for this process by a pipe it inherited, as
    /// Foundation's `Process` does, would otherwise wait for the background coordinator too.
    private static func markDescriptorsCloseOnExec() {
        let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        for name in descriptors {
            guard let descriptor = Int32(name), descriptor > 2 else { continue }
            let flags = fcntl(descriptor, F_GETFD)
            if flags >= 0 {
                _ = fcntl(descriptor, F_SETFD, flags | FD_CLOEXEC)
            }
        }
    }

    private static func tail(of url: URL) -> String {
        let text = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(15).joined(separator: "\n")
    }
}
