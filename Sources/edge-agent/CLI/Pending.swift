import ArgumentParser
struct RunCommand: AsyncParsableCommand { static let configuration = CommandConfiguration(commandName: "run") }
struct SensorsCommand: AsyncParsableCommand { static let configuration = CommandConfiguration(commandName: "sensors") }
struct StatusCommand: AsyncParsableCommand { static let configuration = CommandConfiguration(commandName: "status") }
struct AlertsCommand: AsyncParsableCommand { static let configuration = CommandConfiguration(commandName: "alerts") }
struct MaintenanceCommand: AsyncParsableCommand { static let configuration = CommandConfiguration(commandName: "maintenance") }
struct SyncCommand: AsyncParsableCommand { static let configuration = CommandConfiguration(commandName: "sync") }
struct CheckConfigCommand: AsyncParsableCommand { static let configuration = CommandConfiguration(commandName: "check-config") }
struct FailsafeCommand: AsyncParsableCommand { static let configuration = CommandConfiguration(commandName: "failsafe") }
