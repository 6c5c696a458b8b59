import ASIBConfig

/// The rule that decides whether the B-Step runs IB_MBM on a batch with the synergy gate
/// open. IB_MBM is skipped when the teachers agree on most samples (top-1 disagreement below
/// `skip_syn_disagree_thr`) and the synergy target has recently won few per-sample `auto`
/// choices (running win ratio below `skip_syn_win_thr`). Every `synergy_probe_every`-th
/// optimiser step runs it anyway. A skipped batch distils from the teacher side, as with a
/// closed gate.
public struct SynergySkipOptions: Equatable, Sendable {
    public var disagreementThreshold = 0.15
    public var winRatioThreshold = 0.05
    /// 0 never probes.
    public var probeEvery = 0

    public init() {}

    init(config: ConfigValue) throws {
        self.init()
        disagreementThreshold = try config.double(
            "skip_syn_disagree_thr", default: disagreementThreshold
        )
        winRatioThreshold = try config.double("skip_syn_win_thr", default: winRatioThreshold)
        probeEvery = try config.int("synergy_probe_every", default: 0)
        if probeEvery < 0 {
            throw TrainerError.invalidOption(
                key: "synergy_probe_every", value: "\(probeEvery)",
                allowed: "0 (never probe) or a number of optimiser steps >= 1"
            )
        }
    }

    /// Returns whether IB_MBM runs: not skipped, or skipped but probed at this step.
    func runsSynergy(disagreement: Double, winRatio: Double, step: Int) -> (runs: Bool, probe: Bool) {
        let skip = disagreement < disagreementThreshold && winRatio < winRatioThreshold
        guard skip else { return (true, false) }
        let probe = probeEvery > 0 && step % probeEvery == 0
        return (probe, probe)
    }
}

extension ASIBOptions {
    /// Reads the ensemble mixing of a pure synergy target [kd_ens_alpha,
    /// teacher_adapt_kd_warmup].
    mutating func readEnsembleMixing(_ config: ConfigValue) throws {
        ensembleAlpha = try config.double("kd_ens_alpha", default: 0)
        ensembleEpochs = try config.int("teacher_adapt_kd_warmup", default: 0)
        guard (0...1).contains(ensembleAlpha) else {
            throw TrainerError.invalidOption(
                key: "kd_ens_alpha", value: "\(ensembleAlpha)",
                allowed: "a share in [0, 1] of the teacher side in the synergy target"
            )
        }
    }
}
