import ArgumentParser
import Profiles

struct CheckConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate the agent config and a device profile; print every error and exit non-zero if any.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Profile to check (default: the config's).") var profile: String?

    func run() async throws {
        var problems: [String] = []
        var path = profile
        do {
            let config = try global.load()
            path = path ?? config.profilePath
            problems += config.sync.problems
        } catch {
            problems.append("\(error)")
        }
        if let path {
            do {
                let loaded = try DeviceProfile.load(path: path)
                if problems.isEmpty {
                    Console.write("\(path): ok — \(loaded.sensors.count) sensors, \(loaded.outputs.count) outputs, \(loaded.alerts.count) alert rules\n")
                }
            } catch {
                problems += error.errors.map(\.description)
            }
        }
        guard problems.isEmpty else {
            Console.writeError(problems.joined(separator: "\n") + "\n")
            throw ExitCode(78)
        }
    }
}
