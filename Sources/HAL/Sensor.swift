import EdgeCore

/// One physical quantity a sensor reports, as the driver decoded it.
///
/// A failed read is a thrown `SensorError`, never a sentinel value: no 0, no -1,
/// no 85 °C. Downstream stages only ever see numbers a chip actually measured.
public struct Measurement: Sendable, Hashable {
    /// The channel within the sensor: "temperature", "humidity", "pressure", "ph",
    /// "orp", "conductivity", "salinity", "level", "flow", …
    public var channel: String
    public var value: Double
    /// SI-ish unit symbol as stored and displayed: "°C", "%RH", "hPa", "pH", "mV",
    /// "µS/cm", "ppt", "V", "L/min", "state".
    public var unit: String

    public init(channel: String, value: Double, unit: String) {
        self.channel = channel
        self.value = value
        self.unit = unit
    }
}

/// What a sensor can report, known before the first read (for profile validation).
public struct Channel: Sendable, Hashable {
    public var name: String
    public var unit: String
    public init(name: String, unit: String) {
        self.name = name
        self.unit = unit
    }
}

/// A sensor the agent polls. Drivers conform; they are generic over their bus and never
/// know whether the bus is hardware or a simulation.
public protocol Sensor: Sendable {
    /// The channels every successful `read()` returns, in this order.
    var channels: [Channel] { get }
    /// Takes one measurement. May suspend for the chip's mandated conversion delay;
    /// must not block a thread while it waits.
    func read() async throws -> [Measurement]
}
