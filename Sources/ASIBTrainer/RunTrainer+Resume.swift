import ASIBSupport
import Foundation

extension RunTrainer {
    var resumeURL: URL { runDirectory.appendingPathComponent(ResumeCheckpoint.fileName) }

    /// Restores the session from `resume.bin` when `resumeKey` is set and the file was
    /// written for the same key and fits this run. Returns the progress to continue from, or
    /// nil (train from the start) when there is no usable file. An unreadable file, including
    /// one of an older format version, is logged and ignored.
    func resume(_ session: TrainingSession) throws -> RunProgress? {
        guard let resumeKey, FileManager.default.fileExists(atPath: resumeURL.path) else { return nil }
        let saved: ResumeCheckpoint
        do {
            saved = try ResumeCheckpoint.load(path: resumeURL.path)
        } catch {
            Log.warning("resume file ignored", ["path": resumeURL.path, "error": error])
            return nil
        }
        guard saved.key == resumeKey else {
            Log.warning(
                "resume file ignored: written for another config",
                ["path": resumeURL.path, "key": saved.key, "expected": resumeKey]
            )
            return nil
        }
        let teacherEpochs = session.synergy == nil
            ? 0 : options.asib.teacherAdaptEpochs * options.asib.stages
        let progress = saved.progress
        guard progress.teacherEpochs + progress.studentEpochs >= 1,
              progress.teacherEpochs <= teacherEpochs,
              progress.studentEpochs <= options.totalStudentEpochs,
              saved.velocity.count == session.optimiser.stateValues.count,
              session.restoreBuffers(saved.buffers)
        else {
            Log.warning(
                "resume file ignored: does not fit the run",
                [
                    "path": resumeURL.path, "teacher_epochs": progress.teacherEpochs,
                    "student_epochs": progress.studentEpochs,
                ]
            )
            return nil
        }
        try session.student.load(saved.model, path: resumeURL.path)
        session.optimiser.stateValues = saved.velocity
        session.trainLoader.augmentationState = saved.generator
        session.synergyRandom.savedState = saved.synergyGenerator
        session.synergy?.accuracyEMA = saved.synergyAccuracyEMA
        session.stageBestSynergy = saved.stageBestSynergy
        session.step = saved.step
        Log.notice(
            "resuming after epoch",
            [
                "teacher_epochs": progress.teacherEpochs,
                "student_epochs": progress.studentEpochs, "path": resumeURL.path,
            ]
        )
        return progress
    }

    /// Writes `resume.bin` atomically when `resumeKey` is set.
    func saveResume(_ session: TrainingSession, progress: RunProgress) throws {
        guard let resumeKey else { return }
        let state = ResumeCheckpoint(
            key: resumeKey, progress: progress, step: session.step,
            generator: session.trainLoader.augmentationState,
            synergyGenerator: session.synergyRandom.savedState,
            synergyAccuracyEMA: session.synergy?.accuracyEMA,
            stageBestSynergy: session.stageBestSynergy,
            velocity: session.optimiser.stateValues, model: session.student.checkpoint(),
            buffers: session.resumeBuffers()
        )
        do {
            try AtomicFile.write(state.encoded(), to: resumeURL)
        } catch let failure as RuntimeFailure {
            throw TrainerError.checkpointWriteFailed(path: resumeURL.path, problem: failure.message)
        }
    }
}
