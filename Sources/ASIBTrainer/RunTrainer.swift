import ASIBSupport
import Foundation

// Shapes: batch input [C, B, H, W]; labels [B]; logits, probabilities, gradients [B, K].

/// Trains one student network with cross-entropy and optional logit distillation, evaluates
/// it after every epoch and saves it to `runDirectory/checkpoint.bin`.
public final class RunTrainer {
    public let options: TrainingOptions
    public let runDirectory: URL
    let architecture: ResNetArchitecture
    let teacherArchitectures: [ResNetArchitecture]
    /// Identifies the config (the config lock hash, for instance). When set, `train` writes
    /// `resume.bin` after every epoch and continues from a `resume.bin` with the same key.
    public var resumeKey: String?

    /// Checks the options that need no files; data and checkpoints are read by `train`.
    public init(options: TrainingOptions, runDirectory: URL) throws {
        self.options = options
        self.runDirectory = runDirectory
        architecture = try ResNetArchitecture.named(
            options.studentModel, key: "model.student.name"
        )
        teacherArchitectures = options.kdAlpha > 0
            ? try options.teachers.map { try ResNetArchitecture.named($0.model, key: $0.modelKey) }
            : []
        try Self.validate(options)
        options.logInertSettings()
        try options.asib.validateStages(studentEpochs: options.epochs)
        // Width rules of IB_MBM, checked here so that a launch rejects them before training.
        if options.asib.enabled && !teacherArchitectures.isEmpty {
            try SynergyModule.checkTokenWidths(
                options: options.asib, teacherWidths: teacherArchitectures.map(\.featureWidth)
            )
            try SynergyModule.checkFeatureKDWidth(
                options: options.asib, studentWidth: architecture.featureWidth
            )
        }
    }

    private static func validate(_ options: TrainingOptions) throws {
        func check(_ ok: Bool, _ key: String, _ value: Any, _ allowed: String) throws {
            if !ok {
                throw TrainerError.invalidOption(key: key, value: "\(value)", allowed: allowed)
            }
        }
        try check(options.batchSize > 0, "dataset.batch_size", options.batchSize, "an integer >= 1")
        try check(options.trainLimit >= 0, "dataset.train_limit", options.trainLimit, "0 or more")
        try check(options.testLimit >= 0, "dataset.test_limit", options.testLimit, "0 or more")
        try check(options.epochs > 0, "student_epochs", options.epochs, "an integer >= 1")
        try check(options.learningRate > 0, "student_lr", options.learningRate, "a number > 0")
        try check(options.temperature > 0, "tau", options.temperature, "a number > 0")
        try check(
            (0..<1).contains(options.labelSmoothing), "ce_label_smoothing",
            options.labelSmoothing, "a number in [0, 1)"
        )
        try check(options.kdAlpha >= 0, "kd_alpha", options.kdAlpha, "a number >= 0")
        try check(
            options.kdAlpha == 0 || !options.teachers.isEmpty, "kd_alpha", options.kdAlpha,
            "0 unless teacher1_ckpt (and teacher1.name) are set"
        )
        try check(
            (0..<1).contains(options.momentum), "momentum", options.momentum, "a number in [0, 1)"
        )
        try check(
            options.weightDecay >= 0, "student_weight_decay", options.weightDecay, "a number >= 0"
        )
        guard options.kdAlpha > 0 else { return }
        if options.kdTarget == .teacher {
            try check(
                options.teachers.indices.contains(options.kdTeacherIndex), "kd_teacher_index",
                options.kdTeacherIndex,
                "an index of a configured teacher, 0..<\(options.teachers.count) (0 = teacher1)"
            )
        }
        if let weights = options.teacherWeights {
            try check(
                weights.allSatisfy { $0 >= 0 } && weights.reduce(0, +) > 0, "teacher_weights",
                weights, "non-negative numbers with a positive sum"
            )
            try check(
                options.kdTarget != .avg || weights.count == options.teachers.count,
                "teacher_weights", weights,
                "one weight per teacher (\(options.teachers.count))"
            )
        }
    }

    /// Trains every stage, an A-Step (ASIB runs) then the stage's student epochs, calling
    /// `onEpoch` after each epoch. Teacher and student epochs are numbered across stages and
    /// carry the 1-based stage in the metric `stage`.
    public func train(onEpoch: (EpochReport) throws -> Void) throws -> RunOutcome {
        let started = Date()
        let splits = try DatasetSource.load(options)
        let data = splits.train
        let student = ResNetModel(
            architecture: architecture, inputChannels: data.channels, classes: data.classes,
            seed: options.seed
        )
        let teachers = try loadTeachers(for: data)
        let session = TrainingSession(
            options: options, student: student, teachers: teachers, train: data, test: splits.test
        )
        if let reason = SynergyModule.featureKDSkipReason(
            options: options.asib, studentWidth: student.features
        ) {
            Log.warning(
                "B-Step feature KD skipped for the whole run",
                ["feat_kd_alpha": options.asib.featureKDAlpha, "reason": reason]
            )
        }

        var progress = RunProgress()
        if let resumed = try resume(session) { progress = resumed }
        let teacherEpochs = session.synergy == nil ? 0 : options.asib.teacherAdaptEpochs
        var stageStart = 0
        for (index, epochs) in options.stageEpochs.enumerated() {
            let stage = index + 1
            // ASIB: the A-Step trains IB_MBM, the synergy head and the adapters first.
            let teacherStart = (stage - 1) * teacherEpochs
            if progress.teacherEpochs < stage * teacherEpochs {
                try session.adaptTeachers(
                    stage: stage, start: max(0, progress.teacherEpochs - teacherStart),
                    onEpoch: onEpoch
                ) {
                    progress.teacherEpochs += 1
                    try saveResume(session, progress: progress)
                }
            }
            if progress.studentEpochs == stageStart {
                session.beginStudentStage(stage)
            }
            session.applyStudentFreeze(stage: stage)
            let first = max(stageStart, progress.studentEpochs) + 1
            for epoch in first..<max(first, stageStart + epochs + 1) {
                var metrics = try session.trainEpoch(
                    epoch, stageEpoch: epoch - stageStart, stageEpochs: epochs
                )
                progress.final = session.evaluate()
                progress.best = max(progress.best, progress.final)
                metrics["acc"] = progress.final
                metrics["best_acc"] = progress.best
                metrics["stage"] = Double(stage)
                // The report goes out before the resume state is saved: a run stopped in
                // between trains this epoch again and reports it once more under its next
                // attempt.
                try onEpoch(EpochReport(phase: "student", epoch: epoch, metrics: metrics))
                progress.studentEpochs = epoch
                try saveResume(session, progress: progress)
            }
            stageStart += epochs
        }

        let checkpoint = runDirectory.appendingPathComponent("checkpoint.bin")
        try student.save(to: checkpoint)
        return RunOutcome(
            finalAccuracy: progress.final, bestAccuracy: progress.best,
            seconds: Date().timeIntervalSince(started), checkpoint: checkpoint
        )
    }

    private func loadTeachers(for data: ImageDataset) throws -> TeacherEnsemble? {
        guard options.kdAlpha > 0 else { return nil }
        var models: [ResNetModel] = []
        for (source, architecture) in zip(options.teachers, teacherArchitectures) {
            guard FileManager.default.fileExists(atPath: source.checkpoint) else {
                throw TrainerError.checkpointMissing(
                    path: source.checkpoint, key: source.checkpointKey
                )
            }
            let model = ResNetModel(
                architecture: architecture, inputChannels: data.channels, classes: data.classes,
                seed: 0,
                withGradients: false
            )
            try model.load(try Checkpoint.load(path: source.checkpoint), path: source.checkpoint)
            models.append(model)
        }
        return TeacherEnsemble(
            models: models, target: options.kdTarget, teacherIndex: options.kdTeacherIndex,
            weights: options.teacherWeights, height: data.height, width: data.width
        )
    }
}
