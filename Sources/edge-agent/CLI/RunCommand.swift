import ArgumentParser
import EdgeCore
import Foundation
import HAL
import Logging
import Profiles

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the agent: poll sensors, store readings, evaluate alerts, sync (the systemd service runs this).")

    @OptionGroup var global: GlobalOptions
    @Option(help: "Device profile (overrides the config).") var profile: String?
    @Flag(help: "Poll every sensor once, print what it read, and exit (a dry run; stores nothing).") var once = false

    func run() async throws {
        var config = try global.load()
        if let profile { config.profilePath = profile }
        if once { throw ExitCode(try await pollOnce(config)) }
        let level = Logger.Level(rawValue: config.logLevel) ?? .info
        LoggingSystem.bootstrap { JournalLogHandler(label: $0, level: level) }
        let daemon = Daemon(config: config, logger: Logger(label: "edge-agent"))
        let status = try await daemon.run()
        if status != 0 { throw ExitCode(status) }
    }

    private func pollOnce(_ config: AgentConfig) async throws -> Int32 {
        let profile: DeviceProfile
        do { profile = try DeviceProfile.load(path: config.profilePath) } catch { throw CLIError(error.description) }
        let clock = SystemDeviceClock()
        let board = try BoardBuilder(clock: clock).build(profile)
        let results = await withTaskGroup(of: (Int, Result<[HAL.Measurement], any Error>).self) { group in
            for (index, sensor) in board.sensors.enumerated() {
                group.addTask { (index, await Result(catching: { try await sensor.sensor.read() })) }
            }
            var out = [(Int, Result<[HAL.Measurement], any Error>)]()
            for await result in group { out.append(result) }
            return out.sorted { $0.0 < $1.0 }
        }
        var rows: [Row] = []
        var failed = false
        for (index, result) in results {
            let sensor = board.sensors[index]
            switch result {
            case .success(let measurements):
                for m in measurements {
                    let route = sensor.channels.first { $0.channel == m.channel }
                    rows.append(Row([("sensor", .text(route?.readingID ?? sensor.id)), ("value", .number(m.value, decimals: 3)),
                                     ("unit", .text(route?.unit ?? m.unit)), ("error", .null)]))
                }
            case .failure(let error):
                failed = true
                rows.append(Row([("sensor", .text(sensor.id)), ("value", .null), ("unit", .null), ("error", .text("\(error)"))]))
            }
        }
        Console.write(RowPrinter(format: .table, columns: ["sensor", "value", "unit", "error"]).render(rows))
        return failed ? 1 : 0
    }
}

extension Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
