import ASIBConfig
import Foundation

extension TrainingOptions {
    /// Reads the options from an effective run config. Missing optional keys take the defaults
    /// of `TrainingOptions`; a value of the wrong type throws a `ConfigError` naming the key.
    /// Teachers (`teacher1_ckpt` + `teacher1.name`, `teacher2_ckpt` + `teacher2.name`) are read
    /// only when `kd_alpha > 0`.
    public init(config: ConfigValue) throws {
        self.init()
        seed = UInt64(bitPattern: Int64(try config.int("seed", default: 0)))
        method = try config.string("method_name", default: method)

        dataset = try config.string("dataset.name", default: dataset)
        let root = try config.string("dataset.root", default: "")
        datasetRoot = root.isEmpty ? nil : root
        batchSize = try config.int("dataset.batch_size", default: batchSize)
        trainLimit = try config.int("dataset.train_limit", default: 0)
        testLimit = try config.int("dataset.test_limit", default: 0)
        dataAugmentation = try config.bool("dataset.data_aug", default: false)

        studentModel = try config.string("model.student.name")
        epochs = try config.int("student_epochs")
        let optimizerName = try config.string("optimizer", default: OptimizerKind.sgd.rawValue)
        guard let kind = OptimizerKind(rawValue: optimizerName) else {
            throw TrainerError.invalidOption(
                key: "optimizer", value: optimizerName, allowed: "sgd, adamw"
            )
        }
        optimizer = kind
        learningRate = try config.double("student_lr", default: learningRate)
        weightDecay = try config.double("student_weight_decay", default: weightDecay)
        momentum = try config.double("momentum", default: momentum)
        nesterov = try config.bool("b_step_nesterov", default: nesterov)
        try readSchedule(config)

        ceAlpha = try config.double("ce_alpha", default: ceAlpha)
        kdAlpha = try config.double("kd_alpha", default: kdAlpha)
        temperature = try config.double("tau", default: temperature)
        labelSmoothing = try config.double("ce_label_smoothing", default: 0)
        kdWarmupEpochs = try config.int("kd_warmup_epochs", default: 0)
        useAMP = try config.bool("use_amp", default: false)
        distillation = try DistillationOptions(config: config, methodName: method)
        try distillation.validate(kdAlpha: kdAlpha)
        asib = try ASIBOptions(config: config)
        try asib.validate()
        studentStep = try StudentStepOptions(config: config)
        try studentStep.validate()
        if kdAlpha > 0 { try readTeachers(config) }
    }

    private mutating func readSchedule(_ config: ConfigValue) throws {
        let type = try config.string("schedule.type", default: "cosine")
        switch type {
        case "cosine":
            learningRateDecay = .cosine
        case "step":
            let stepSize = try config.int("schedule.step_size", default: 10)
            let gamma = try config.double("schedule.gamma", default: 0.1)
            guard stepSize >= 1 else {
                throw TrainerError.invalidOption(
                    key: "schedule.step_size", value: "\(stepSize)",
                    allowed: "a number of epochs >= 1 between learning-rate decays"
                )
            }
            guard gamma > 0 && gamma <= 1 else {
                throw TrainerError.invalidOption(
                    key: "schedule.gamma", value: "\(gamma)",
                    allowed: "a factor in (0, 1] that multiplies the learning rate every step_size epochs"
                )
            }
            learningRateDecay = .step(stepSize: stepSize, gamma: gamma)
        case "none":
            learningRateDecay = .constant
        default:
            throw TrainerError.invalidOption(
                key: "schedule.type", value: type,
                allowed: "cosine (linear warm-up, then cosine to schedule.min_lr), step "
                    + "(warm-up, then times schedule.gamma every schedule.step_size epochs) or "
                    + "none (constant after the warm-up)"
            )
        }
        warmupEpochs = try config.int("schedule.lr_warmup_epochs", default: 0)
        minLearningRate = try config.double("schedule.min_lr", default: 0)
    }

    private mutating func readTeachers(_ config: ConfigValue) throws {
        let targetText = try config.string("kd_target", default: KDTarget.teacher.rawValue)
        guard let target = KDTarget(rawValue: targetText) else {
            throw TrainerError.invalidOption(
                key: "kd_target", value: targetText,
                allowed: "teacher, avg, weighted_conf, synergy, auto, auto_min"
            )
        }
        kdTarget = target
        kdTeacherIndex = try config.int("kd_teacher_index", default: 0)
        if let value = config[path: "teacher_weights"], !value.isNull {
            teacherWeights = try config.doubles("teacher_weights")
        }
        teachers = []
        for slot in ["teacher1", "teacher2"] {
            let checkpoint = try config.string("\(slot)_ckpt", default: "")
            guard !checkpoint.isEmpty else { continue }
            teachers.append(TeacherSource(
                model: try config.string("\(slot).name"), checkpoint: checkpoint,
                modelKey: "\(slot).name", checkpointKey: "\(slot)_ckpt"
            ))
        }
    }
}

extension RunTrainer {
    /// Reads the options from an effective run config and checks them.
    public convenience init(config: ConfigValue, runDirectory: URL) throws {
        try self.init(options: TrainingOptions(config: config), runDirectory: runDirectory)
    }

    /// Checks a run before any work starts: the options, the model names and that the dataset
    /// files exist. `pendingTeachers` names the slots (`teacher1`, ...) whose checkpoints
    /// teacher runs of the same sweep write later; those files are not checked.
    public static func preflight(config: ConfigValue, pendingTeachers: [String] = []) throws {
        var config = config
        for slot in pendingTeachers {
            config.set(path: "\(slot)_ckpt", to: .string("(written by the \(slot) run)"))
        }
        let options = try TrainingOptions(config: config)
        _ = try RunTrainer(options: options, runDirectory: URL(fileURLWithPath: "/"))
        try DatasetSource.checkFiles(options)
    }
}
