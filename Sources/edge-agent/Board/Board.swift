import HAL

/// A profile made real: each sensor with its driver on its bus (hardware or simulated,
/// the agent cannot tell), and each output line with its normal and fail-safe states.
struct Board: Sendable {
    var sensors: [BoardSensor]
    var outputs: [String: BoardOutput]
}

struct BoardSensor: Sendable {
    var id: String
    var sensor: any Sensor
    var interval: Duration
    /// One route per channel the driver reports, in the driver's order.
    var channels: [ChannelRoute]
}

/// Where one channel's measurements go: the reading id it is stored under and the filters
/// it passes on the way.
struct ChannelRoute: Sendable {
    var channel: String
    var readingID: String
    var unit: String
    var filters: FilterChain
}

struct BoardOutput: Sendable {
    var line: any GPIOOutputLine
    var normal: Bool
    var failSafe: Bool
}
