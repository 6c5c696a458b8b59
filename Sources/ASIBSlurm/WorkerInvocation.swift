/// Values of the worker command that each array task runs, written into the rendered script.
public struct WorkerInvocation: Equatable, Sendable {
    /// Path of the `asib-worker` executable on the compute nodes.
    public var workerPath: String
    /// Coordinator endpoint, such as `tcp://10.0.0.5:5555`.
    public var endpoint: String
    /// Path of `plan.json` on the compute nodes.
    public var planPath: String
    /// SHA-256 of the plan (64 hexadecimal digits), which the worker checks before training.
    public var planSHA256: String
    /// Which runs of the plan the array's task IDs count: all, or only teachers or students.
    public var runKind: ArrayRunKind

    public init(
        workerPath: String, endpoint: String, planPath: String, planSHA256: String,
        runKind: ArrayRunKind = .all
    ) {
        self.workerPath = workerPath
        self.endpoint = endpoint
        self.planPath = planPath
        self.planSHA256 = planSHA256
        self.runKind = runKind
    }

    /// Throws `SlurmError.invalidOption` for an empty path or endpoint or a malformed hash.
    public func validate() throws {
        let fields = [("worker path", workerPath), ("endpoint", endpoint), ("plan path", planPath)]
        for (name, value) in fields where value.isEmpty {
            throw SlurmError.invalidOption(name: name, value: value, allowed: "a non-empty value")
        }
        let isHex = planSHA256.utf8.allSatisfy {
            (0x30...0x39).contains($0) || (0x61...0x66).contains($0)
        }
        guard planSHA256.utf8.count == 64, isHex else {
            throw SlurmError.invalidOption(
                name: "plan SHA-256", value: planSHA256,
                allowed: "64 lowercase hexadecimal digits, as in plan.json's 'plan_sha256'")
        }
    }
}
