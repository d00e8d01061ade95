import ArgumentParser
import Profiles

struct CheckConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate the agent config, what the daemon needs at start (data directory, token file, TLS files, notify credentials) and a device profile; print every error and exit 78 if any.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Profile to check (default: the config's).") var profile: String?

    /// Every problem at once: config errors, sync and notify problems (which would only disable
    /// sync or the broken target), what the daemon needs at start, and the profile's errors.
    func run() async throws {
        var (config, errors) = AgentConfig.resolve(path: global.config)
        if let dataDir = global.dataDir { config.dataDirectory = dataDir }
        var problems = errors.map(\.description) + config.sync.problems + config.notify.problems + StartChecks.problems(config)
        let path = profile ?? config.profilePath
        do {
            let loaded = try DeviceProfile.load(path: path)
            if problems.isEmpty {
                Console.write("\(config.source): ok — sync \(config.sync.redactedURL.map { "to \($0)" } ?? "off"), data in \(config.dataDirectory)\n")
                if !config.notify.targets.isEmpty {
                    let targets = config.notify.targets.map { "\($0.id) (\($0.kind.rawValue))" }
                    Console.write("\(config.source): notify ok — \(targets.joined(separator: ", "))\n")
                }
                Console.write("\(path): ok — \(loaded.sensors.count) sensors, \(loaded.outputs.count) outputs, \(loaded.alerts.count) alert rules\n")
            }
        } catch {
            problems += error.errors.map(\.description)
        }
        guard problems.isEmpty else {
            Console.writeError(problems.joined(separator: "\n") + "\n")
            throw ExitCode(78)
        }
    }
}
