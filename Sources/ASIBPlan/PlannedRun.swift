import ASIBConfig

/// One run of a plan: which index it has, what it trains and how to recompose its config.
public struct PlannedRun: Equatable, Sendable {
    /// Position in the plan, 0..N-1.
    public let index: Int
    /// Readable id, unique in the plan: `teacher1-resnet20-s101`, `vanilla_kd-s1`, `asib-L2-s3`.
    public let runID: String
    /// `teacher` or `student`.
    public let kind: String
    public let method: String
    /// Rung name, or `none`.
    public let rung: String
    public let seed: Int
    /// The config-lock hash of the composed config.
    public let configSHA256: String
    /// Run ids whose checkpoints this run needs (teacher runs for distillation).
    public let dependsOn: [String]
    /// The overrides that recompose this run's config from the primary config.
    public let overrides: [String]

    public init(
        index: Int, runID: String, kind: String, method: String, rung: String, seed: Int,
        configSHA256: String, dependsOn: [String], overrides: [String]
    ) {
        self.index = index
        self.runID = runID
        self.kind = kind
        self.method = method
        self.rung = rung
        self.seed = seed
        self.configSHA256 = configSHA256
        self.dependsOn = dependsOn
        self.overrides = overrides
    }

    /// The run as a plan.json object.
    public var jsonValue: ConfigValue {
        .map([
            "index": .int(index),
            "run_id": .string(runID),
            "kind": .string(kind),
            "method": .string(method),
            "rung": .string(rung),
            "seed": .int(seed),
            "config_sha256": .string(configSHA256),
            "depends_on": .list(dependsOn.map(ConfigValue.string)),
            "overrides": .list(overrides.map(ConfigValue.string)),
        ])
    }

    /// Reads a plan.json run object.
    init(jsonValue value: ConfigValue, position: Int) throws {
        func field<T>(_ key: String, _ convert: (ConfigValue) -> T?) throws -> T {
            guard let item = value[path: key], let converted = convert(item) else {
                throw PlanError.invalidPlanFile(reason: "run \(position) has no valid '\(key)'")
            }
            return converted
        }
        func strings(_ item: ConfigValue) -> [String]? {
            guard let list = item.listValue else { return nil }
            let texts = list.compactMap(\.stringValue)
            return texts.count == list.count ? texts : nil
        }
        self.init(
            index: try field("index") { $0.intValue },
            runID: try field("run_id") { $0.stringValue },
            kind: try field("kind") { $0.stringValue },
            method: try field("method") { $0.stringValue },
            rung: try field("rung") { $0.stringValue },
            seed: try field("seed") { $0.intValue },
            configSHA256: try field("config_sha256") { $0.stringValue },
            dependsOn: try field("depends_on", strings),
            overrides: try field("overrides", strings)
        )
    }
}
