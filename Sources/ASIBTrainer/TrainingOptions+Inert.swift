import ASIBSupport

extension TrainingOptions {
    /// Returns one message per setting that this config makes inert, such as a synergy KD
    /// target without the A-Step. They are valid configs, so the trainer logs them and trains.
    public var inertSettings: [String] {
        var messages: [String] = []
        if kdAlpha > 0 && kdTarget.usesSynergy && !asib.enabled {
            messages.append(
                "kd_target \(kdTarget.rawValue) needs use_ib: true and teacher_adapt_epochs > 0, "
                    + "so the run distils from the teacher average"
            )
        }
        if studentStep.teacher2DecayStartEpoch != nil && studentStep.teacher2DecayLength <= 0 {
            messages.append(
                "teacher2_weight_decay_start_epoch has no effect without "
                    + "teacher2_weight_decay_len > 0"
            )
        }
        if let list = asib.studentEpochsPerStage, list.count > asib.stages {
            messages.append(
                "student_epochs_per_stage has \(list.count) entries for num_stages "
                    + "\(asib.stages); the entries past the last stage are ignored"
            )
        }
        return messages
    }

    /// Logs `inertSettings`, one notice each.
    func logInertSettings() {
        for message in inertSettings {
            Log.notice("setting has no effect", ["detail": message])
        }
    }
}
