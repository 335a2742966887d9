// swift-tools-version:6.1
import PackageDescription

let strictSwift: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "FleetBootstrap",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "MQTT", targets: ["MQTT"]),
        .library(name: "FleetProtocol", targets: ["FleetProtocol"]),
        .executable(name: "provisiond", targets: ["provisiond"]),
        .executable(name: "fleetctl", targets: ["fleetctl"]),
        .executable(name: "omega-agent", targets: ["omega-agent"]),
        .executable(name: "fleet-bench", targets: ["fleet-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", exact: "4.5.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
    ],
    targets: [
        // libmosquitto, seen only by the MQTT wrapper.
        .systemLibrary(
            name: "CMosquitto",
            pkgConfig: "libmosquitto",
            providers: [.apt(["libmosquitto-dev"])]
        ),
        .target(name: "MQTT", dependencies: ["CMosquitto"], swiftSettings: strictSwift),
        // Starts real mosquitto processes for tests and the demo.
        .target(name: "BrokerHarness", swiftSettings: strictSwift),
        .target(
            name: "FleetProtocol",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strictSwift
        ),
        .target(
            name: "Provisioning",
            dependencies: [
                "MQTT", "FleetProtocol",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strictSwift
        ),
        .executableTarget(
            name: "provisiond",
            dependencies: [
                "Provisioning", "MQTT", "FleetProtocol",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSwift
        ),
        .target(
            name: "FleetCtlCore",
            dependencies: ["MQTT", "FleetProtocol", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strictSwift
        ),
        .executableTarget(
            name: "fleetctl",
            dependencies: [
                "FleetCtlCore", "FleetProtocol",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSwift
        ),
        // Simulated devices, a staging site on one machine, and the benchmark built on them.
        .target(
            name: "FleetSim",
            dependencies: [
                "MQTT", "BrokerHarness", "FleetProtocol",
                .product(name: "Crypto", package: "swift-crypto"),
                // The fault scenarios read provisiond's registry to count outcomes.
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strictSwift
        ),
        // Rates and timings (the tests assert behaviour only).
        .executableTarget(
            name: "fleet-bench",
            dependencies: [
                "MQTT", "BrokerHarness", "FleetProtocol", "FleetSim",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strictSwift
        ),
        // The device agent: portable C11, also built by agent/Makefile (Omega2 musl build, sanitizers, fuzz).
        .executableTarget(
            name: "omega-agent",
            path: "agent/src",
            cSettings: [
                .define("_GNU_SOURCE"),
                .unsafeFlags(["-std=c11", "-Wall", "-Wextra", "-Werror"]),
            ],
            linkerSettings: [
                .linkedLibrary("mosquitto"), .linkedLibrary("ssl"), .linkedLibrary("crypto"), .linkedLibrary("json-c"),
            ]
        ),
        .testTarget(name: "MQTTTests", dependencies: ["MQTT", "BrokerHarness"], swiftSettings: strictSwift),
        .testTarget(
            name: "FleetProtocolTests",
            dependencies: ["FleetProtocol"],
            resources: [.copy("Fixtures")],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "AgentTests",
            dependencies: ["MQTT", "BrokerHarness", "FleetProtocol", "FleetSim", "Provisioning"],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "BrokerConfigTests",
            dependencies: [
                "MQTT", "BrokerHarness", "FleetProtocol", "Provisioning",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSwift
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "MQTT", "BrokerHarness", "FleetProtocol", "Provisioning", "FleetCtlCore", "FleetSim",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strictSwift
        ),
    ]
)
