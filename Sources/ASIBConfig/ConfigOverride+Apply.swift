extension ConfigOverride {
    /// Applies a key override to a plain config, as `asib-worker run CONFIG key=value` does.
    ///
    /// The current value's type is the declared type. Group selections need a config folder
    /// and are rejected here; `ConfigComposer` applies them.
    public func apply(to config: inout ConfigValue) throws {
        var composed = ComposedConfig(value: config)
        try apply(to: &composed, schema: .empty, groups: [])
        config = composed.value
    }

    /// Applies a key override to a composed config, checking the key and the value type.
    ///
    /// The declared type comes from `schema` when it declares the key, otherwise from the value
    /// the key has now. `groups` are offered in "did you mean" hints for unknown keys.
    func apply(to config: inout ComposedConfig, schema: ConfigSchema, groups: Set<String>) throws {
        switch action {
        case .set(let key, let newValue, let mode):
            try checkPresence(of: key, mode: mode, in: config, groups: groups)
            let conformed = try conform(newValue, at: key, schema: schema, current: config.value)
            config.set(key, to: conformed, origin: origin)
        case .delete(let key):
            try checkPresence(of: key, mode: .change, in: config, groups: groups)
            config.remove(key)
        case .select(let group, _, _, _):
            throw ConfigError.invalidOverride(
                text: text, source: source,
                reason: "'\(group)' selects a config group, which needs the config folder; "
                    + "compose the config from its folder instead of a single file"
            )
        }
    }

    private func checkPresence(
        of key: String,
        mode: Mode,
        in config: ComposedConfig,
        groups: Set<String>
    ) throws {
        let exists = config.value[path: key] != nil
        if mode == .change && !exists {
            let known = Set(config.value.flattened().keys).union(ConfigSchema(config.value).maps)
            let suggestion = EditDistance.closest(to: key, in: known.union(groups))
            throw ConfigError.overrideKeyMissing(
                key: key, text: text, source: source, suggestion: suggestion
            )
        }
        if mode == .add && exists {
            throw ConfigError.overrideKeyExists(
                key: key, text: text, source: source, origin: config.origins[key]
            )
        }
    }

    private func conform(
        _ newValue: ConfigValue,
        at key: String,
        schema: ConfigSchema,
        current: ConfigValue
    ) throws -> ConfigValue {
        let declared = schema.leaves[key] != nil || schema.maps.contains(key)
        if declared {
            return try schema.conform(newValue, at: key, origin: origin)
        }
        return try ConfigSchema(current).conform(newValue, at: key, origin: origin)
    }
}
