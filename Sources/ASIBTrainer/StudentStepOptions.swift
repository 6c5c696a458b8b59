import ASIBConfig

/// The batch mixing of the student step: none, mixup or CutMix.
public enum MixMode: String, Equatable, Sendable {
    case none
    case mixup
    case cutmix
}

/// The batch a teacher-side forward sees while the student trains on a mixed batch.
public enum MixView: String, Equatable, Sendable {
    /// The batch before mixing.
    case clean
    /// The mixed batch that the student sees.
    case mixed
}

/// Settings of the student step beyond the loss weights: batch mixing, the views of the
/// teacher-side forwards, the two-view KD target, confidence weighting, the decay of the
/// second teacher's averaging weight and gradient clipping. Config key names are given in
/// brackets; defaults are those of the original ASIB code.
public struct StudentStepOptions: Equatable, Sendable {
    /// Beta(alpha, alpha) parameters of mixup and CutMix; 0 turns each off and CutMix wins
    /// when both are above 0 [mixup_alpha, cutmix_alpha_distill].
    public var mixupAlpha = 0.0
    public var cutmixAlpha = 0.0
    /// Inputs of the KD teachers (and the EMA student) and of the synergy query
    /// [kd_target_view, synergy_view].
    public var kdTargetView = MixView.clean
    public var synergyView = MixView.clean
    /// Two-view KD target in the 1-based student epochs `start..<stop`
    /// [kd_target_mode two_view, kd_two_view_start_epoch, kd_two_view_stop_epoch].
    public var twoView = false
    public var twoViewStartEpoch = 1
    public var twoViewStopEpoch = 1 << 30
    /// Temperature of the confidence weights `max softmax(t / tau_gate)`; nil uses 2.0 for
    /// the two-view target and 1.0 for `kd_target: weighted_conf` [tau_gate].
    public var gateTemperature: Double?
    /// Linear decay of the second teacher's averaging weight to 0 over `len` epochs from
    /// `start` [teacher2_weight_decay_start_epoch, teacher2_weight_decay_len]; off when the
    /// start is nil or the length is 0.
    public var teacher2DecayStartEpoch: Int?
    public var teacher2DecayLength = 0
    /// Maximum global L2 norm of the student gradient; 0 turns clipping off [grad_clip_norm].
    public var gradientClipNorm = 0.0

    public init() {}

    /// The mixing of every batch: CutMix when its alpha is above 0, else mixup when its alpha
    /// is above 0, else none.
    public var mixMode: MixMode {
        if cutmixAlpha > 0 { return .cutmix }
        return mixupAlpha > 0 ? .mixup : .none
    }

    /// Returns whether the two-view target is on in a 1-based student epoch, which also
    /// needs batch mixing.
    public func twoViewActive(epoch: Int) -> Bool {
        twoView && mixMode != .none && twoViewStartEpoch <= epoch && epoch < twoViewStopEpoch
    }

    init(config: ConfigValue) throws {
        self.init()
        mixupAlpha = try config.double("mixup_alpha", default: 0)
        cutmixAlpha = try config.double("cutmix_alpha_distill", default: 0)
        kdTargetView = try Self.view(config, key: "kd_target_view")
        synergyView = try Self.view(config, key: "synergy_view")
        let mode = try config.string("kd_target_mode", default: "clean")
        guard mode == "clean" || mode == "two_view" else {
            throw TrainerError.invalidOption(
                key: "kd_target_mode", value: mode,
                allowed: "clean (KD target from one view) or two_view (mixed-probability target)"
            )
        }
        twoView = mode == "two_view"
        twoViewStartEpoch = try config.int("kd_two_view_start_epoch", default: twoViewStartEpoch)
        twoViewStopEpoch = try config.int("kd_two_view_stop_epoch", default: twoViewStopEpoch)
        if let value = config[path: "tau_gate"], !value.isNull {
            gateTemperature = try config.double("tau_gate")
        }
        if let value = config[path: "teacher2_weight_decay_start_epoch"], !value.isNull {
            teacher2DecayStartEpoch = try config.int("teacher2_weight_decay_start_epoch")
        }
        teacher2DecayLength = try config.int("teacher2_weight_decay_len", default: 0)
        gradientClipNorm = try config.double("grad_clip_norm", default: 0)
    }

    private static func view(_ config: ConfigValue, key: String) throws -> MixView {
        let text = try config.string(key, default: MixView.clean.rawValue)
        guard let view = MixView(rawValue: text) else {
            throw TrainerError.invalidOption(
                key: key, value: text,
                allowed: "clean (the batch before mixing) or mixed (the student's mixed batch)"
            )
        }
        return view
    }

    func validate() throws {
        func check(_ ok: Bool, _ key: String, _ value: Any, _ allowed: String) throws {
            if !ok {
                throw TrainerError.invalidOption(key: key, value: "\(value)", allowed: allowed)
            }
        }
        try check(
            mixupAlpha >= 0 && mixupAlpha.isFinite, "mixup_alpha", mixupAlpha,
            "a finite number >= 0 (0 = off)"
        )
        try check(
            cutmixAlpha >= 0 && cutmixAlpha.isFinite, "cutmix_alpha_distill", cutmixAlpha,
            "a finite number >= 0 (0 = off)"
        )
        if twoView {
            try check(
                twoViewStartEpoch < twoViewStopEpoch, "kd_two_view_start_epoch",
                twoViewStartEpoch,
                "an epoch before kd_two_view_stop_epoch (\(twoViewStopEpoch)), or the "
                    + "two-view target never runs"
            )
        }
        if let gateTemperature {
            try check(gateTemperature > 0, "tau_gate", gateTemperature, "a number > 0")
        }
        try check(
            teacher2DecayLength >= 0, "teacher2_weight_decay_len", teacher2DecayLength,
            "an integer >= 0 (0 = no decay)"
        )
        try check(
            gradientClipNorm >= 0, "grad_clip_norm", gradientClipNorm, "a number >= 0 (0 = off)"
        )
    }

    /// Returns the averaging weights of a 1-based student epoch: with the decay on and at
    /// least two teachers, `w_2 * (1 - clamp((epoch - start) / len, 0, 1))`, then every weight
    /// divided by `sum + 1e-8`.
    func averagingWeights(_ raw: [Double], epoch: Int) -> [Float] {
        var weights = raw
        if let start = teacher2DecayStartEpoch, teacher2DecayLength > 0, weights.count >= 2 {
            let progress = Double(epoch - start) / Double(teacher2DecayLength)
            weights[1] *= 1 - min(max(progress, 0), 1)
        }
        let total = weights.reduce(0, +)
        return weights.map { Float($0 / (total + 1e-8)) }
    }
}
