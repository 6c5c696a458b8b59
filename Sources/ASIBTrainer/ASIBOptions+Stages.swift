import ASIBConfig

extension ASIBOptions {
    mutating func readStagesAndAdapters(_ config: ConfigValue) throws {
        useDistillationAdapter = try config.bool("use_distillation_adapter", default: false)
        distillOutDim = try config.int("distill_out_dim", default: 0)
        distillHiddenDim = try config.int("distill_hidden_dim", default: 0)
        // Checked here, before the IB_MBM width derived from distill_out_dim below.
        for (key, width) in [("distill_out_dim", distillOutDim), ("distill_hidden_dim", distillHiddenDim)]
        where !(0...Self.maxWidth).contains(width) {
            throw TrainerError.invalidOption(
                key: key, value: "\(width)",
                allowed: "0 for the default width, or an integer from 1 to \(Self.maxWidth)"
            )
        }
        trainDistillAdapters = try config.bool("train_distill_adapter_only", default: false)
        let featureKey = try config.string("feat_kd_key", default: "feat_2d")
        guard featureKey == "feat_2d" || featureKey == "distill_feat" else {
            throw TrainerError.invalidOption(
                key: "feat_kd_key", value: featureKey,
                allowed: "feat_2d (the pooled student feature) or distill_feat (the student "
                    + "adapter output, needs use_distillation_adapter: true)"
            )
        }
        queryFromAdapter = featureKey == "distill_feat"
        featureKDAlpha = try config.double("feat_kd_alpha", default: 0)
        featureKDAlphaInA = try config.double("feat_kd_alpha_in_a", default: 0)
        // The original ASIB code sets ib_mbm_out_dim = distill_out_dim before its config
        // lock whenever the adapters are on and distill_out_dim > 0. Our lock hashes the
        // composed config unchanged, so the trainer derives the width here instead. It does
        // so only when no method file, rung file or override set ib_mbm_out_dim. base.yaml
        // gives the key no default, so a present, non-null key was set on purpose and wins.
        let widthSet = config[path: "ib_mbm_out_dim"].map { !$0.isNull } ?? false
        if !widthSet && useDistillationAdapter && distillOutDim > 0 {
            embed = distillOutDim
        }
        teacherFinetuning = try config.bool("use_teacher_finetuning", default: false)

        stages = try config.int("num_stages", default: 1)
        studentEpochsPerStage = try Self.integers(config, "student_epochs_per_stage")
        usePartialFreeze = try config.bool("use_partial_freeze", default: false)
        if let value = config[path: "student_freeze_level"], !value.isNull {
            studentFreezeLevel = try config.int("student_freeze_level")
        }
        studentFreezeLevelSchedule = try Self.integers(config, "student_freeze_level_schedule")
        studentFreezeBN = try config.bool("student_freeze_bn", default: false)
    }

    /// Reads a list of integers, nil when the key is missing or null.
    private static func integers(_ config: ConfigValue, _ key: String) throws -> [Int]? {
        guard let value = config[path: key], !value.isNull else { return nil }
        guard let list = value.listValue else {
            throw TrainerError.invalidOption(
                key: key, value: value.displayText, allowed: "a list of integers, e.g. [2, 2]"
            )
        }
        return try list.map { item in
            guard let number = item.intValue else {
                throw TrainerError.invalidOption(
                    key: key, value: item.displayText, allowed: "a list of integers, e.g. [2, 2]"
                )
            }
            return number
        }
    }

    /// Upper bounds that keep a mistyped value from allocating more memory than any machine
    /// has: stages, and the adapter and IB_MBM widths.
    static let maxStages = 1000
    static let maxWidth = 65_536

    /// Checks the stage, adapter and freeze settings; `studentEpochs` is `student_epochs`.
    func validateStages(studentEpochs: Int) throws {
        if teacherFinetuning {
            throw TrainerError.invalidOption(
                key: "use_teacher_finetuning", value: "true",
                allowed: "false: full teacher fine-tuning is not supported; the teachers' "
                    + "distillation adapters are trained with train_distill_adapter_only: true"
            )
        }
        if !(1...Self.maxStages).contains(stages) {
            throw TrainerError.invalidOption(
                key: "num_stages", value: "\(stages)",
                allowed: "an integer from 1 to \(Self.maxStages)"
            )
        }
        if let list = studentEpochsPerStage {
            if list.count < stages {
                throw TrainerError.invalidOption(
                    key: "student_epochs_per_stage", value: "\(list)",
                    allowed: "one entry per stage (num_stages = \(stages)), or remove the key "
                        + "to give every stage student_epochs"
                )
            }
            if let bad = list.prefix(stages).first(where: { $0 < 1 }) {
                throw TrainerError.invalidOption(
                    key: "student_epochs_per_stage", value: "\(bad)", allowed: "integers >= 1"
                )
            }
        }
        if !(featureKDAlpha >= 0) {
            throw TrainerError.invalidOption(
                key: "feat_kd_alpha", value: "\(featureKDAlpha)",
                allowed: "a number >= 0 (0 turns the B-Step feature-KD term off)"
            )
        }
        if queryFromAdapter && !useDistillationAdapter {
            throw TrainerError.invalidOption(
                key: "feat_kd_key", value: "distill_feat",
                allowed: "feat_2d, or set use_distillation_adapter: true so the student has an "
                    + "adapter output"
            )
        }
    }

    /// Returns the student epochs of every stage, `student_epochs_per_stage` or
    /// `studentEpochs` (`student_epochs`) for each stage.
    func stageEpochs(studentEpochs: Int) -> [Int] {
        if let list = studentEpochsPerStage { return Array(list.prefix(stages)) }
        return [Int](repeating: studentEpochs, count: stages)
    }

    /// Returns the freeze level of the student in the B-Step of a 1-based stage, nil when the
    /// whole student trains.
    ///
    /// The original ASIB stage loop makes every student parameter trainable again after the
    /// A-Step, so its partial freeze never reached a B-Step. Here the freeze applies. With
    /// `student_freeze_level_schedule` it applies in every stage the list covers, and later
    /// stages train fully. With only `student_freeze_level` it applies from stage 2 on,
    /// because a student trained from scratch needs an unfrozen first stage.
    func studentFreezeLevel(stage: Int) -> Int? {
        guard usePartialFreeze else { return nil }
        if let schedule = studentFreezeLevelSchedule {
            return stage <= schedule.count ? schedule[stage - 1] : nil
        }
        guard stage >= 2 else { return nil }
        return studentFreezeLevel
    }
}

extension TrainingOptions {
    /// Student epochs of each stage.
    public var stageEpochs: [Int] { asib.stageEpochs(studentEpochs: epochs) }

    /// Student epochs summed over all stages; the learning-rate schedule spans them.
    public var totalStudentEpochs: Int { stageEpochs.reduce(0, +) }
}
