import EdgeCore
import HAL
import Profiles

/// One I2C sensor of the profile opened for a CLI command (`calibrate`, `capture`): its bus
/// (on a simulated bus, with the simulated chip attached), its address, its driver without the
/// daemon's bus-lock wrapper (the command holds the lock itself), and the lock to hold.
struct OpenedSensor {
    let spec: SensorSpec
    let busSpec: BusSpec
    let address: UInt8
    let bus: any I2CBus
    let driver: any Sensor
    /// nil on a simulated bus, which belongs to this process alone.
    let lock: BusLock?

    /// `check` refuses drivers the command cannot handle, with what to do instead.
    static func open(_ id: String, profilePath: String, clock: any DeviceClock,
                     check: (SensorSpec) throws -> Void) throws -> OpenedSensor {
        let loaded: DeviceProfile
        do { loaded = try DeviceProfile.load(path: profilePath) } catch { throw CLIError(error.description) }
        guard let spec = loaded.sensors.first(where: { $0.id == id }) else {
            throw CLIError("no sensor '\(id)' in \(profilePath); sensors: \(loaded.sensors.map(\.id).joined(separator: ", "))")
        }
        try check(spec)
        guard let busSpec = loaded.buses.first(where: { $0.id == spec.bus }), let address = spec.address else {
            throw CLIError("\(id): no I2C bus or address in the profile")
        }
        let opened = try BoardBuilder(clock: clock).open(busSpec, loaded)
        guard case .i2c(let bus, _) = opened else { throw CLIError("\(id): bus '\(busSpec.id)' is not an I2C bus") }
        let built = try opened.attach(spec, clock: clock)
        return OpenedSensor(spec: spec, busSpec: busSpec, address: address, bus: bus,
                            driver: (built as? SharedBusSensor)?.sensor ?? built,
                            lock: busSpec.simulated ? nil : BusLock(bus: busSpec.id))
    }

    /// Runs `body` holding the bus's lock (on hardware).
    func locked<T>(clock: any DeviceClock, _ body: () async throws -> T) async throws -> T {
        guard let lock else { return try await body() }
        return try await lock.holding(clock: clock, body)
    }
}
