import ASIBSupport

/// Failures of Slurm options, array mapping, sbatch rendering and the Slurm client commands.
///
/// Bad input (options, array specs, task IDs, templates) exits 64; a Slurm command that fails,
/// times out or prints something unexpected exits 1.
public enum SlurmError: ReportableError, Equatable {
    case invalidOption(name: String, value: String, allowed: String)
    case missingTaskID(variable: String)
    case invalidTaskID(variable: String, value: String)
    case invalidArraySpec(spec: String, reason: String)
    case invalidThrottle(value: String)
    case emptyPlan
    case invalidTemplate(path: String, reason: String)
    case templateNotFound(searched: [String])
    case maxArraySizeNotFound(output: String)
    case commandNotFound(command: String, path: String)
    case commandTimedOut(command: String, seconds: Double)
    case commandFailed(command: String, status: Int32, output: String)
    case unexpectedOutput(command: String, output: String, expected: String)
    case submissionRejected(range: String, output: String, submittedJobIDs: [Int])
    case planUnreadable(path: String, reason: String)
    case planChanged(path: String, expected: String, found: String)

    public var exitCode: Int32 {
        switch self {
        case .invalidOption, .missingTaskID, .invalidTaskID, .invalidArraySpec, .invalidThrottle,
            .emptyPlan, .invalidTemplate, .templateNotFound, .planUnreadable, .planChanged:
            return ExitCode.usage
        default:
            return ExitCode.failure
        }
    }

    public var description: String {
        switch self {
        case .invalidOption(let name, let value, let allowed):
            return "invalid value '\(value)' for '\(name)': expected \(allowed)"
        case .missingTaskID(let variable):
            return "\(variable) is not set: asib-worker with Slurm array arguments must run "
                + "inside an array task submitted with 'sbatch --array'"
        case .invalidTaskID(let variable, let value):
            return "invalid \(variable) '\(value)': expected a non-negative integer "
                + "as set by Slurm in an array task"
        case .invalidArraySpec(let spec, let reason):
            return "invalid job array specification '\(spec)': \(reason); "
                + "expected forms like '0-20:5', '1,5,7' or '0-9%3'"
        case .invalidThrottle(let value):
            return "invalid array throttle '\(value)': expected an integer of at least 1 "
                + "(the maximum number of array tasks that run at once); "
                + "leave out --throttle for no limit"
        case .emptyPlan:
            return "the plan has no runs, so there is no job array to submit"
        case .invalidTemplate(let path, let reason):
            return "invalid sbatch template '\(path)': \(reason)"
        case .templateNotFound(let searched):
            return "sbatch template 'array.sbatch.template' not found; searched: "
                + searched.map { "'\($0)'" }.joined(separator: ", ")
                + "; set ASIB_SBATCH_TEMPLATE to its path"
        case .planUnreadable(let path, let reason):
            return "cannot use plan file '\(path)': \(reason); the array task needs the "
                + "plan.json that 'asib-sweep launch --array' wrote"
        case .planChanged(let path, let expected, let found):
            return "plan file '\(path)' has plan_sha256 \(found), but the job array was "
                + "submitted for \(expected); the sweep was planned again after submission, so "
                + "task IDs may name other runs. Cancel the arrays ('asib-sweep cancel DIR') and "
                + "launch again"
        case .maxArraySizeNotFound, .commandNotFound, .commandTimedOut, .commandFailed,
            .unexpectedOutput, .submissionRejected:
            return commandDescription
        }
    }

    /// Messages of the cases raised while running Slurm commands.
    private var commandDescription: String {
        switch self {
        case .maxArraySizeNotFound(let output):
            return "no 'MaxArraySize = N' line in the output of 'scontrol show config': "
                + "'\(output.prefix(200))'"
        case .commandNotFound(let command, let path):
            return "command '\(command)' not found in PATH '\(path)': install the Slurm "
                + "client commands (Debian package slurm-client) or fix PATH"
        case .commandTimedOut(let command, let seconds):
            return "'\(command)' timed out after \(seconds) s and was killed; "
                + "check that slurmctld is up with 'scontrol ping'"
        case .commandFailed(let command, let status, let output):
            return "'\(command)' failed with exit status \(status): '\(output)'"
        case .unexpectedOutput(let command, let output, let expected):
            return "unexpected output from '\(command)': '\(output)'; expected \(expected)"
        case .submissionRejected(let range, let output, let submitted):
            return submissionRejectedDescription(range: range, output: output, submitted: submitted)
        default:
            preconditionFailure("bad-input cases are described in `description`")
        }
    }

    private func submissionRejectedDescription(
        range: String,
        output: String,
        submitted: [Int]
    ) -> String {
        var text = "sbatch rejected the job array for \(range): '\(output)'"
        if submitted.isEmpty {
            return text + "; no job was submitted"
        }
        let ids = submitted.map(String.init).joined(separator: " ")
        text += "; jobs already submitted: \(ids); cancel them with: scancel \(ids)"
        return text
    }
}
