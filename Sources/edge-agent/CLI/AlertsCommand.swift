import AlertEngine
import ArgumentParser
import EdgeCore
import Foundation
import Profiles

/// The CLI's alert commands open their own engine on the daemon's database, without an
/// output driver: acknowledgements, silences and maintenance are written with their events
/// in one transaction, and the daemon picks them up on its next tick (docs/ALERTS.md).
struct AlertContext {
    let store: AlertStore
    let engine: AlertEngine
    let clock = SystemDeviceClock()

    /// The alert tables as they are, for commands that only look: opened read-only, with no
    /// engine (an engine retires rules the profile no longer has, which writes).
    static func readOnlyStore(_ global: GlobalOptions) throws -> AlertStore {
        try AlertStore(writer: DataPaths(try global.load()).openReadOnly().writer)
    }

    init(_ global: GlobalOptions) throws {
        let config = try global.load()
        let profile: DeviceProfile
        do { profile = try DeviceProfile.load(path: config.profilePath) } catch { throw CLIError(error.description) }
        let database = try DataPaths(config).openExisting()
        store = try AlertStore(writer: database.writer)
        engine = try AlertEngine(rules: profile.alerts, store: store, clock: clock)
    }
}

struct AlertsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alerts",
        abstract: "Alerts pending or firing now (and how long), their history, acknowledge and silence.",
        subcommands: [Active.self, History.self, Ack.self, Silence.self],
        defaultSubcommand: Active.self)

    struct Active: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "active", abstract: "Alerts pending or firing now.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "table, csv, json or ndjson.") var format: OutputFormat = .table

        func run() async throws {
            let store = try AlertContext.readOnlyStore(global)
            let now = SystemDeviceClock().now().unixMillis
            let rows = try store.active().map { a in
                Row([("rule", .text(a.ruleID)), ("sensor", .text(a.sensorID)), ("state", .text(a.state.rawValue)),
                     ("severity", .text(a.severity.rawValue)),
                     ("for", .text(DurationText.format(.milliseconds(max(0, now - a.sinceMillis))))),
                     ("value", a.value.map { .number($0, decimals: 3) } ?? .null),
                     ("acked", .text(a.acknowledged ? "yes" : "no")),
                     ("silenced_until", a.silencedUntilMillis.map { .text(TimeArgument.iso($0)) } ?? .null),
                     ("message", .text(a.message))])
            }
            if let until = try store.maintenanceUntil(), until > now {
                Console.writeError("maintenance mode until \(TimeArgument.iso(until))\n")
            }
            Console.write(RowPrinter(format: format, columns: ["rule", "sensor", "state", "severity", "for", "value", "acked",
                                                                "silenced_until", "message"]).render(rows))
        }
    }

    struct History: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Alert events, newest first.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Only this rule.") var rule: String?
        @Option(help: "At most this many events (1 to 100000).") var limit = CountArgument(argument: "50")
        @Option(help: "table, csv, json or ndjson.") var format: OutputFormat = .table

        static let limitRange = 1 ... 100_000

        func validate() throws { _ = try limit.value("--limit", in: Self.limitRange) }

        func run() async throws {
            let rows = try AlertContext.readOnlyStore(global).history(limit: limit.value("--limit", in: Self.limitRange), ruleID: rule).map { e in
                Row([("sequence", .integer(e.sequence)), ("time", .text(TimeArgument.iso(e.timestampMillis))),
                     ("rule", .text(e.ruleID)), ("sensor", .text(e.sensorID)), ("kind", .text(e.kind.rawValue)),
                     ("severity", .text(e.severity.rawValue)), ("value", e.value.map { .number($0, decimals: 3) } ?? .null),
                     ("threshold", e.threshold.map { .number($0, decimals: 3) } ?? .null), ("message", .text(e.message))])
            }
            Console.write(RowPrinter(format: format, columns: ["sequence", "time", "rule", "sensor", "kind", "severity",
                                                                "value", "threshold", "message"]).render(rows))
        }
    }

    struct Ack: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Acknowledge a firing alert by its rule id.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Rule id.") var rule: String

        func run() async throws {
            let event = try AlertContext(global).engine.acknowledge(ruleID: rule)
            Console.write("acknowledged \(event.ruleID) (event #\(event.sequence))\n")
        }
    }

    struct Silence: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Silence a rule's notifications for a while; it still records and acts.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Rule id.") var rule: String
        @Option(name: .customLong("for"), help: "How long, e.g. 2h (1m to 365d).") var duration: DurationArgument

        static let range = Duration.seconds(60) ... Duration.seconds(365 * 86_400)

        func validate() throws { _ = try duration.value("--for", in: Self.range) }

        func run() async throws {
            let length = try duration.value("--for", in: Self.range)
            let context = try AlertContext(global)
            // A year at most on top of a real clock: far inside Int64 milliseconds.
            let until = context.clock.now().unixMillis + length.saturatingMillis
            let event = try context.engine.silence(ruleID: rule, until: until)
            Console.write("silenced \(event.ruleID) until \(TimeArgument.iso(until))\n")
        }
    }
}

struct MaintenanceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "maintenance",
        abstract: "Silence every rule until a time (water change, probe cleaning); --end stops it.")
    @OptionGroup var global: GlobalOptions
    @Option(help: "Until this time: ISO 8601, or a duration from now like 2h.") var until: MomentArgument?
    @Flag(help: "End maintenance now.") var end = false

    func validate() throws {
        if end { return }
        guard let until else { throw ValidationError("give --until TIME (e.g. 2h) or --end") }
        _ = try until.millis("--until", now: SystemDeviceClock().now().unixMillis, .ahead)
    }

    func run() async throws {
        let context = try AlertContext(global)
        if end {
            _ = try context.engine.maintenance(until: nil)
            Console.write("maintenance ended\n")
            return
        }
        guard let until else { throw ValidationError("give --until TIME (e.g. 2h) or --end") }
        // "2h" here means two hours from now, not ago.
        let untilMillis = try until.millis("--until", now: context.clock.now().unixMillis, .ahead)
        _ = try context.engine.maintenance(until: untilMillis)
        Console.write("maintenance until \(TimeArgument.iso(untilMillis))\n")
    }
}

struct FailsafeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "failsafe",
        abstract: "Drive every declared output to its fail-safe state (systemd runs this after the agent stops or crashes).")
    @OptionGroup var global: GlobalOptions
    @Option(help: "Device profile (overrides the config).") var profile: String?

    /// Reads as little as it can and forgives everything else: a broken agent.yaml is
    /// reported and its readable keys used; of the profile only `buses:` and `outputs:` are
    /// read. Exits 0 when every output it could read is in its fail-safe state.
    func run() async throws {
        let (config, configErrors) = AgentConfig.resolve(path: global.config)
        for error in configErrors { Console.writeError("warning: \(error)\n") }
        let path = profile ?? config.profilePath
        let read: ProfileOutputs
        do { read = try DeviceProfile.loadOutputs(path: path) } catch { throw CLIError(error.description) }
        var failures = read.problems.map(\.description)
        let (outputs, _) = BoardBuilder(clock: SystemDeviceClock()).failSafeOutputs(read.outputs, buses: read.buses)
        for (id, result) in outputs {
            do {
                let output = try result.get()
                try output.line.set(output.failSafe)
                Console.write("\(id): \(output.failSafe ? "on" : "off")\n")
            } catch {
                failures.append("\(id): \(error)")
            }
        }
        guard failures.isEmpty else { throw CLIError(failures.joined(separator: "\n")) }
    }
}
