import ArgumentParser
import EdgeCore
import Foundation
import Readings

struct ReadingsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "readings",
        abstract: "Look at stored readings.",
        subcommands: [Dump.self, Stats.self, Salvage.self]
    )

    struct Dump: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print readings, oldest first; --follow tails new ones as the daemon writes them.")

        @OptionGroup var global: GlobalOptions
        @Option(help: "Only this sensor (e.g. tank_temp, room.humidity).") var sensor: String?
        @Option(help: "From this time: ISO 8601, or a duration ago like 2h.") var since: MomentArgument?
        @Option(help: "Up to this time: ISO 8601, or a duration ago.") var until: MomentArgument?
        @Option(help: "table, csv, json or ndjson.") var format: OutputFormat = .table
        @Option(help: "At most this many readings (the newest ones).") var limit: CountArgument?
        @Flag(help: "Keep printing new readings as they are committed.") var follow = false

        func validate() throws {
            let now = SystemDeviceClock().now().unixMillis
            _ = try since?.millis("--since", now: now, .ago)
            _ = try until?.millis("--until", now: now, .ago)
            _ = try limit?.value("--limit", in: 1 ... ReadingQueries.maxLimit)
        }

        func run() async throws {
            let database = try DataPaths(try global.load()).openReadOnly()
            let store = ReadingQueries(database: database, bootID: nil)
            try await DataPaths.reading(database) { try await dump(store) }
        }

        private func dump(_ store: ReadingQueries) async throws {
            let now = SystemDeviceClock().now().unixMillis
            let sinceMillis = try since?.millis("--since", now: now, .ago)
            let untilMillis = try until?.millis("--until", now: now, .ago)
            let limit = try limit?.value("--limit", in: 1 ... ReadingQueries.maxLimit)

            // Newest N, printed oldest first: what `tail` would show.
            var rows = try store.query(sensorID: sensor, sinceMillis: sinceMillis, untilMillis: untilMillis,
                                       limit: limit, newestFirst: limit != nil)
            if limit != nil { rows.reverse() }
            let printer = RowPrinter(format: follow && format == .json ? .ndjson : format, columns: ReadingRow.columns)
            Console.write(printer.render(rows.map(ReadingRow.row)))
            guard follow else { return }

            // Follow from the newest committed reading, whatever the filters printed.
            var cursor = try store.query(sensorID: nil, sinceMillis: nil, untilMillis: nil, limit: 1, newestFirst: true)
                .first?.sequence ?? 0
            while !Task.isCancelled {
                try await Task.sleep(for: .milliseconds(250))
                let fresh = try store.readings(afterSequence: cursor, limit: 1_000)
                for reading in fresh where sensor == nil || reading.sensorID == sensor {
                    Console.write(printer.streamLine(ReadingRow.row(reading)))
                }
                cursor = fresh.last?.sequence ?? cursor
            }
        }
    }

    struct Stats: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Min, max, mean and last per sensor over a window, with a sparkline.")

        @OptionGroup var global: GlobalOptions
        @Option(help: "Window start: ISO 8601, or a duration ago like 24h.") var since = MomentArgument(argument: "24h")
        @Option(help: "Window end.") var until: MomentArgument?
        @Option(help: "table, csv, json or ndjson.") var format: OutputFormat = .table

        func validate() throws {
            let now = SystemDeviceClock().now().unixMillis
            _ = try since.millis("--since", now: now, .ago)
            _ = try until?.millis("--until", now: now, .ago)
        }

        func run() async throws {
            let database = try DataPaths(try global.load()).openReadOnly()
            let store = ReadingQueries(database: database, bootID: nil)
            try await DataPaths.reading(database) { try stats(store) }
        }

        private func stats(_ store: ReadingQueries) throws {
            let now = SystemDeviceClock().now().unixMillis
            let stats = try store.stats(sinceMillis: try since.millis("--since", now: now, .ago),
                                        untilMillis: try until?.millis("--until", now: now, .ago))
            let rows = stats.map { s in
                Row([
                    ("sensor", .text(s.sensorID)), ("unit", .text(s.unit)), ("count", .integer(Int64(s.count))),
                    ("min", .number(s.min, decimals: 3)), ("max", .number(s.max, decimals: 3)),
                    ("mean", .number(s.mean, decimals: 3)), ("last", .number(s.last.value, decimals: 3)),
                    ("last_time", .text(TimeArgument.iso(s.last.timestampMillis))),
                    ("trend", .text(Sparkline.render(s.bucketMeans))),
                ])
            }
            Console.write(RowPrinter(format: format, columns: ["sensor", "unit", "count", "min", "max", "mean", "last", "last_time", "trend"])
                .render(rows))
        }
    }

    /// Exports what can still be read from a database the daemon moved aside as damaged.
    struct Salvage: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print every reading still readable from a damaged database file (one moved aside, see `edge-agent storage`), in sequence order.")

        @Argument(help: "The database file, e.g. /var/lib/edge-agent/edge-agent.sqlite.corrupt-20260101T000000Z.") var file: String
        @Option(help: "ndjson or csv (streamed).") var format: OutputFormat = .ndjson

        func run() async throws {
            guard format == .ndjson || format == .csv else { throw ValidationError("--format must be ndjson or csv: salvage streams") }
            let database = try DataPaths.openReadOnly(path: file)
            let store = ReadingQueries(database: database, bootID: nil)
            let printer = RowPrinter(format: format, columns: ReadingRow.columns)
            if format == .csv { Console.write(ReadingRow.columns.joined(separator: ",") + "\n") }
            let report = try await DataPaths.reading(database) {
                try store.salvage { batch in Console.write(batch.map { printer.streamLine(ReadingRow.row($0)) }.joined()) }
            }
            let skipped = report.skipped.map { "\($0.lowerBound)-\($0.upperBound)" }.joined(separator: ", ")
            Console.writeError("salvaged \(report.readings) readings from \(file)"
                + (skipped.isEmpty ? "\n" : "; unreadable (damaged) sequences: \(skipped)\n"))
        }
    }
}

enum ReadingRow {
    /// `clock` says whether `time` is final (`synced`) or provisional (`unsynced`: taken before
    /// the wall clock was synchronised, not yet re-stamped); `quality` is the measured one.
    static let columns = ["sequence", "time", "sensor", "value", "unit", "quality", "clock"]

    static func row(_ reading: Reading) -> Row {
        Row([
            ("sequence", .integer(reading.sequence)),
            ("time", .text(TimeArgument.iso(reading.timestampMillis))),
            ("sensor", .text(reading.sensorID)),
            ("value", .number(reading.value, decimals: 3)),
            ("unit", .text(reading.unit)),
            ("quality", .text(reading.quality.rawValue)),
            ("clock", .text(reading.clockSynchronized ? "synced" : "unsynced")),
        ])
    }
}
