import Foundation

/// Test hooks that force failures the trainer cannot produce on demand. Each is read from the
/// process environment and is on only when its variable is exactly `1`.
///
/// - `ASIB_FAULT_NONFINITE_WITH_AMP=1`: in a run with `use_amp` true, the first training step
///   reports a NaN loss, so the run fails with `TrainerError.nonFiniteLoss` the way reduced
///   precision can make it fail. A run with `use_amp` false is not affected, which is what a
///   retry without AMP relies on. `asib-sweep launch --local N` passes its environment on to
///   the worker processes.
public enum FaultInjection {
    public static let nonFiniteWithAMPVariable = "ASIB_FAULT_NONFINITE_WITH_AMP"

    static var nonFiniteLossWithAMP: Bool {
        ProcessInfo.processInfo.environment[nonFiniteWithAMPVariable] == "1"
    }
}
