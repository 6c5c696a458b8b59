import ASIBPlan
import Foundation

/// The job arrays of a whole sweep: one submission for the teacher runs and one for the
/// student runs, submitted with `--dependency=afterok` on every teacher array so that students
/// start only after all teachers ended successfully. A plan with one kind of run gets one.
///
/// Each submission is split to fit MaxArraySize. With `--shards K`, each kind is spread over
/// `min(K, runs of that kind)` tasks.
public struct SweepArrays {
    public let options: SlurmOptions
    public let worker: WorkerInvocation
    public let maxArraySize: Int
    public let template: SbatchTemplate
    /// Runs of each kind, in submission order; kinds without runs are left out.
    public let groups: [(kind: ArrayRunKind, runCount: Int)]

    /// Placeholder for the teacher job IDs in `--dry-run` output.
    public static let teacherJobsPlaceholder = "TEACHER_JOB_IDS"

    public init(
        plan: Plan,
        options: SlurmOptions,
        worker: WorkerInvocation,
        maxArraySize: Int,
        template: SbatchTemplate
    ) throws {
        guard !plan.runs.isEmpty else { throw SlurmError.emptyPlan }
        self.options = options
        self.worker = worker
        self.maxArraySize = maxArraySize
        self.template = template
        groups = [ArrayRunKind.teacher, .student].compactMap { kind in
            let count = kind.runs(of: plan).count
            return count > 0 ? (kind, count) : nil
        }
    }

    /// The submission of one kind of runs, with `dependencies` as its afterok job IDs.
    public func submission(
        kind: ArrayRunKind, runCount: Int, dependencies: [Int] = []
    ) -> ArraySubmission {
        var groupOptions = options
        groupOptions.shards = options.shards.map { min($0, runCount) }
        var groupWorker = worker
        groupWorker.runKind = kind
        return ArraySubmission(
            options: groupOptions, worker: groupWorker, runCount: runCount,
            maxArraySize: maxArraySize, template: template, dependencies: dependencies)
    }

    /// The `--dry-run` text of every array, teachers first. Student arrays show
    /// `--dependency=afterok:TEACHER_JOB_IDS`, because the job IDs are known only after
    /// submission.
    public func dryRunText() throws -> String {
        let hasTeachers = groups.contains { $0.kind == .teacher }
        return try groups.map { group in
            let placeholder = group.kind == .student && hasTeachers
                ? Self.teacherJobsPlaceholder : nil
            return "# \(group.kind.rawValue) runs: \(group.runCount)\n"
                + (try submission(kind: group.kind, runCount: group.runCount)
                    .dryRunText(dependencyPlaceholder: placeholder))
        }.joined(separator: "\n")
    }

    /// Submits the teacher arrays, then the student arrays that depend on them. `onSubmitted`
    /// runs after each accepted array with the submission it belongs to, so the caller can
    /// store its job ID at once.
    ///
    /// When sbatch rejects an array, throws `SlurmError.submissionRejected` listing every job
    /// already submitted for this sweep, teachers included.
    public func submit(
        with client: SlurmClient,
        onSubmitted: (ArraySubmission, SubmittedArray) throws -> Void
    ) throws -> [(kind: ArrayRunKind, array: SubmittedArray)] {
        var submitted: [(kind: ArrayRunKind, array: SubmittedArray)] = []
        for group in groups {
            let dependencies = group.kind == .student
                ? submitted.filter { $0.kind == .teacher }.map(\.array.jobID) : []
            let arrays = submission(
                kind: group.kind, runCount: group.runCount, dependencies: dependencies)
            let earlier = submitted.map(\.array.jobID)
            do {
                _ = try arrays.submit(with: client) { array in
                    submitted.append((group.kind, array))
                    try onSubmitted(arrays, array)
                }
            } catch SlurmError.submissionRejected(let range, let output, let jobIDs) {
                throw SlurmError.submissionRejected(
                    range: "\(group.kind.rawValue) \(range)", output: output,
                    submittedJobIDs: earlier + jobIDs)
            }
        }
        return submitted
    }
}
