import AlertEngine
import HAL
import HALSimulation
import Yams

extension Reader {
    mutating func profile(_ root: Node) -> DeviceProfile? {
        guard let top = fields(root, "", allowed: ["name", "board", "buses", "sensors", "outputs", "alerts"]) else { return nil }
        let name = require(top, "name", "", in: root).flatMap { string($0, "name") } ?? ""
        let board = top["board"].flatMap { string($0, "board") } ?? ""

        var buses: [BusSpec] = []
        for (i, node) in list(top["buses"], "buses").enumerated() {
            if let bus = self.bus(node, "buses[\(i)]") {
                if buses.contains(where: { $0.id == bus.id }) { fail(node, "buses[\(i)].id", "duplicate bus id '\(bus.id)'") }
                buses.append(bus)
            }
        }
        var outputs: [OutputSpec] = []
        for (i, node) in list(top["outputs"], "outputs").enumerated() {
            if let output = self.output(node, "outputs[\(i)]", buses: buses) {
                if outputs.contains(where: { $0.id == output.id }) { fail(node, "outputs[\(i)].id", "duplicate output id '\(output.id)'") }
                outputs.append(output)
            }
        }
        var sensors: [SensorSpec] = []
        if top["sensors"] == nil { fail(root, "sensors", "required key is missing") }
        for (i, node) in list(top["sensors"], "sensors").enumerated() {
            if let sensor = self.sensor(node, "sensors[\(i)]", buses: buses) {
                if sensors.contains(where: { $0.id == sensor.id }) { fail(node, "sensors[\(i)].id", "duplicate sensor id '\(sensor.id)'") }
                sensors.append(sensor)
            }
        }
        var rules: [AlertRule] = []
        for (i, node) in list(top["alerts"], "alerts").enumerated() {
            if let rule = self.rule(node, "alerts[\(i)]", sensors: sensors, outputs: outputs) {
                if rules.contains(where: { $0.id == rule.id }) { fail(node, "alerts[\(i)].id", "duplicate alert id '\(rule.id)'") }
                rules.append(rule)
            }
        }
        return DeviceProfile(name: name, board: board, buses: buses, sensors: sensors, outputs: outputs, alerts: rules, sourcePath: file)
    }

    mutating func bus(_ node: Node, _ path: String) -> BusSpec? {
        guard let f = fields(node, path, allowed: ["id", "kind", "device", "simulated"]) else { return nil }
        let id = require(f, "id", path, in: node).flatMap { string($0, "\(path).id") }
        var kind: BusSpec.Kind?
        if let text = require(f, "kind", path, in: node).flatMap({ string($0, "\(path).kind") }) {
            kind = BusSpec.Kind(rawValue: text)
            if kind == nil { fail(f["kind"], "\(path).kind", "'\(text)' is not a bus kind; allowed: i2c, gpio, w1") }
        }
        let simulated = f["simulated"].flatMap { bool($0, "\(path).simulated") } ?? false
        let defaultDevice: String? = switch kind {
        case .i2c: "/dev/i2c-1"
        case .gpio: "gpiochip0"
        case .w1: "/sys/bus/w1/devices"
        case nil: nil
        }
        let device = f["device"].flatMap { string($0, "\(path).device") } ?? defaultDevice
        guard let id, let kind, let device else { return nil }
        return BusSpec(id: id, kind: kind, device: device, simulated: simulated)
    }

    mutating func output(_ node: Node, _ path: String, buses: [BusSpec]) -> OutputSpec? {
        guard let f = fields(node, path, allowed: ["id", "bus", "line", "active_low", "normal", "fail_safe", "description"]) else { return nil }
        let id = require(f, "id", path, in: node).flatMap { string($0, "\(path).id") }
        let bus = require(f, "bus", path, in: node).flatMap { string($0, "\(path).bus") }
        if let bus, !buses.contains(where: { $0.id == bus && $0.kind == .gpio }) {
            fail(f["bus"], "\(path).bus", "'\(bus)' is not a declared gpio bus; declared: \(buses.filter { $0.kind == .gpio }.map(\.id).joined(separator: ", "))")
        }
        let line = require(f, "line", path, in: node).flatMap { string($0, "\(path).line") }
        let normal = require(f, "normal", path, in: node).flatMap { bool($0, "\(path).normal") }
        let failSafe = require(f, "fail_safe", path, in: node).flatMap { bool($0, "\(path).fail_safe") }
        guard let id, let bus, let line, let normal, let failSafe else { return nil }
        return OutputSpec(id: id, bus: bus, line: line, activeLow: f["active_low"].flatMap { bool($0, "\(path).active_low") } ?? false,
                          normal: normal, failSafe: failSafe, description: f["description"].flatMap { string($0, "\(path).description") } ?? "")
    }

    mutating func sensor(_ node: Node, _ path: String, buses: [BusSpec]) -> SensorSpec? {
        guard let f = fields(node, path, allowed: ["id", "driver", "bus", "address", "line", "slave", "interval", "unit",
                                                    "active_low", "debounce", "k_factor", "input", "full_scale", "filters", "simulation"]) else { return nil }
        let id = require(f, "id", path, in: node).flatMap { string($0, "\(path).id") }
        if let id, !id.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) {
            fail(f["id"], "\(path).id", "'\(id)' may hold only letters, digits, '_' and '-'")
        }
        var driver: DriverKind?
        if let text = require(f, "driver", path, in: node).flatMap({ string($0, "\(path).driver") }) {
            driver = DriverKind(rawValue: text)
            if driver == nil {
                fail(f["driver"], "\(path).driver", "unknown driver '\(text)'; allowed: \(DriverKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        }
        let busID = require(f, "bus", path, in: node).flatMap { string($0, "\(path).bus") }
        if let busID, let driver {
            if let bus = buses.first(where: { $0.id == busID }) {
                if bus.kind != driver.bus { fail(f["bus"], "\(path).bus", "driver \(driver.rawValue) needs a \(driver.bus.rawValue) bus; '\(busID)' is \(bus.kind.rawValue)") }
            } else {
                fail(f["bus"], "\(path).bus", "'\(busID)' is not a declared bus; declared: \(buses.map(\.id).joined(separator: ", "))")
            }
        }
        var address: UInt8? = driver?.defaultAddress
        if let node = f["address"] { address = int(node, "\(path).address", range: 0x03...0x77).map(UInt8.init) }
        var interval = Duration.seconds(10)
        if let node = f["interval"], let value = duration(node, "\(path).interval") {
            if value < .milliseconds(100) { fail(node, "\(path).interval", "poll interval must be at least 100ms") } else { interval = value }
        }
        if driver?.bus == .gpio, f["line"] == nil { fail(node, "\(path).line", "required key is missing (a GPIO line name or offset)") }
        if driver == .ds18b20, f["slave"] == nil { fail(node, "\(path).slave", "required key is missing (the 1-Wire id, e.g. 28-0000075a1b2c)") }
        var filters: [FilterSpec] = []
        for (i, item) in list(f["filters"], "\(path).filters").enumerated() {
            if let filter = self.filter(item, "\(path).filters[\(i)]") { filters.append(filter) }
        }
        var simulation: [String: Scenario] = [:]
        if let sim = f["simulation"], let driver {
            let channelNames = driver.channels.map(\.name)
            for (channel, scenarioNode) in fields(sim, "\(path).simulation", allowed: channelNames) ?? [:] {
                if let scenario = self.scenario(scenarioNode, "\(path).simulation.\(channel)") { simulation[channel] = scenario }
            }
        }
        guard let id, let driver, let busID else { return nil }
        return SensorSpec(
            id: id, driver: driver, bus: busID, address: address,
            line: f["line"].flatMap { string($0, "\(path).line") }, slave: f["slave"].flatMap { string($0, "\(path).slave") },
            interval: interval, unit: f["unit"].flatMap { string($0, "\(path).unit") },
            activeLow: f["active_low"].flatMap { bool($0, "\(path).active_low") } ?? false,
            debounce: f["debounce"].flatMap { duration($0, "\(path).debounce") } ?? .milliseconds(50),
            kFactor: f["k_factor"].flatMap { double($0, "\(path).k_factor") } ?? 450,
            adcInput: f["input"].flatMap { int($0, "\(path).input", range: 0...3) } ?? 0,
            fullScale: f["full_scale"].flatMap { double($0, "\(path).full_scale") } ?? 4.096,
            filters: filters, simulation: simulation)
    }

    mutating func filter(_ node: Node, _ path: String) -> FilterSpec? {
        let names = ["offset", "multiply", "calibrate_linear", "median", "sliding_window_moving_average",
                     "exponential_moving_average", "delta", "throttle", "clamp", "heartbeat"]
        guard let f = fields(node, path, allowed: names) else { return nil }
        guard f.count == 1, let (name, value) = f.first else {
            if f.count > 1 { fail(node, path, "a filter is one key: one of \(names.joined(separator: ", "))") }
            return nil
        }
        let p = "\(path).\(name)"
        switch name {
        case "offset": return double(value, p).map(FilterSpec.offset)
        case "multiply": return double(value, p).map(FilterSpec.multiply)
        case "delta": return double(value, p).map(FilterSpec.delta)
        case "throttle": return duration(value, p).map(FilterSpec.throttle)
        case "heartbeat": return duration(value, p).map(FilterSpec.heartbeat)
        case "calibrate_linear":
            var points: [FilterSpec.CalibrationPoint] = []
            for (i, item) in list(value, p).enumerated() {
                // ESPHome's form: "measured -> true".
                let parts = (string(item, "\(p)[\(i)]") ?? "").components(separatedBy: "->").map { $0.trimmingCharacters(in: .whitespaces) }
                if parts.count == 2, let m = Double(parts[0]), let t = Double(parts[1]) {
                    points.append(.init(measured: m, actual: t))
                } else {
                    fail(item, "\(p)[\(i)]", "write a point as 'measured -> true', e.g. '4.01 -> 4.00'")
                }
            }
            guard (2...3).contains(points.count), Set(points.map(\.measured)).count == points.count else {
                fail(value, p, "needs 2 or 3 points with different measured values")
                return nil
            }
            return .calibrateLinear(points)
        case "median", "sliding_window_moving_average":
            let median = name == "median"
            let g = fields(value, p, allowed: ["window_size", "send_every", "send_first_at"]) ?? [:]
            let window = g["window_size"].flatMap { int($0, "\(p).window_size", range: 1...1000) } ?? (median ? 5 : 15)
            let every = g["send_every"].flatMap { int($0, "\(p).send_every", range: 1...1000) } ?? (median ? 5 : 15)
            let first = g["send_first_at"].flatMap { int($0, "\(p).send_first_at", range: 1...1000) } ?? 1
            if first > every { fail(value, "\(p).send_first_at", "must not exceed send_every (\(every))") }
            return median ? .median(window: window, sendEvery: every, sendFirstAt: first)
                : .slidingWindowMovingAverage(window: window, sendEvery: every, sendFirstAt: first)
        case "exponential_moving_average":
            let g = fields(value, p, allowed: ["alpha", "send_every"]) ?? [:]
            let alpha = g["alpha"].flatMap { double($0, "\(p).alpha") } ?? 0.1
            if !(alpha > 0 && alpha <= 1) { fail(g["alpha"], "\(p).alpha", "alpha must be in (0, 1]") }
            return .exponentialMovingAverage(alpha: alpha, sendEvery: g["send_every"].flatMap { int($0, "\(p).send_every", range: 1...1000) } ?? 1)
        case "clamp":
            let g = fields(value, p, allowed: ["min_value", "max_value", "ignore_out_of_range"]) ?? [:]
            let lo = g["min_value"].flatMap { double($0, "\(p).min_value") }
            let hi = g["max_value"].flatMap { double($0, "\(p).max_value") }
            if let lo, let hi, lo >= hi { fail(value, p, "min_value (\(lo)) must be below max_value (\(hi))") }
            return .clamp(min: lo, max: hi, ignoreOutOfRange: g["ignore_out_of_range"].flatMap { bool($0, "\(p).ignore_out_of_range") } ?? false)
        default: return nil
        }
    }

    mutating func scenario(_ node: Node, _ path: String) -> Scenario? {
        let shapes = ["constant", "sine", "ramp", "step", "points"]
        guard let f = fields(node, path, allowed: shapes + ["noise", "seed"]) else { return nil }
        guard let (name, value) = exactlyOne(of: shapes, "shape", in: f, path, at: node) else { return nil }
        let p = "\(path).\(name)"
        var shape: Scenario.Shape?
        switch name {
        case "constant": shape = double(value, p).map(Scenario.Shape.constant)
        case "sine":
            let g = fields(value, p, allowed: ["mean", "amplitude", "period"]) ?? [:]
            if let mean = require(g, "mean", p, in: value).flatMap({ double($0, "\(p).mean") }),
               let amplitude = require(g, "amplitude", p, in: value).flatMap({ double($0, "\(p).amplitude") }),
               let period = require(g, "period", p, in: value).flatMap({ duration($0, "\(p).period") }) {
                shape = .sine(mean: mean, amplitude: amplitude, period: period)
            }
        case "ramp":
            let g = fields(value, p, allowed: ["start", "per_second", "per_minute", "limit"]) ?? [:]
            let perSecond = g["per_second"].flatMap { double($0, "\(p).per_second") } ?? g["per_minute"].flatMap { double($0, "\(p).per_minute") }.map { $0 / 60 }
            if let start = require(g, "start", p, in: value).flatMap({ double($0, "\(p).start") }) {
                if let perSecond { shape = .ramp(start: start, perSecond: perSecond, limit: g["limit"].flatMap { double($0, "\(p).limit") }) } else {
                    fail(value, "\(p).per_second", "required key is missing (or per_minute)")
                }
            }
        case "step":
            let g = fields(value, p, allowed: ["before", "after", "at"]) ?? [:]
            if let before = require(g, "before", p, in: value).flatMap({ double($0, "\(p).before") }),
               let after = require(g, "after", p, in: value).flatMap({ double($0, "\(p).after") }),
               let at = require(g, "at", p, in: value).flatMap({ duration($0, "\(p).at") }) {
                shape = .step(before: before, after: after, at: at)
            }
        default:
            var points: [Scenario.Point] = []
            for (i, item) in list(value, p).enumerated() {
                let g = fields(item, "\(p)[\(i)]", allowed: ["at", "value"]) ?? [:]
                if let at = require(g, "at", "\(p)[\(i)]", in: item).flatMap({ duration($0, "\(p)[\(i)].at") }),
                   let v = require(g, "value", "\(p)[\(i)]", in: item).flatMap({ double($0, "\(p)[\(i)].value") }) {
                    if let last = points.last, at <= last.at { fail(item, "\(p)[\(i)].at", "points must be in increasing time") }
                    points.append(.init(at: at, value: v))
                }
            }
            if points.isEmpty { fail(value, p, "needs at least one point") } else { shape = .points(points) }
        }
        guard let shape else { return nil }
        return Scenario(shape: shape, noise: f["noise"].flatMap { double($0, "\(path).noise") } ?? 0,
                            seed: UInt64(f["seed"].flatMap { int($0, "\(path).seed", range: 0...Int(Int32.max)) } ?? 1))
    }
}
