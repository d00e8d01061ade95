import AlertEngine
import EdgeCore
import HAL
import Yams

extension YAMLReader {
    /// One `alerts:` entry; checked against the sensors and outputs declared above it.
    mutating func rule(_ node: Node, _ path: String, readings: ReadingIndex, outputs: Set<String>) -> AlertRule? {
        let kinds = ["when", "band", "stale", "rate", "switch"]
        guard let f = fields(node, path, allowed: ["id", "sensor", "clear", "for", "severity", "description", "action", "flapping"] + kinds) else { return nil }
        let id = require(f, "id", path, in: node).flatMap { text($0, "\(path).id", maxBytes: ProfileLimits.idBytes) }
        let sensorID = require(f, "sensor", path, in: node).flatMap { string($0, "\(path).sensor") }

        let target = sensorID.flatMap { readings.drivers[$0] }
        if let sensorID, target == nil {
            fail(f["sensor"], "\(path).sensor", "unknown sensor '\(sensorID)'; readings of this profile: \(readings.listing)")
        }

        guard let (kind, value) = exactlyOne(of: kinds, "condition", in: f, path, at: node) else { return nil }
        let p = "\(path).\(kind)"
        var condition: AlertRule.Condition?
        switch kind {
        case "when":
            let text = (string(value, p) ?? "").trimmingCharacters(in: .whitespaces)
            let op = ComparisonOperator.allCases.sorted { $0.rawValue.count > $1.rawValue.count }.first { text.hasPrefix($0.rawValue) }
            guard let op else {
                fail(value, p, "write the condition as '<operator> <number>', e.g. '> 28.0'; operators: > < >= <= == !=")
                break
            }
            let threshold: Double
            do { threshold = try NumberText.finite(String(text.dropFirst(op.rawValue.count)), in: ProfileLimits.value) } catch {
                // `> nan` would compare false forever: a rule that can never fire.
                fail(value, p, "\(error.description); write the condition as '<operator> <number>', e.g. '> 28.0'")
                break
            }
            let clear = f["clear"].flatMap { double($0, "\(path).clear", in: ProfileLimits.value) }
            if let clear {
                // Hysteresis must sit on the safe side of the threshold, or the rule never clears.
                let impossible = switch op {
                case .greater, .greaterOrEqual: clear >= threshold
                case .less, .lessOrEqual: clear <= threshold
                case .equal, .notEqual: true
                }
                if impossible {
                    fail(f["clear"], "\(path).clear", "clear \(clear) must be on the safe side of '\(op.rawValue) \(threshold)' (below it for > and >=, above it for < and <=)")
                }
            }
            condition = .threshold(op: op, value: threshold, clear: clear)
        case "band":
            let g = fields(value, p, allowed: ["low", "high", "clear_margin"]) ?? [:]
            if let low = require(g, "low", p, in: value).flatMap({ double($0, "\(p).low", in: ProfileLimits.value) }),
               let high = require(g, "high", p, in: value).flatMap({ double($0, "\(p).high", in: ProfileLimits.value) }) {
                let margin = g["clear_margin"].flatMap { double($0, "\(p).clear_margin", in: ProfileLimits.value) } ?? 0
                if low >= high { fail(value, p, "low (\(low)) must be below high (\(high))") }
                else if margin < 0 || 2 * margin >= high - low { fail(g["clear_margin"], "\(p).clear_margin", "must be ≥ 0 and leave room inside [\(low), \(high)]") }
                condition = .band(low: low, high: high, clearMargin: margin)
            }
        case "stale":
            condition = duration(value, p, in: ProfileLimits.stale).map { .stale(after: $0) }
        case "rate":
            let g = fields(value, p, allowed: ["change", "per"]) ?? [:]
            if let change = require(g, "change", p, in: value).flatMap({ double($0, "\(p).change", in: ProfileLimits.value) }),
               let per = require(g, "per", p, in: value).flatMap({ duration($0, "\(p).per", in: ProfileLimits.rateWindow) }) {
                if change == 0 { fail(g["change"], "\(p).change", "must not be 0: negative for a fall, positive for a rise") }
                condition = .rateOfChange(limit: change, window: per)
            }
        default: // switch
            let text = string(value, p) ?? ""
            let states: [String: Bool] = ["wet": true, "dry": false, "high": true, "low": false, "active": true, "inactive": false]
            if let active = states[text] {
                condition = .switchState(active: active)
            } else {
                fail(value, p, "'\(text)' is not a switch state; allowed: wet, dry (leak), high, low (float), active, inactive")
            }
            if let target, !target.isSwitch {
                fail(value, p, "switch rules need a float_switch or leak_switch sensor; '\(sensorID ?? "")' is \(target.rawValue)")
            }
        }
        if kind != "switch", kind != "stale", let target, target.isSwitch {
            fail(value, p, "'\(sensorID ?? "")' is a switch; use `switch: wet|dry|high|low`")
        }
        if kind != "when", f["clear"] != nil { fail(f["clear"], "\(path).clear", "clear applies to `when` rules only (bands take clear_margin)") }

        var severity = Severity.warning
        if let text = f["severity"].flatMap({ string($0, "\(path).severity") }) {
            if let s = Severity(rawValue: text) { severity = s } else {
                fail(f["severity"], "\(path).severity", "'\(text)' is not a severity; allowed: info, warning, critical")
            }
        }
        var action: AlertRule.Action?
        if let a = f["action"] {
            let g = fields(a, "\(path).action", allowed: ["output", "state"]) ?? [:]
            if let output = require(g, "output", "\(path).action", in: a).flatMap({ string($0, "\(path).action.output") }),
               let state = require(g, "state", "\(path).action", in: a).flatMap({ bool($0, "\(path).action.state") }) {
                if !outputs.contains(output) {
                    fail(g["output"], "\(path).action.output", "'\(output)' is not a declared output; declared: \(outputs.sorted().joined(separator: ", "))")
                }
                action = .init(output: output, state: state)
            }
        }
        var flapping = AlertRule.FlapPolicy.default
        if let fl = f["flapping"] {
            let g = fields(fl, "\(path).flapping", allowed: ["changes", "window"]) ?? [:]
            flapping = .init(changes: g["changes"].flatMap { int($0, "\(path).flapping.changes", range: 2...1000) } ?? flapping.changes,
                             window: g["window"].flatMap { duration($0, "\(path).flapping.window", in: ProfileLimits.flapWindow) } ?? flapping.window)
        }
        guard let id, let sensorID, let condition else { return nil }
        return AlertRule(id: id, sensorID: sensorID, condition: condition,
                         holdFor: f["for"].flatMap { duration($0, "\(path).for", in: ProfileLimits.holdFor) } ?? .zero, severity: severity,
                         description: f["description"].flatMap { text($0, "\(path).description", maxBytes: ProfileLimits.textBytes) } ?? "",
                         action: action, flapping: flapping)
    }
}

/// The reading ids a profile's sensors produce, with the driver behind each: built once, so
/// checking every rule against them is linear in the rules.
struct ReadingIndex {
    let drivers: [String: DriverKind]
    /// The ids for an "unknown sensor" error: sorted, the first 20 and a count of the rest.
    let listing: String

    init(_ sensors: [SensorSpec]) {
        var drivers: [String: DriverKind] = [:]
        for sensor in sensors {
            for channel in sensor.channels { drivers[sensor.readingID(channel.name)] = sensor.driver }
        }
        self.drivers = drivers
        let sorted = drivers.keys.sorted()
        listing = sorted.prefix(20).joined(separator: ", ") + (sorted.count > 20 ? " … (\(sorted.count - 20) more)" : "")
    }
}
