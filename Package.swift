// swift-tools-version:5.10
import PackageDescription

// Release builds of the numeric code skip overflow and bounds checks: the kernels walk raw
// buffers whose sizes are checked once per layer, not once per element.
let numericFlags: [SwiftSetting] = [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]

let package = Package(
    name: "asib-sweep",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "asib-sweep", targets: ["asib-sweep"]),
        .executable(name: "asib-worker", targets: ["asib-worker"]),
        .executable(name: "asib-bench", targets: ["asib-bench"]),
    ],
    targets: [
        // C libraries from Debian, linked through module maps.
        .systemLibrary(name: "CBLAS", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZMQ", providers: [.apt(["libzmq3-dev"])]),
        .systemLibrary(name: "CYAML", providers: [.apt(["libyaml-dev"])]),
        .systemLibrary(name: "CSQLite", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CSodium", providers: [.apt(["libsodium-dev"])]),

        .target(name: "ASIBSupport"),
        .target(name: "ASIBConfig", dependencies: ["ASIBSupport", "CYAML", "CSodium"]),
        .target(name: "ASIBPlan", dependencies: ["ASIBSupport", "ASIBConfig"]),
        .target(
            name: "ASIBTrainer",
            dependencies: ["ASIBSupport", "ASIBConfig", "CBLAS", "CZlib"],
            swiftSettings: numericFlags
        ),
        .target(name: "ASIBWire", dependencies: ["ASIBSupport", "CZMQ"]),
        .target(
            name: "ASIBCoordinator",
            dependencies: ["ASIBSupport", "ASIBConfig", "ASIBPlan", "ASIBWire", "CSQLite"]
        ),
        .target(name: "ASIBSlurm", dependencies: ["ASIBSupport", "ASIBPlan"]),
        .target(
            name: "ASIBWorker",
            dependencies: ["ASIBSupport", "ASIBConfig", "ASIBPlan", "ASIBWire", "ASIBTrainer"]
        ),

        .executableTarget(
            name: "asib-sweep",
            dependencies: [
                "ASIBSupport", "ASIBConfig", "ASIBPlan", "ASIBCoordinator", "ASIBSlurm",
                "ASIBTrainer", "ASIBWire",
            ]
        ),
        .executableTarget(
            name: "asib-worker",
            dependencies: ["ASIBSupport", "ASIBPlan", "ASIBSlurm", "ASIBWorker"]
        ),
        .executableTarget(
            name: "asib-bench",
            dependencies: ["ASIBSupport", "ASIBTrainer"],
            swiftSettings: numericFlags
        ),

        .testTarget(name: "ASIBConfigTests", dependencies: ["ASIBConfig", "ASIBPlan"]),
        // Fixtures are read by path from the source tree (#filePath), not bundled as resources.
        .testTarget(
            name: "ASIBTrainerTests",
            dependencies: ["ASIBTrainer"],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "ASIBCoordinatorTests",
            dependencies: ["ASIBCoordinator", "ASIBWire", "ASIBPlan"]
        ),
        .testTarget(name: "ASIBSlurmTests", dependencies: ["ASIBSlurm", "ASIBPlan"]),
        .testTarget(name: "EndToEndTests", dependencies: ["ASIBSupport", "ASIBWire"]),
    ]
)
