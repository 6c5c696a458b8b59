import ASIBSupport
import Foundation

extension RunTrainer {
    var resumeURL: URL { runDirectory.appendingPathComponent(ResumeCheckpoint.fileName) }

    /// Restores the session from `resume.bin` when `resumeKey` is set and the file was
    /// written for the same key and epoch count. Returns nil, and trains from epoch 1, when
    /// there is no usable file; an unreadable file is logged and ignored.
    func resume(_ session: TrainingSession) throws -> ResumeCheckpoint? {
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
        guard saved.epoch >= 1, saved.epoch <= options.epochs,
              saved.velocity.count == session.optimiser.stateValues.count
        else {
            Log.warning("resume file ignored: does not fit the run", ["path": resumeURL.path, "epoch": saved.epoch])
            return nil
        }
        try session.student.load(saved.model, path: resumeURL.path)
        session.optimiser.stateValues = saved.velocity
        session.trainLoader.augmentationState = saved.generator
        session.step = saved.step
        Log.notice("resuming after epoch", ["epoch": saved.epoch, "path": resumeURL.path])
        return saved
    }

    /// Writes `resume.bin` atomically when `resumeKey` is set.
    func saveResume(_ session: TrainingSession, epoch: Int, best: Double, final: Double) throws {
        guard let resumeKey else { return }
        let state = ResumeCheckpoint(
            key: resumeKey, epoch: epoch, step: session.step, bestAccuracy: best,
            finalAccuracy: final, generator: session.trainLoader.augmentationState,
            velocity: session.optimiser.stateValues, model: session.student.checkpoint()
        )
        do {
            try AtomicFile.write(state.encoded(), to: resumeURL)
        } catch let failure as RuntimeFailure {
            throw TrainerError.checkpointWriteFailed(path: resumeURL.path, problem: failure.message)
        }
    }
}
