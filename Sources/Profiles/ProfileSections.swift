import AlertEngine
import EdgeCore
import Foundation
import HAL
import HALSimulation
import Yams

extension YAMLReader {
    mutating func profile(_ root: Node) -> DeviceProfile? {
        guard let top = fields(root, "", allowed: ["name", "board", "buses", "sensors", "outputs", "alerts"]) else { return nil }
        let name = require(top, "name", "", in: root).flatMap { text($0, "name", maxBytes: ProfileLimits.textBytes) } ?? ""
        let board = top["board"].flatMap { text($0, "board", maxBytes: ProfileLimits.textBytes) } ?? ""

        // Ids are checked against a set: linear in the number of items (40 000 sensors load in
        // well under a second; a pairwise check took minutes).
        var buses: [BusSpec] = []
        var busIDs: Set<String> = []
        for (i, node) in list(top["buses"], "buses").enumerated() {
            if let bus = self.bus(node, "buses[\(i)]") {
                if !busIDs.insert(bus.id).inserted { fail(node, "buses[\(i)].id", "duplicate bus id '\(bus.id)'") }
                buses.append(bus)
            }
        }
        var outputs: [OutputSpec] = []
        var outputIDs: Set<String> = []
        for (i, node) in list(top["outputs"], "outputs").enumerated() {
            if let output = self.output(node, "outputs[\(i)]", buses: buses) {
                if !outputIDs.insert(output.id).inserted { fail(node, "outputs[\(i)].id", "duplicate output id '\(output.id)'") }
                outputs.append(output)
            }
        }
        var sensors: [SensorSpec] = []
        var sensorIDs: Set<String> = []
        if top["sensors"] == nil { fail(root, "sensors", "required key is missing") }
        for (i, node) in list(top["sensors"], "sensors").enumerated() {
            if let sensor = self.sensor(node, "sensors[\(i)]", buses: buses) {
                if !sensorIDs.insert(sensor.id).inserted { fail(node, "sensors[\(i)].id", "duplicate sensor id '\(sensor.id)'") }
                sensors.append(sensor)
            }
        }
        var rules: [AlertRule] = []
        var ruleIDs: Set<String> = []
        let readings = ReadingIndex(sensors)
        for (i, node) in list(top["alerts"], "alerts").enumerated() {
            if let rule = self.rule(node, "alerts[\(i)]", readings: readings, outputs: outputIDs) {
                if !ruleIDs.insert(rule.id).inserted { fail(node, "alerts[\(i)].id", "duplicate alert id '\(rule.id)'") }
                rules.append(rule)
            }
        }
        return DeviceProfile(name: name, board: board, buses: buses, sensors: sensors, outputs: outputs, alerts: rules, sourcePath: file)
    }

    mutating func bus(_ node: Node, _ path: String) -> BusSpec? {
        guard let f = fields(node, path, allowed: ["id", "kind", "device", "simulated"]) else { return nil }
        let id = require(f, "id", path, in: node).flatMap { text($0, "\(path).id", maxBytes: ProfileLimits.idBytes) }
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
        if let device, let kind, f["device"] != nil, let problem = Self.deviceProblem(device, kind: kind) {
            fail(f["device"], "\(path).device", problem)
        }
        guard let id, let kind, let device else { return nil }
        return BusSpec(id: id, kind: kind, device: device, simulated: simulated)
    }

    mutating func output(_ node: Node, _ path: String, buses: [BusSpec]) -> OutputSpec? {
        guard let f = fields(node, path, allowed: ["id", "bus", "line", "active_low", "normal", "fail_safe", "description"]) else { return nil }
        let id = require(f, "id", path, in: node).flatMap { text($0, "\(path).id", maxBytes: ProfileLimits.idBytes) }
        let bus = require(f, "bus", path, in: node).flatMap { string($0, "\(path).bus") }
        if let bus, !buses.contains(where: { $0.id == bus && $0.kind == .gpio }) {
            fail(f["bus"], "\(path).bus", "'\(bus)' is not a declared gpio bus; declared: \(buses.filter { $0.kind == .gpio }.map(\.id).joined(separator: ", "))")
        }
        let line = require(f, "line", path, in: node).flatMap { gpioLine($0, "\(path).line") }
        let normal = require(f, "normal", path, in: node).flatMap { bool($0, "\(path).normal") }
        let failSafe = require(f, "fail_safe", path, in: node).flatMap { bool($0, "\(path).fail_safe") }
        guard let id, let bus, let line, let normal, let failSafe else { return nil }
        return OutputSpec(id: id, bus: bus, line: line, activeLow: f["active_low"].flatMap { bool($0, "\(path).active_low") } ?? false,
                          normal: normal, failSafe: failSafe,
                          description: f["description"].flatMap { text($0, "\(path).description", maxBytes: ProfileLimits.textBytes) } ?? "")
    }

    mutating func sensor(_ node: Node, _ path: String, buses: [BusSpec]) -> SensorSpec? {
        guard let f = fields(node, path, allowed: ["id", "driver", "bus", "address", "line", "slave", "interval", "unit",
                                                    "active_low", "debounce", "k_factor", "input", "full_scale", "filters", "simulation", "capture"]) else { return nil }
        var id = require(f, "id", path, in: node).flatMap { text($0, "\(path).id", maxBytes: ProfileLimits.idBytes) }
        if let given = id, !given.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) {
            fail(f["id"], "\(path).id", "'\(given)' may hold only letters, digits, '_' and '-'")
            id = nil
        }
        var driver: DriverKind?
        if let text = require(f, "driver", path, in: node).flatMap({ string($0, "\(path).driver") }) {
            driver = DriverKind(rawValue: text)
            if driver == nil {
                let names = DriverKind.allCases.map(\.rawValue)
                let hint = Self.nearest(text, among: names).map { "; did you mean '\($0)'?" } ?? ""
                fail(f["driver"], "\(path).driver", "unknown driver '\(text)'; allowed: \(names.joined(separator: ", "))\(hint)")
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
        if let given = id, let driver {
            // Reading ids are `id.channel` for multi-channel drivers; each must fit the store's limit.
            let longest = driver.channels.map { driver.readingID(sensor: given, channel: $0.name) }.max { $0.utf8.count < $1.utf8.count } ?? given
            if longest.utf8.count > ProfileLimits.idBytes {
                fail(f["id"], "\(path).id", "reading id '\(longest)' is \(longest.utf8.count) bytes; at most \(ProfileLimits.idBytes) are allowed")
                id = nil
            }
        }
        var address: UInt8? = driver?.defaultAddress
        if let node = f["address"] {
            if let driver, driver.bus != .i2c {
                fail(node, "\(path).address", "driver \(driver.rawValue) is on a \(driver.bus.rawValue) bus; only I2C drivers take an address")
            } else {
                address = int(node, "\(path).address", range: 0x03...0x77).map(UInt8.init)
            }
        }
        let interval = f["interval"].flatMap { duration($0, "\(path).interval", in: ProfileLimits.interval) } ?? .seconds(10)
        if driver?.bus == .gpio, f["line"] == nil { fail(node, "\(path).line", "required key is missing (a GPIO line name or offset)") }
        if driver?.bus == .w1, f["slave"] == nil { fail(node, "\(path).slave", "required key is missing (the 1-Wire id, e.g. 28-0000075a1b2c)") }
        var slave: String?
        if let text = f["slave"].flatMap({ string($0, "\(path).slave") }) {
            if DeviceNames.isOneWireSlave(text) {
                slave = text
                if let driver, let problem = Self.familyProblem(slave: text, driver: driver) { fail(f["slave"], "\(path).slave", problem) }
            } else {
                fail(f["slave"], "\(path).slave", "'\(text)' is not a 1-Wire id; write the kernel's form: 2 hex digits, '-', 12 hex digits (e.g. 28-0000075a1b2c)")
            }
        }
        var filters: [FilterSpec] = []
        for (i, item) in list(f["filters"], "\(path).filters").enumerated() {
            if let filter = self.filter(item, "\(path).filters[\(i)]") { filters.append(filter) }
        }
        var simulation: [String: Scenario] = [:]
        var simulatedOutputs: [String]?
        if let sim = f["simulation"], let driver {
            let channelNames = driver.channels.map(\.name)
            // A simulated EC circuit may also say which outputs a keeper enabled on it.
            let extra = driver == .ezoEC ? ["outputs"] : []
            for (key, node) in fields(sim, "\(path).simulation", allowed: channelNames + extra) ?? [:] {
                if key == "outputs" {
                    simulatedOutputs = ecOutputs(node, "\(path).simulation.outputs")
                } else if let scenario = self.scenario(node, "\(path).simulation.\(key)") {
                    simulation[key] = scenario
                }
            }
        }
        let capture = f["capture"].flatMap { node in
            driver.flatMap { self.capture(node, "\(path).capture", driver: $0, bus: buses.first { $0.id == busID }) }
        }
        guard let id, let driver, let busID else { return nil }
        return SensorSpec(
            id: id, driver: driver, bus: busID, address: address,
            line: f["line"].flatMap { gpioLine($0, "\(path).line") }, slave: slave,
            interval: interval, unit: f["unit"].flatMap { text($0, "\(path).unit", maxBytes: ProfileLimits.unitBytes) },
            activeLow: f["active_low"].flatMap { bool($0, "\(path).active_low") } ?? false,
            debounce: f["debounce"].flatMap { duration($0, "\(path).debounce", in: ProfileLimits.debounce) } ?? .milliseconds(50),
            kFactor: f["k_factor"].flatMap { double($0, "\(path).k_factor", in: ProfileLimits.kFactor) } ?? 450,
            adcInput: f["input"].flatMap { int($0, "\(path).input", range: 0...3) } ?? 0,
            fullScale: f["full_scale"].flatMap { double($0, "\(path).full_scale", in: ProfileLimits.fullScale) } ?? 4.096,
            filters: filters, simulation: simulation, simulatedOutputs: simulatedOutputs, capture: capture)
    }

    /// `outputs: [EC, S]`: the outputs enabled on a simulated EC circuit, as `O,S,1` and the
    /// like leave a real one; named as the circuit's datasheet names them.
    mutating func ecOutputs(_ node: Node, _ path: String) -> [String]? {
        let allowed = SimulatedEZO.ecOutputs
        var outputs: [String] = []
        for item in list(node, path) {
            guard let name = string(item, path) else { return nil }
            guard allowed.contains(name) else {
                fail(item, path, "'\(name)' is not an EC circuit output; allowed: \(allowed.joined(separator: ", "))")
                return nil
            }
            outputs.append(name)
        }
        guard !outputs.isEmpty else {
            fail(node, path, "list at least one output (\(allowed.joined(separator: ", ")))")
            return nil
        }
        return outputs
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
        case "offset": return double(value, p, in: ProfileLimits.value).map(FilterSpec.offset)
        case "multiply": return double(value, p, in: ProfileLimits.factor).map(FilterSpec.multiply)
        case "delta": return double(value, p, in: 0...ProfileLimits.value.upperBound).map(FilterSpec.delta)
        case "throttle": return duration(value, p, in: ProfileLimits.throttle).map(FilterSpec.throttle)
        case "heartbeat": return duration(value, p, in: ProfileLimits.heartbeat).map(FilterSpec.heartbeat)
        case "calibrate_linear":
            var points: [FilterSpec.CalibrationPoint] = []
            for (i, item) in list(value, p).enumerated() {
                // ESPHome's form: "measured -> true".
                guard let text = string(item, "\(p)[\(i)]") else { continue }
                let parts = text.components(separatedBy: "->").map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count == 2 else {
                    fail(item, "\(p)[\(i)]", "write a point as 'measured -> true', e.g. '4.01 -> 4.00'")
                    continue
                }
                do {
                    points.append(.init(measured: try NumberText.finite(parts[0], in: ProfileLimits.value),
                                        actual: try NumberText.finite(parts[1], in: ProfileLimits.value)))
                } catch {
                    fail(item, "\(p)[\(i)]", error.description)
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
            let alpha = g["alpha"].flatMap { double($0, "\(p).alpha", in: 0...1) } ?? 0.1
            if !(alpha > 0 && alpha <= 1) { fail(g["alpha"], "\(p).alpha", "alpha must be in (0, 1]") }
            return .exponentialMovingAverage(alpha: alpha, sendEvery: g["send_every"].flatMap { int($0, "\(p).send_every", range: 1...1000) } ?? 1)
        case "clamp":
            let g = fields(value, p, allowed: ["min_value", "max_value", "ignore_out_of_range"]) ?? [:]
            let lo = g["min_value"].flatMap { double($0, "\(p).min_value", in: ProfileLimits.value) }
            let hi = g["max_value"].flatMap { double($0, "\(p).max_value", in: ProfileLimits.value) }
            if let lo, let hi, lo >= hi { fail(value, p, "min_value (\(lo)) must be below max_value (\(hi))") }
            return .clamp(min: lo, max: hi, ignoreOutOfRange: g["ignore_out_of_range"].flatMap { bool($0, "\(p).ignore_out_of_range") } ?? false)
        default: return nil
        }
    }

    /// A GPIO line: an offset in range, or a plain name (no path, no control characters).
    mutating func gpioLine(_ node: Node, _ path: String) -> String? {
        guard let text = string(node, path) else { return nil }
        if let offset = Int(text) {
            guard ProfileLimits.lineOffset.contains(offset) else {
                fail(node, path, "'\(text)' is not a line offset in \(ProfileLimits.lineOffset.lowerBound)...\(ProfileLimits.lineOffset.upperBound)")
                return nil
            }
            return text
        }
        guard DeviceNames.isPlainName(text) else {
            fail(node, path, "'\(text)' is not a line name: use up to 64 letters, digits, '_', '-' and '.' (e.g. GPIO17), or an offset")
            return nil
        }
        return text
    }

    /// A capture file (relative to the profile's directory) for a chip on a simulated bus, parsed
    /// in the form the driver declares.
    mutating func capture(_ node: Node, _ path: String, driver: DriverKind, bus: BusSpec?) -> DeviceCapture? {
        guard let name = string(node, path) else { return nil }
        guard let format = driver.declaration.capture else {
            fail(node, path, "driver \(driver.rawValue) cannot be replayed from a capture; bme280, ads1115 and the ezo_ drivers can")
            return nil
        }
        guard bus?.simulated == true else {
            fail(node, path, "a capture replays on a simulated bus: set 'simulated: true' on bus '\(bus?.id ?? "")'")
            return nil
        }
        // Only files beside the profile or below its directory: a profile cannot make the agent
        // read (and quote in errors) a file elsewhere.
        guard !name.hasPrefix("/"), name.split(separator: "/", omittingEmptySubsequences: false).allSatisfy({ DeviceNames.isPlainName(String($0)) }) else {
            fail(node, path, "'\(name)' is not a file beside the profile: write a relative path of plain names, without '..' (e.g. captures/bme280.i2cdump)")
            return nil
        }
        let directory = (file as NSString).deletingLastPathComponent
        let full = directory.isEmpty ? name : directory + "/" + name
        switch YAMLSource.text(path: full, maxBytes: 65_536, noun: "the capture") {
        case .failure(let error):
            fail(node, path, "\(full): \(error.message)")
            return nil
        case .success(let text):
            do { return try DeviceCapture.parse(text, as: format) } catch {
                fail(node, path, "\(full): \(error)")
                return nil
            }
        }
    }

    /// Why `driver` cannot read `slave`, or nil: the slave id's family code must be the driver's.
    static func familyProblem(slave: String, driver: DriverKind) -> String? {
        guard let family = driver.declaration.wiring.family else { return nil }
        let actual = OneWireFamily(slave: slave)
        guard actual != family else { return nil }
        let fix = actual.flatMap { found in DriverKind.allCases.first { $0.declaration.wiring.family == found } }
            .map { "; it is a \(actual?.name ?? ""): use driver \($0.rawValue)" } ?? "; no driver reads that family"
        return "'\(slave)' is 1-Wire family \(slave.prefix(2)), driver \(driver.rawValue) reads family \(family.code) (\(family.name))\(fix)"
    }

    /// Why a bus's `device` cannot be used, or nil: names go into device paths.
    static func deviceProblem(_ device: String, kind: BusSpec.Kind) -> String? {
        switch kind {
        case .i2c:
            guard let n = BusSpec.i2cBusNumber(device), ProfileLimits.i2cBus.contains(n) else {
                return "'\(device)' is not an I2C bus; write /dev/i2c-N, i2c-N or N with N in \(ProfileLimits.i2cBus.lowerBound)...\(ProfileLimits.i2cBus.upperBound)"
            }
            return nil
        case .gpio:
            guard DeviceNames.isPlainName(device) || DeviceNames.isAbsolutePath(device) else {
                return "'\(device)' is not a GPIO chip; write its name, label or number (gpiochip0, pinctrl-rp1) or a /dev path"
            }
            return nil
        case .w1:
            guard DeviceNames.isAbsolutePath(device) else {
                return "'\(device)' is not a w1 devices directory; write an absolute path without '.' or '..' (e.g. /sys/bus/w1/devices)"
            }
            return nil
        }
    }
}
