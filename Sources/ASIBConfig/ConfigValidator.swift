/// Checks on a composed config that no single key can make.
enum ConfigValidator {
    /// Tolerance of the `ce_alpha + kd_alpha == 1` check (absolute).
    static let alphaSumTolerance = 1e-8

    /// Requires `ce_alpha + kd_alpha` to equal 1 unless `strict_mode` is false; a missing
    /// weight counts as 0.
    static func checkAlphaSum(_ composed: ComposedConfig) throws {
        let config = composed.value
        guard try config.bool("strict_mode", default: true) else { return }
        let ce = try config.double("ce_alpha", default: 0)
        let kd = try config.double("kd_alpha", default: 0)
        guard abs(ce + kd - 1) > alphaSumTolerance else { return }
        throw ConfigError.alphaSum(
            ce: ce, ceOrigin: composed.origins["ce_alpha"]?.description ?? "not set",
            kd: kd, kdOrigin: composed.origins["kd_alpha"]?.description ?? "not set"
        )
    }
}
