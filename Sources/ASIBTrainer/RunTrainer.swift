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

    /// Trains `options.epochs` epochs, calling `onEpoch` after each evaluation.
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

        // ASIB: the A-Step trains IB_MBM and the synergy head before the student epochs.
        try session.adaptTeachers(onEpoch: onEpoch)

        var best = 0.0
        var final = 0.0
        var completed = 0
        if let resumed = try resume(session) {
            (completed, best, final) = (resumed.epoch, resumed.bestAccuracy, resumed.finalAccuracy)
        }
        for epoch in (completed + 1)..<(options.epochs + 1) {
            var metrics = try session.trainEpoch(epoch)
            final = session.evaluate()
            best = max(best, final)
            metrics["acc"] = final
            metrics["best_acc"] = best
            // The report goes out before the resume state is saved: a run stopped in between
            // trains this epoch again and reports it once more under its next attempt.
            try onEpoch(EpochReport(phase: "student", epoch: epoch, metrics: metrics))
            try saveResume(session, epoch: epoch, best: best, final: final)
        }

        let checkpoint = runDirectory.appendingPathComponent("checkpoint.bin")
        try student.save(to: checkpoint)
        return RunOutcome(
            finalAccuracy: final, bestAccuracy: best,
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
