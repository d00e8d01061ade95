// swift-tools-version:6.1
import PackageDescription
import Foundation

// The device build (`swift build --product edge-agent`) compiles only what the agent
// links. `EDGE_DEVICE_ONLY=1` also drops the fleet server and the benchmark from the
// package graph, so a Pi never even fetches SwiftNIO, Hummingbird or postgres-nio.
let deviceOnly = ProcessInfo.processInfo.environment["EDGE_DEVICE_ONLY"] == "1"

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

/// The major version of the libgpiod the build links, read from its pkg-config file the way
/// pkg-config finds it (PKG_CONFIG_PATH, then PKG_CONFIG_LIBDIR or the default directories;
/// scripts/build-arm64.sh points PKG_CONFIG_LIBDIR into the target's sysroot). 2.x replaced 1.6's whole C API, so HAL
/// compiles one of two GPIO backends (Sources/HAL/Linux). Parsed here rather than by running
/// pkg-config, which a Pi or a build chroot may not have; without any libgpiod.pc it is 1.
let gpiodMajor: Int = {
    let env = ProcessInfo.processInfo.environment
    let fm = FileManager.default
    func dirs(_ list: String?) -> [String] { (list ?? "").split(separator: ":").map(String.init) }
    var search = dirs(env["PKG_CONFIG_PATH"])
    if let libdir = env["PKG_CONFIG_LIBDIR"] {
        search += dirs(libdir)
    } else {
        let multiarch = ((try? fm.contentsOfDirectory(atPath: "/usr/lib")) ?? []).filter { $0.hasSuffix("-linux-gnu") }
        search += multiarch.map { "/usr/lib/\($0)/pkgconfig" } + ["/usr/lib/pkgconfig", "/usr/share/pkgconfig"]
    }
    for dir in search {
        guard let pc = try? String(contentsOfFile: dir + "/libgpiod.pc", encoding: .utf8) else { continue }
        for line in pc.split(separator: "\n") where line.hasPrefix("Version:") {
            let version = line.dropFirst("Version:".count).trimmingCharacters(in: .whitespaces)
            return Int(version.prefix { $0.isNumber }) ?? 1
        }
    }
    return 1
}()
let halSettings = swiftSettings + (gpiodMajor >= 2 ? [.define("GPIOD_V2")] : [])

var products: [Product] = [
    .executable(name: "edge-agent", targets: ["edge-agent"]),
    // Simulated hardware ships as a library so users can test their own profiles and
    // replay register dumps, the way Hummingbird ships HummingbirdTesting.
    .library(name: "HALSimulation", targets: ["HALSimulation"]),
    // What every test target shares: exact clocks, temporary directories, the built binaries,
    // child processes, and a bus that asserts the exact transactions a driver makes.
    .library(name: "EdgeTesting", targets: ["EdgeTesting"]),
]

var dependencies: [Package.Dependency] = [
    .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
    .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
]

var targets: [Target] = [
    // C libraries. Shims exist only where Swift cannot call the C API directly
    // (variadic ioctl and curl_easy_setopt).
    .target(name: "CI2C", linkerSettings: [.linkedLibrary("i2c")]),
    .systemLibrary(name: "CGPIOD", providers: [.apt(["libgpiod-dev"])]),
    .target(name: "CCurl", linkerSettings: [.linkedLibrary("curl")]),
    .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
    .target(name: "CTimex"),
    // The libcurl plumbing Sync and Notify share: answer capture, cancellation, the multi loop.
    .target(name: "EdgeCurl", dependencies: ["CCurl"], swiftSettings: swiftSettings),

    // The vocabulary every stage shares: the sample, clocks, bounded quantities.
    .target(name: "EdgeCore", dependencies: ["CTimex"], swiftSettings: swiftSettings),
    .target(name: "EdgeTesting", dependencies: ["EdgeCore", "HAL"], swiftSettings: swiftSettings),

    // sensor → driver → filters
    .target(name: "HAL", dependencies: ["EdgeCore", "CI2C", "CGPIOD", .product(name: "Logging", package: "swift-log")], swiftSettings: halSettings),
    .target(name: "HALSimulation", dependencies: ["HAL", "EdgeCore"], swiftSettings: swiftSettings),
    // device-profiles/*.yaml → sensor specs and alert rules
    .target(name: "Profiles", dependencies: ["HAL", "HALSimulation", "AlertEngine", "EdgeCore", "Yams", .product(name: "Logging", package: "swift-log")], swiftSettings: swiftSettings),
    // → Readings (SQLite)
    .target(name: "Readings", dependencies: ["EdgeCore", .product(name: "GRDB", package: "GRDB.swift")], swiftSettings: swiftSettings),
    // → AlertEngine (events in SQLite)
    .target(name: "AlertEngine", dependencies: ["EdgeCore", "Wire", .product(name: "GRDB", package: "GRDB.swift")], swiftSettings: swiftSettings),
    // The wire format shared by agent and server: no package dependencies.
    .target(name: "Wire", dependencies: ["CZlib"], swiftSettings: swiftSettings),
    // → Sync (HTTPS through libcurl)
    .target(name: "Sync", dependencies: ["Readings", "Wire", "EdgeCore", "CCurl", "EdgeCurl", .product(name: "GRDB", package: "GRDB.swift"), .product(name: "Logging", package: "swift-log")], swiftSettings: swiftSettings),
    // → Notify (alert events to a person: ntfy, webhooks, Telegram, Pushover, e-mail through libcurl).
    // Reads events through NotifyEventSource, not AlertEngine, as Sync does.
    // What the device's Notify and the fleet server's notifications share: the receiver
    // description, what a message says and its rendering per kind, the transport contract, what
    // an answer means, and the libcurl transport. No NIO and no GRDB, so the device links it as is.
    .target(name: "NotifyDelivery", dependencies: ["EdgeCore", "Wire", "CCurl", "EdgeCurl"], swiftSettings: swiftSettings),
    .target(name: "Notify", dependencies: ["NotifyDelivery", "EdgeCore", "Wire", .product(name: "GRDB", package: "GRDB.swift"), .product(name: "Logging", package: "swift-log")], swiftSettings: swiftSettings),
    .executableTarget(name: "edge-agent", dependencies: [
        "HAL", "HALSimulation", "Profiles", "Readings", "AlertEngine", "Sync", "Notify", "NotifyDelivery", "Wire", "EdgeCore",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Logging", package: "swift-log"),
        "Yams",
    ], swiftSettings: swiftSettings),

    // The footprint baseline edge-bench measures beside the agent: built like it, does nothing.
    .executableTarget(name: "footprint-floor", swiftSettings: swiftSettings),

    .testTarget(name: "EdgeCoreTests", dependencies: ["EdgeCore"], swiftSettings: swiftSettings),
    .testTarget(name: "HALTests", dependencies: ["EdgeTesting", "HAL", "HALSimulation", "EdgeCore", .product(name: "Logging", package: "swift-log")], swiftSettings: swiftSettings),
    .testTarget(name: "ProfilesTests", dependencies: ["EdgeTesting", "Profiles", "HAL", "HALSimulation", "AlertEngine"], swiftSettings: swiftSettings),
    .testTarget(name: "ReadingsTests", dependencies: ["EdgeTesting", "Readings", "EdgeCore"], swiftSettings: swiftSettings),
    .testTarget(name: "AlertEngineTests", dependencies: ["EdgeTesting", "AlertEngine", "EdgeCore", .product(name: "GRDB", package: "GRDB.swift")], swiftSettings: swiftSettings),
    .testTarget(name: "WireTests", dependencies: ["Wire"], swiftSettings: swiftSettings),
    .testTarget(name: "NotifyTests", dependencies: ["Notify", "NotifyDelivery", "EdgeTesting", "Wire", "EdgeCore", .product(name: "GRDB", package: "GRDB.swift")], swiftSettings: swiftSettings),
    .testTarget(name: "AgentTests", dependencies: ["EdgeTesting", "edge-agent", "NotifyDelivery", "Readings", "EdgeCore", .product(name: "GRDB", package: "GRDB.swift")], swiftSettings: swiftSettings),
]

if !deviceOnly {
    dependencies += [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        // The fleet server's worker pool is a service of its application.
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        // The server's /metrics (Prometheus text) and the dashboard's HTML templates.
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
    ]
    products += [
        .executable(name: "fleet-server", targets: ["fleet-server"]),
        .executable(name: "edge-bench", targets: ["edge-bench"]),
        .library(name: "FleetServerTesting", targets: ["FleetServerTesting"]),
    ]
    targets += [
        .target(name: "FleetServer", dependencies: [
            "Wire", "EdgeCore", "NotifyDelivery",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "Mustache", package: "swift-mustache"),
        ], swiftSettings: swiftSettings),
        // The fleet server against a throwaway PostgreSQL over real TLS, for the sync tests
        // and the benchmark (and for anyone testing their own fleet setup).
        .target(name: "FleetServerTesting", dependencies: [
            "FleetServer", "EdgeTesting", "Wire",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: swiftSettings),
        .executableTarget(name: "fleet-server", dependencies: [
            "FleetServer",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: swiftSettings),
        .executableTarget(name: "edge-bench", dependencies: [
            "Readings", "AlertEngine", "Sync", "Notify", "NotifyDelivery", "Wire", "FleetServer", "FleetServerTesting", "Profiles", "EdgeCore", "EdgeTesting",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "GRDB", package: "GRDB.swift"),
            // The raw sqlite3 C API: the baseline local ingest is measured against.
            .product(name: "GRDBSQLite", package: "GRDB.swift"),
            // The drain's acking TLS endpoint and PostgreSQL COPY baseline.
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "HummingbirdTLS", package: "hummingbird"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: swiftSettings),
        // The server's HTTP rules in-process, against a store in memory.
        .testTarget(name: "FleetServerTests", dependencies: [
            "FleetServer", "FleetServerTesting", "Wire", "EdgeCore", "EdgeTesting", "NotifyDelivery",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: swiftSettings),
        .testTarget(name: "SyncTests", dependencies: [
            "EdgeTesting", "Sync", "Wire", "FleetServer", "FleetServerTesting", "Readings", "AlertEngine", "EdgeCore", "NotifyDelivery",
            // The agent's HealthMonitor, which the engine tests' health feed builds reports with,
            // and its AlertEventFeed, which carries the real alert events end to end.
            "edge-agent",
            .product(name: "PostgresNIO", package: "postgres-nio"),
            // SyncCurlTransportTests' echo server speaks TLS through Hummingbird's.
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTLS", package: "hummingbird"),
        ], swiftSettings: swiftSettings),
    ]
}

let package = Package(
    name: "reef-edge",
    platforms: [.macOS(.v14)],
    products: products,
    dependencies: dependencies,
    targets: targets
)
