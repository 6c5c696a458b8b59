import ASIBConfig

/// The distillation loss a method trains with, beside cross-entropy.
public enum DistillationMethod: String, Equatable, Sendable {
    /// Hinton KD on the logits (every method without a loss of its own).
    case kd
    /// Decoupled KD on the logits [method_name dkd].
    case dkd
    /// Logit KD plus a FitNet hint through a trained 1x1 regressor [method_name fitnet].
    case fitnet
    /// Logit KD plus attention transfer on the stage outputs [method_name at].
    case attentionTransfer = "at"
}

/// The feature a FitNet hint compares: the pooled feature or the output of a stage (1-based).
public enum HintLayer: Equatable, Sendable {
    case pooled
    case stage(Int)

    /// Parses `feat_2d` (pooled feature) or `stage1`...`stage3`.
    init?(name: String) {
        if name == "feat_2d" {
            self = .pooled
        } else if name.hasPrefix("stage"), let stage = Int(name.dropFirst(5)),
            (1...3).contains(stage)
        {
            self = .stage(stage)
        } else {
            return nil
        }
    }
}

/// Settings of the distillation loss [dkd_alpha, dkd_beta, hint_layer, hint_beta, at_beta].
public struct DistillationOptions: Equatable, Sendable {
    public var method = DistillationMethod.kd
    /// DKD weights of the target part (TCKD) and the non-target part (NCKD).
    public var dkdAlpha = 1.0
    public var dkdBeta = 2.0
    /// FitNet: the student and teacher feature compared, and the weight of the hint MSE.
    public var hintLayer = HintLayer.stage(2)
    public var hintBeta = 50.0
    /// Attention transfer weight, applied to the sum over the three stages.
    public var attentionBeta = 1000.0

    public init() {}

    /// Reads the settings of `method_name` from an effective run config.
    init(config: ConfigValue, methodName: String) throws {
        self.init()
        method = DistillationMethod(rawValue: methodName) ?? .kd
        dkdAlpha = try config.double("dkd_alpha", default: dkdAlpha)
        dkdBeta = try config.double("dkd_beta", default: dkdBeta)
        let layerName = try config.string("hint_layer", default: "stage2")
        guard let layer = HintLayer(name: layerName) else {
            throw TrainerError.invalidOption(
                key: "hint_layer", value: layerName,
                allowed: "feat_2d (pooled feature), stage1, stage2 or stage3"
            )
        }
        hintLayer = layer
        hintBeta = try config.double("hint_beta", default: hintBeta)
        attentionBeta = try config.double("at_beta", default: attentionBeta)
    }

    /// Whether the method reads teacher features, so it needs a teacher to run.
    var usesTeacherFeatures: Bool { method == .fitnet || method == .attentionTransfer }

    func validate(kdAlpha: Double) throws {
        func check(_ ok: Bool, _ key: String, _ value: Double, _ allowed: String) throws {
            if !ok {
                throw TrainerError.invalidOption(key: key, value: "\(value)", allowed: allowed)
            }
        }
        try check(dkdAlpha >= 0, "dkd_alpha", dkdAlpha, "a number >= 0")
        try check(dkdBeta >= 0, "dkd_beta", dkdBeta, "a number >= 0")
        try check(hintBeta >= 0, "hint_beta", hintBeta, "a number >= 0")
        try check(attentionBeta >= 0, "at_beta", attentionBeta, "a number >= 0")
        // NOTE: teachers are loaded only for kd_alpha > 0, so the feature methods need it too.
        try check(
            !usesTeacherFeatures || kdAlpha > 0, "kd_alpha", kdAlpha,
            "a number > 0 for method_name \(method.rawValue), which reads teacher features"
        )
    }
}
