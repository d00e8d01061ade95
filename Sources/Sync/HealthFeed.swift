import Wire

/// Where Sync gets the health report it attaches to a batch. The agent builds the report
/// (it alone knows its sensors, alerts and storage problems); Sync only carries it, so it
/// neither decides the device's status nor calls back into the daemon.
public protocol HealthFeed: Sendable {
    /// The report to send now, or nil when there is none yet: the batch then goes without
    /// one and the next batch asks again.
    func latestReport() -> HealthReport?
}
