/// The config lock: the SHA-256 of an effective config's canonical JSON after runtime-only
/// keys are removed.
///
/// The planner, the coordinator and every worker compute it the same way, so equal hashes mean
/// the same training settings.
public enum ConfigLock {
    /// Top-level keys that are dropped before hashing: the keys that this implementation may
    /// change after the lock, and records that stored effective configs carry.
    ///
    /// - `use_amp`: a safe retry turns it off after the lock.
    /// - `teacher1_ckpt`, `teacher2_ckpt`: the worker fills in the teacher runs' checkpoint
    ///   paths, which depend on the results folder.
    /// - `config_sha256`, `locked`, `_locked_config`: the lock's own record, which a stored
    ///   effective config of the Python tooling carries.
    /// - `total_time_sec`, `final_student_acc`, `last_synergy_acc`, `last_synergy_acc_pct`:
    ///   result and timing keys that the Python tooling writes into stored configs.
    ///
    /// Every other key is covered, including the knobs that the Python tooling drops but this
    /// trainer never changes after the lock (`optimizer`, `kd_sample_thr`,
    /// `kd_two_view_start_epoch`, the IB dimensions, `num_classes`).
    public static let droppedKeys: Set<String> = [
        "use_amp", "teacher1_ckpt", "teacher2_ckpt", "config_sha256", "locked", "_locked_config",
        "total_time_sec", "final_student_acc", "last_synergy_acc", "last_synergy_acc_pct",
    ]

    /// Prefixes of top-level metric keys that are dropped before hashing.
    ///
    /// `student_ep`, `teacher_ep` and `epoch` match only when a digit follows
    /// (`student_ep3_acc`, `epoch12_tau`), so the training length `student_epochs` stays
    /// covered by the hash. `csv_` keys are always dropped.
    public static let droppedMetricPrefixes = ["student_ep", "teacher_ep", "epoch"]
    public static let droppedPrefixes = ["csv_"]

    /// Returns `config` without the dropped top-level keys; a non-map is returned unchanged.
    public static func sanitize(_ config: ConfigValue) -> ConfigValue {
        guard case .map(let map) = config else { return config }
        return .map(map.filter { key, _ in !isDropped(key) })
    }

    /// Returns whether the lock ignores a top-level key.
    public static func isDropped(_ key: String) -> Bool {
        if droppedKeys.contains(key) { return true }
        if droppedPrefixes.contains(where: key.hasPrefix) { return true }
        return droppedMetricPrefixes.contains { prefix in
            key.hasPrefix(prefix) && key.dropFirst(prefix.count).first?.isNumber == true
        }
    }

    /// Computes the SHA-256 (lower-case hex) of the canonical JSON of `config` as given.
    ///
    /// Callers hash `sanitize(config)` for the lock; hashing an already-sanitized text (such
    /// as a stored `_locked_config`) needs no second pass.
    public static func hash(_ config: ConfigValue) -> String {
        SHA256.hex(of: CanonicalJSON.string(config))
    }

    /// Computes the lock hash of an effective config: `hash(sanitize(config))`.
    public static func lockHash(_ config: ConfigValue) -> String {
        hash(sanitize(config))
    }
}
