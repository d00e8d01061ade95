import EdgeCore
import Wire

/// What only the daemon knows about its health (its sensors, alerts and problems); the
/// `HealthMonitor` adds the store's, sync's and the process's figures.
struct AgentHealth: Sendable, Hashable {
    var version: String
    /// When the agent process started, for uptime.
    var startedAt: DeviceTime
    var sensors: [SensorHealth]
    var firingAlerts: Int
    /// Conditions the agent wants the fleet to see, one short sentence each
    /// ("sync disabled: …"); each makes the device degraded.
    var problems: [String]
    /// Conditions that put readings at risk or out of sight ("storage is down: …", a
    /// quarantined database not yet acknowledged); each makes the device unhealthy.
    var criticalProblems: [String]

    init(version: String, startedAt: DeviceTime, sensors: [SensorHealth], firingAlerts: Int, problems: [String] = [],
                criticalProblems: [String] = []) {
        self.version = version
        self.startedAt = startedAt
        self.sensors = sensors
        self.firingAlerts = firingAlerts
        self.problems = problems
        self.criticalProblems = criticalProblems
    }
}
