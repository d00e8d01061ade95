import ArgumentParser
import EdgeCore
import Foundation
import Readings

/// Damaged databases the daemon moved aside: list them, and acknowledge them once what
/// could be read was exported, which ends the unhealthy state they cause.
struct StorageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "storage",
        abstract: "Databases moved aside as damaged; acknowledge them with `storage ack`.",
        subcommands: [Quarantined.self, Ack.self],
        defaultSubcommand: Quarantined.self)

    struct Quarantined: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "quarantined", abstract: "Damaged databases not yet acknowledged.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "table, csv, json or ndjson.") var format: OutputFormat = .table

        func run() async throws {
            let log = QuarantineLog(path: DataPaths(try global.load()).quarantineLog)
            Console.write(RowPrinter(format: format, columns: StorageCommand.columns).render(try log.unacknowledged().map(StorageCommand.row)))
        }
    }

    struct Ack: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ack",
            abstract: "Acknowledge every damaged database moved aside so far; the device is no longer unhealthy for them.")
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            let log = QuarantineLog(path: DataPaths(try global.load()).quarantineLog)
            let acknowledged = try log.acknowledge(at: SystemDeviceClock().now())
            guard !acknowledged.isEmpty else {
                Console.write("no damaged database waiting for acknowledgement\n")
                return
            }
            for entry in acknowledged { Console.write("acknowledged \(entry.movedTo)\n") }
            Console.write("the moved files stay where they are; delete them when you no longer need them\n")
        }
    }

    static let columns = ["time", "moved_to", "reason"]

    static func row(_ entry: QuarantineLog.Entry) -> Row {
        Row([("time", .text(TimeArgument.iso(entry.atMillis))), ("moved_to", .text(entry.movedTo)), ("reason", .text(entry.reason))])
    }
}
