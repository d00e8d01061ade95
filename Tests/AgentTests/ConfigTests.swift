import EdgeCore
import EdgeTesting
import Foundation
import Testing
@testable import edge_agent

@Suite struct AgentConfigTests {
    let directory: TemporaryDirectory
    init() throws { directory = try TemporaryDirectory("agent-config") }

    func write(_ text: String) throws -> String {
        let path = directory.file("agent-\(UUID().uuidString).yaml")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func defaultsRunTheSimulatedReefFromACheckout() throws {
        let config = try AgentConfig.load(path: nil, environment: [:], systemPath: "/nonexistent/agent.yaml")
        #expect(config.profilePath == "device-profiles/reef-sim.yaml")
        #expect(config.dataDirectory == "data")
        #expect(config.sync.url == nil)
        #expect(config.source == "built-in defaults")
    }

    @Test func fileValuesThenEnvironmentOverrides() throws {
        let path = try write("""
        device_id: tank-7
        profile: /etc/edge-agent/profiles/reef-pi.yaml
        data_dir: /var/lib/edge-agent
        retention:
          max_age: 30d
          disk_budget: 256MB
        sync:
          url: https://fleet.example:8443
          interval: 15s
          batch_rows: 2000
        """)
        let config = try AgentConfig.load(path: path, environment: ["EDGE_AGENT_DATA_DIR": "/tmp/x", "EDGE_AGENT_SYNC_URL": ""])
        #expect(config.deviceID == "tank-7")
        #expect(config.profilePath == "/etc/edge-agent/profiles/reef-pi.yaml")
        #expect(config.dataDirectory == "/tmp/x")
        #expect(config.retention.maxAge == .seconds(30 * 86_400))
        #expect(config.retention.diskBudgetBytes == 256_000_000)
        #expect(config.sync.url == nil)
        #expect(config.sync.interval == .seconds(15))
        #expect(config.sync.batchRows == 2000)
    }

    @Test func everyErrorAtOnceWithLineAndKey() throws {
        let path = try write("""
        device_id: tank-7
        data_dri: /var/lib
        retention:
          max_age: forever
        sync:
          interval: soon
        log_level: loud
        """)
        // The sync section's problems disable sync only; they are not load errors.
        do {
            _ = try AgentConfig.load(path: path, environment: [:])
            Issue.record("a broken config loaded")
        } catch {
            #expect(error.errors.map(\.description) == [
                "\(path):2:1: data_dri: unknown key (did you mean 'data_dir'?); allowed here: device_id, profile, data_dir, log_level, retention, sync, notify, metrics",
                "\(path):4:12: retention.max_age: 'forever' is not a duration in 1h...3650d; write e.g. 500ms, 10s, 5m, 2h or 7d",
                "\(path):7:12: log_level: 'loud' is not a level; use trace, debug, info, notice, warning, error or critical",
            ])
        }
    }

    @Test func yamlSyntaxErrorNamesTheLine() throws {
        let path = try write("device_id: a\nsync:\n  url: [unclosed\n")
        #expect(throws: ConfigErrors.self) { try AgentConfig.load(path: path, environment: [:]) }
        do { _ = try AgentConfig.load(path: path, environment: [:]) } catch {
            #expect(error.errors.count == 1)
            #expect(error.errors[0].line != nil)
            #expect(error.errors[0].message.hasPrefix("not valid YAML"))
        }
    }

    @Test func durationsAndSizesAsPeopleWriteThem() throws {
        #expect(DurationText.parse("500ms") == .milliseconds(500))
        #expect(DurationText.parse("1h30m") == .seconds(5_400))
        #expect(DurationText.parse("7d") == .seconds(604_800))
        #expect(DurationText.parse("ten") == nil)
        #expect(DurationText.parse("") == nil)
        #expect(DurationText.format(.seconds(5_400)) == "1h30m")
        #expect(DurationText.format(.seconds(90_000)) == "1d1h")
        #expect(try ByteSizeText.parse("512MB", in: 0...Int64.max) == 512_000_000)
        #expect(try ByteSizeText.parse("2GiB", in: 0...Int64.max) == 2_147_483_648)
        #expect(throws: QuantityError("'12 parsecs' is not a size in 0...9223372036854775807; write e.g. 512MB, 2GB or 800kB")) {
            try ByteSizeText.parse("12 parsecs", in: 0...Int64.max)
        }
    }
}

@Suite struct OutputTests {
    let rows = [
        Row([("sensor", .text("tank_temp")), ("value", .number(25.5, decimals: 2)), ("seq", .integer(1))]),
        Row([("sensor", .text("a,b \"c\"")), ("value", .null), ("seq", .integer(22))]),
    ]

    @Test func everyFormatPrintsTheSameColumns() {
        let columns = ["sensor", "value", "seq"]
        #expect(RowPrinter(format: .table, columns: columns).render(rows) == """
        sensor     value  seq
        tank_temp  25.50  1
        a,b "c"    -      22

        """)
        #expect(RowPrinter(format: .csv, columns: columns).render(rows) == "sensor,value,seq\ntank_temp,25.5,1\n\"a,b \"\"c\"\"\",,22\n")
        #expect(RowPrinter(format: .ndjson, columns: columns).render(rows)
                == "{\"sensor\":\"tank_temp\",\"value\":25.5,\"seq\":1}\n{\"sensor\":\"a,b \\\"c\\\"\",\"value\":null,\"seq\":22}\n")
        let json = RowPrinter(format: .json, columns: columns).render(rows)
        let parsed = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]]
        #expect(parsed?.count == 2)
        #expect(parsed?[0]["value"] as? Double == 25.5)
    }

    @Test func sparklineScalesToItsRange() {
        #expect(Sparkline.render([1, 2, 3, 4, 5, 6, 7, 8]) == "▁▂▃▄▅▆▇█")
        #expect(Sparkline.render([5, nil, 5]) == "▄ ▄")
        #expect(Sparkline.render([]) == "")
    }

    @Test func timeArgumentsRelativeAndAbsolute() throws {
        let now: Int64 = 1_767_225_600_000 // 2026-01-01T00:00:00Z
        func ago(_ text: String) throws -> Int64 { try MomentArgument(argument: text).millis("--since", now: now, .ago) }
        #expect(try ago("2h") == now - 7_200_000)
        #expect(try ago("2025-12-31T23:00:00Z") == now - 3_600_000)
        #expect(try ago("2025-12-31") == now - 86_400_000)
        #expect(throws: (any Error).self) { try ago("yesterday-ish") }
        #expect(TimeArgument.iso(now) == "2026-01-01T00:00:00.000Z")
    }
}

@Suite struct SyncSettingsTests {
    let directory: TemporaryDirectory
    init() throws { directory = try TemporaryDirectory("agent-config") }

    func write(_ text: String) throws -> String {
        let path = directory.file("agent-\(UUID().uuidString).yaml")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func syncProblemsNeverFailTheLoad() throws {
        let path = try write("""
        device_id: tank-7
        sync:
          url: http://fleet.example:8080
          interval: 0s
          health_interval: 9223372036854775808s
          batch_rows: 0
          batch_bytes: 1e400
          colour: blue
        """)
        let config = try AgentConfig.load(path: path, environment: ["EDGE_AGENT_SYNC_INTERVAL": "1000000w"])
        #expect(config.sync.problems == [
            "\(path):4:13: sync.interval: '0s' is out of range; allowed: 1s...1d",
            "\(path):5:20: sync.health_interval: '9223372036854775808s' is not a duration in 10s...1d; write e.g. 500ms, 10s, 5m, 2h or 7d",
            "\(path):6:15: sync.batch_rows: '0' is not a whole number in 1...100000",
            "\(path):7:16: sync.batch_bytes: '1e400' is not a size in 1KiB...4MiB; write e.g. 512MB, 2GB or 800kB",
            "\(path):8:3: sync.colour: unknown key; allowed here: url, token_file, ca_file, client_cert, client_key, interval, health_interval, batch_rows, batch_bytes, allow_insecure_http",
            "environment: EDGE_AGENT_SYNC_INTERVAL: '1000000w' is out of range; allowed: 1s...1d",
            "\(path):3:8: sync.url: http:// sends the device token in clear; use https:// (http is only for a local test server, with sync.allow_insecure_http: true)",
        ])
        #expect(config.sync.interval == .seconds(10))
        #expect(config.deviceID == "tank-7")
    }

    @Test func theShippedAgentYamlHasNoProblem() throws {
        let (config, errors) = AgentConfig.resolve(path: AgentBinary.repository.appendingPathComponent("packaging/agent.yaml").path, environment: [:])
        #expect(errors.isEmpty)
        #expect(config.sync.problems.isEmpty)
        #expect(config.sync.url == nil)
        #expect(config.deviceID == ProcessInfo.processInfo.hostName)
    }

    @Test func insecureHTTPOnlyWhenAllowedAndLoopback() throws {
        let allowed = try write("sync:\n  url: http://127.0.0.1:8080\n  allow_insecure_http: true\n")
        #expect(try AgentConfig.load(path: allowed, environment: [:]).sync.problems == [])
        let remote = try write("sync:\n  url: http://fleet.example:8080\n  allow_insecure_http: true\n")
        #expect(try AgentConfig.load(path: remote, environment: [:]).sync.problems == [
            "\(remote):2:8: sync.url: http:// is allowed only to this machine (localhost, 127.0.0.1, ::1); 'fleet.example' is not",
        ])
        let local = try write("sync:\n  url: https://fleet.example:8443\n")
        #expect(try AgentConfig.load(path: local, environment: ["EDGE_AGENT_SYNC_URL": "ftp://x"]).sync.problems == [
            "environment: EDGE_AGENT_SYNC_URL: 'ftp' is not a sync scheme; use https://",
        ])
    }

    @Test func passwordInTheURLIsNeverShown() throws {
        var sync = AgentConfig.Sync()
        sync.url = "https://dev:s3cret@fleet.example:8443/api?x=1"
        #expect(sync.redactedURL == "https://***@fleet.example:8443/api?x=1")
        sync.url = "https://fleet.example:8443/a@b"
        #expect(sync.redactedURL == "https://fleet.example:8443/a@b")
        let path = try write("sync:\n  url: 'ftp://dev:s3cret@fleet.example'\n")
        let problems = try AgentConfig.load(path: path, environment: [:]).sync.problems
        #expect(problems == ["\(path):2:8: sync.url: 'ftp' is not a sync scheme; use https://"])
        let broken = try write("sync:\n  url: 'dev:s3cret@'\n")
        #expect(try AgentConfig.load(path: broken, environment: [:]).sync.problems == [
            "\(broken):2:8: sync.url: '***' is not a URL; write e.g. https://fleet.example:8443",
        ])
    }
}
