import ASIBConfig

/// Settings of the ASIB procedure: the A-Step (IB_MBM and synergy head trained on the frozen
/// student and teachers) and the synergy-aware B-Step. Config key names are those of the
/// original ASIB configs; defaults are its code-level defaults.
public struct ASIBOptions: Equatable, Sendable {
    /// A-Step epochs per stage [teacher_adapt_epochs]; 0 turns the A-Step off.
    public var teacherAdaptEpochs = 0
    /// First A-Step epochs trained on synergy CE only [synergy_only_epochs].
    public var synergyOnlyEpochs = 0
    /// IB KL term, certainty weights and IB_MBM in the B-Step [use_ib].
    public var useIB = false
    public var ibBeta = 1e-3
    public var ibBetaWarmupEpochs = 0
    /// IB_MBM width d, heads, logvar clamp, minimum std [ib_mbm_out_dim, ib_mbm_n_head,
    /// ib_mbm_logvar_clip, ib_mbm_min_std]. Without `ib_mbm_out_dim`, d is `distill_out_dim`
    /// when the adapters are on and it is positive, else 512 (see `readStagesAndAdapters`).
    public var embed = 512
    public var heads = 1
    public var logvarClip = 6.0
    public var minStd = 1e-4
    /// A-Step AdamW: learning rate of the head, IB_MBM at `learningRate * ibLearningRateFactor`
    /// [teacher_lr or a_step_lr, ib_mbm_lr_factor, teacher_weight_decay or a_step_weight_decay].
    public var learningRate = 1e-4
    public var ibLearningRateFactor = 1.0
    public var weightDecay = 1e-4
    /// Weight of the synergy CE after the synergy-only epochs, and its label smoothing
    /// [synergy_ce_alpha, label_smoothing].
    public var synergyCEAlpha = 0.6
    public var synergyLabelSmoothing = 0.0
    /// Synergy-accuracy gate (fraction) for KD in both steps [enable_kd_after_syn_acc].
    public var gateAccuracy = 0.0
    /// A-Step evaluation period in epochs and the EMA factor of the synergy accuracy
    /// [teacher_eval_every, synergy_ema_alpha].
    public var evaluateEvery = 2
    public var synergyEMAAlpha = 0.8
    /// Certainty-weight bounds [min_cw, max_cw].
    public var minCertaintyWeight = 0.1
    public var maxCertaintyWeight = 1.5
    /// Synergy-head dropout and learnable temperature [synergy_head_dropout,
    /// synergy_temp_learnable, synergy_temp_init].
    public var headDropout = 0.0
    public var learnableTemperature = false
    public var initialLogTemperature = 0.0
    /// B-Step: synergy logit scale, temperature of a pure synergy target
    /// [synergy_logit_scale, tau_syn].
    public var synergyLogitScale = 1.0
    public var synergyTemperature: Double?
    /// B-Step KD schedule and limits [kd_cooldown_epochs, kd_max_ratio].
    public var kdCooldownEpochs = 0
    public var kdMaxRatio: Double?
    /// B-Step sample gate [kd_sample_gate, kd_sample_thr, kd_sample_max_ratio,
    /// kd_sample_min_ratio] and entropy weights [kd_uncertainty_weight, kd_uncertainty_min].
    public var sampleGate = false
    public var sampleThreshold = 0.85
    public var sampleMaxRatio = 0.6
    public var sampleMinRatio = 0.1
    public var uncertaintyWeight = 0.0
    public var uncertaintyMin = 0.2
    /// EMA copy of the student in the KD pool [use_ema_teacher, ema_decay, ema_update_every].
    public var useEMATeacher = false
    public var emaDecay = 0.999
    public var emaUpdateEvery = 1
    /// CCCP surrogate in the A-Step [use_cccp_in_a or use_cccp, cccp_alpha, cccp_ramp_epochs].
    public var useCCCP = false
    public var cccpAlpha = 0.15
    public var cccpRampEpochs = 2
    /// Total-loss clamp of the B-Step [use_loss_clamp, loss_clamp_mode, loss_clamp_max].
    public var useLossClamp = false
    public var softLossClamp = true
    public var lossClampMax = 1000.0
    /// Distillation adapters on every teacher and the student [use_distillation_adapter]; their
    /// output width D and hidden width H, 0 for the defaults F / 4 and max(F / 2, D)
    /// [distill_out_dim, distill_hidden_dim]. See `DistillationAdapter`.
    public var useDistillationAdapter = false
    public var distillOutDim = 0
    public var distillHiddenDim = 0
    /// Whether the A-Step trains the adapters [train_distill_adapter_only].
    public var trainDistillAdapters = false
    /// Whether the IB_MBM query is the student adapter output (`feat_kd_key: distill_feat`)
    /// rather than the student's pooled feature (`feat_2d`).
    public var queryFromAdapter = false
    /// Feature-KD weights of the B-Step (see `FeatureKDLoss`) and the A-Step
    /// [feat_kd_alpha, feat_kd_alpha_in_a]. The A-Step computes its term when either is
    /// positive.
    public var featureKDAlpha = 0.0
    public var featureKDAlphaInA = 0.0
    /// When the B-Step skips IB_MBM on batches with the gate open.
    public var synergySkip = SynergySkipOptions()
    /// With `kd_target: synergy`, the first `ensembleEpochs` student epochs of each stage
    /// distil from `(1 - ensembleAlpha) * synergy + ensembleAlpha * teacher side`
    /// [kd_ens_alpha, teacher_adapt_kd_warmup].
    public var ensembleAlpha = 0.0
    public var ensembleEpochs = 0
    /// Stages, each an A-Step and a B-Step [num_stages], and the student epochs of each stage
    /// [student_epochs_per_stage]; nil gives every stage `student_epochs`.
    public var stages = 1
    public var studentEpochsPerStage: [Int]?
    /// Partial freeze of the student in the B-Step [use_partial_freeze, student_freeze_level,
    /// student_freeze_level_schedule, student_freeze_bn]. See `PartialFreeze`.
    public var usePartialFreeze = false
    public var studentFreezeLevel: Int?
    public var studentFreezeLevelSchedule: [Int]?
    public var studentFreezeBN = false
    /// Full teacher fine-tuning in the A-Step [use_teacher_finetuning]; rejected when true.
    public var teacherFinetuning = false

    public init() {}

    /// Whether the run trains IB_MBM and the synergy head (A-Step) and uses them in the B-Step.
    public var enabled: Bool { useIB && teacherAdaptEpochs > 0 }

    init(config: ConfigValue) throws {
        self.init()
        teacherAdaptEpochs = try config.int("teacher_adapt_epochs", default: 0)
        synergyOnlyEpochs = try config.int("synergy_only_epochs", default: 0)
        useIB = try config.bool("use_ib", default: false)
        ibBeta = try config.double("ib_beta", default: ibBeta)
        ibBetaWarmupEpochs = try config.int("ib_beta_warmup_epochs", default: 0)
        embed = try config.int("ib_mbm_out_dim", default: embed)
        heads = try config.int("ib_mbm_n_head", default: heads)
        logvarClip = try config.double("ib_mbm_logvar_clip", default: logvarClip)
        minStd = try config.double("ib_mbm_min_std", default: minStd)
        let teacherRate = try config.double("teacher_lr", default: 0)
        learningRate = teacherRate > 0
            ? teacherRate : try config.double("a_step_lr", default: learningRate)
        let teacherDecay = try config.double("teacher_weight_decay", default: 0)
        weightDecay = teacherDecay > 0
            ? teacherDecay : try config.double("a_step_weight_decay", default: weightDecay)
        ibLearningRateFactor = try config.double("ib_mbm_lr_factor", default: 1)
        synergyCEAlpha = try config.double("synergy_ce_alpha", default: synergyCEAlpha)
        synergyLabelSmoothing = try config.double("label_smoothing", default: 0)
        let gate = try config.double("enable_kd_after_syn_acc", default: 0)
        gateAccuracy = gate > 1.5 ? gate / 100 : gate
        evaluateEvery = try config.int("teacher_eval_every", default: evaluateEvery)
        synergyEMAAlpha = try config.double("synergy_ema_alpha", default: synergyEMAAlpha)
        minCertaintyWeight = try config.double("min_cw", default: minCertaintyWeight)
        maxCertaintyWeight = try config.double("max_cw", default: maxCertaintyWeight)
        headDropout = try config.double("synergy_head_dropout", default: 0)
        learnableTemperature = try config.bool("synergy_temp_learnable", default: false)
        initialLogTemperature = try config.double("synergy_temp_init", default: 0)
        try readStudentStep(config)
        try readStagesAndAdapters(config)
    }

    private mutating func readStudentStep(_ config: ConfigValue) throws {
        synergyLogitScale = try config.double("synergy_logit_scale", default: 1)
        if let value = config[path: "tau_syn"], !value.isNull {
            synergyTemperature = try config.double("tau_syn")
        }
        kdCooldownEpochs = try config.int("kd_cooldown_epochs", default: 0)
        synergySkip = try SynergySkipOptions(config: config)
        try readEnsembleMixing(config)
        if let value = config[path: "kd_max_ratio"], !value.isNull {
            kdMaxRatio = try config.double("kd_max_ratio")
        }
        sampleGate = try config.bool("kd_sample_gate", default: false)
        sampleThreshold = try config.double("kd_sample_thr", default: sampleThreshold)
        sampleMaxRatio = try config.double("kd_sample_max_ratio", default: sampleMaxRatio)
        sampleMinRatio = try config.double("kd_sample_min_ratio", default: sampleMinRatio)
        uncertaintyWeight = try config.double("kd_uncertainty_weight", default: 0)
        uncertaintyMin = try config.double("kd_uncertainty_min", default: uncertaintyMin)
        useEMATeacher = try config.bool("use_ema_teacher", default: false)
        emaDecay = try config.double("ema_decay", default: emaDecay)
        emaUpdateEvery = max(1, try config.int("ema_update_every", default: 1))
        let cccp = try config.bool("use_cccp", default: false)
        useCCCP = try config.bool("use_cccp_in_a", default: cccp)
        cccpAlpha = try config.double("cccp_alpha", default: cccpAlpha)
        cccpRampEpochs = try config.int("cccp_ramp_epochs", default: cccpRampEpochs)
        useLossClamp = try config.bool("use_loss_clamp", default: false)
        let clampMode = try config.string("loss_clamp_mode", default: "soft")
        guard clampMode == "soft" || clampMode == "hard" else {
            throw TrainerError.invalidOption(
                key: "loss_clamp_mode", value: clampMode,
                allowed: "soft (scale the loss down to loss_clamp_max) or hard (cap it there)"
            )
        }
        softLossClamp = clampMode == "soft"
        lossClampMax = try config.double("loss_clamp_max", default: lossClampMax)
    }

    func validate() throws {
        guard enabled else { return }
        if !(1...Self.maxWidth).contains(embed) {
            throw TrainerError.invalidOption(
                key: "ib_mbm_out_dim", value: "\(embed)",
                allowed: "an integer from 1 to \(Self.maxWidth)"
            )
        }
        if heads < 1 || embed % heads != 0 {
            throw TrainerError.invalidOption(
                key: "ib_mbm_n_head", value: "\(heads)",
                allowed: "a divisor of ib_mbm_out_dim (\(embed))"
            )
        }
        if !(0..<1).contains(headDropout) {
            throw TrainerError.invalidOption(
                key: "synergy_head_dropout", value: "\(headDropout)", allowed: "a number in [0, 1)"
            )
        }
    }

    /// Returns the KD weight of a 1-based student epoch after the warm-up. With a cooldown of
    /// Cd epochs, the last Cd epochs use `kdAlpha * (epochs - epoch) / Cd` instead.
    func cooledWeight(_ weight: Double, kdAlpha: Double, epoch: Int, epochs: Int) -> Double {
        let remaining = epochs - epoch
        guard kdCooldownEpochs > 0, remaining < kdCooldownEpochs else { return weight }
        return max(0, kdAlpha * Double(remaining) / Double(kdCooldownEpochs))
    }
}
