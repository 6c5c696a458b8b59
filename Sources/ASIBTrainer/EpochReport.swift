import Foundation

/// Metrics of one finished epoch, sent to the caller after each evaluation.
public struct EpochReport {
    /// "teacher" for the ASIB A-Step epochs, which come first in every stage, then "student".
    public let phase: String
    /// 1-based epoch within the phase, counted across stages.
    public let epoch: Int
    /// Student epochs: acc and best_acc (test accuracy, 0-100), train_acc (0-100, only for
    /// epochs without batch mixing), loss, ce, kd (epoch means over training samples), lr
    /// (mean over the epoch's steps), tau, kd_alpha and epoch_sec. Mixed epochs add
    /// mix_lambda_mean, clipping adds grad_clip_ratio (fraction of clipped steps), and the
    /// second teacher's weight decay adds teacher_w0 and teacher_w1. DKD adds tckd and nckd, FitNet hint, attention transfer at (unweighted
    /// epoch means). The ASIB B-Step adds gate_ratio, kd_syn_ratio, kd_sample_ratio,
    /// kd_clamp_ratio, loss_clamped, kd_unc_w_mean and cw_mean (epoch means of batch values),
    /// and fkd (the feature-KD term, 0 on batches where IB_MBM did not run) when that term
    /// applies.
    ///
    /// A-Step epochs report the synergy test accuracy in percent three ways: synergy_acc is
    /// the accuracy evaluated in this epoch and is absent in epochs without an evaluation.
    /// synergy_acc_ema is the EMA over evaluations (-1 before the first). syn_acc is
    /// synergy_acc when present, else synergy_acc_ema, as the original's
    /// teacher_ep{N}_syn_acc. They also report loss, ce, kd, cccp, ib_kld, cw_mean,
    /// train_acc (synergy head), tau, ib_beta, kd_open, synergy_only and epoch_sec, and fkd
    /// (unweighted A-Step feature KD) when feature KD runs.
    ///
    /// Both phases add stage, the 1-based stage of the epoch.
    public let metrics: [String: Double]
}

/// The result of a finished run.
public struct RunOutcome {
    public let finalAccuracy: Double
    public let bestAccuracy: Double
    public let seconds: Double
    public let checkpoint: URL
}
