import AlertEngine
import HAL
import Yams

extension Reader {
    /// One `alerts:` entry; checked against the sensors and outputs declared above it.
    mutating func rule(_ node: Node, _ path: String, sensors: [SensorSpec], outputs: [OutputSpec]) -> AlertRule? {
        let kinds = ["when", "band", "stale", "rate", "switch"]
        guard let f = fields(node, path, allowed: ["id", "sensor", "clear", "for", "severity", "description", "action", "flapping"] + kinds) else { return nil }
        let id = require(f, "id", path, in: node).flatMap { string($0, "\(path).id") }
        let sensorID = require(f, "sensor", path, in: node).flatMap { string($0, "\(path).sensor") }

        // The reading ids every sensor produces, with the driver behind each.
        var known: [String: (driver: DriverKind, unit: String)] = [:]
        for sensor in sensors {
            for channel in sensor.channels { known[sensor.readingID(channel.name)] = (sensor.driver, channel.unit) }
        }
        let target = sensorID.flatMap { known[$0] }
        if let sensorID, target == nil {
            fail(f["sensor"], "\(path).sensor", "unknown sensor '\(sensorID)'; readings of this profile: \(known.keys.sorted().joined(separator: ", "))")
        }

        guard let (kind, value) = exactlyOne(of: kinds, "condition", in: f, path, at: node) else { return nil }
        let p = "\(path).\(kind)"
        var condition: AlertRule.Condition?
        switch kind {
        case "when":
            let text = (string(value, p) ?? "").trimmingCharacters(in: .whitespaces)
            let op = ComparisonOperator.allCases.sorted { $0.rawValue.count > $1.rawValue.count }.first { text.hasPrefix($0.rawValue) }
            let threshold = op.flatMap { Double(text.dropFirst($0.rawValue.count).trimmingCharacters(in: .whitespaces)) }
            guard let op, let threshold else {
                fail(value, p, "write the condition as '<operator> <number>', e.g. '> 28.0'; operators: > < >= <= == !=")
                break
            }
            let clear = f["clear"].flatMap { double($0, "\(path).clear") }
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
            if let low = require(g, "low", p, in: value).flatMap({ double($0, "\(p).low") }),
               let high = require(g, "high", p, in: value).flatMap({ double($0, "\(p).high") }) {
                let margin = g["clear_margin"].flatMap { double($0, "\(p).clear_margin") } ?? 0
                if low >= high { fail(value, p, "low (\(low)) must be below high (\(high))") }
                else if margin < 0 || 2 * margin >= high - low { fail(g["clear_margin"], "\(p).clear_margin", "must be ≥ 0 and leave room inside [\(low), \(high)]") }
                condition = .band(low: low, high: high, clearMargin: margin)
            }
        case "stale":
            condition = duration(value, p).map { .stale(after: $0) }
        case "rate":
            let g = fields(value, p, allowed: ["change", "per"]) ?? [:]
            if let change = require(g, "change", p, in: value).flatMap({ double($0, "\(p).change") }),
               let per = require(g, "per", p, in: value).flatMap({ duration($0, "\(p).per") }) {
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
            if let target, !target.driver.isSwitch {
                fail(value, p, "switch rules need a float_switch or leak_switch sensor; '\(sensorID ?? "")' is \(target.driver.rawValue)")
            }
        }
        if kind != "switch", kind != "stale", let target, target.driver.isSwitch {
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
                if !outputs.contains(where: { $0.id == output }) {
                    fail(g["output"], "\(path).action.output", "'\(output)' is not a declared output; declared: \(outputs.map(\.id).joined(separator: ", "))")
                }
                action = .init(output: output, state: state)
            }
        }
        var flapping = AlertRule.FlapPolicy.default
        if let fl = f["flapping"] {
            let g = fields(fl, "\(path).flapping", allowed: ["changes", "window"]) ?? [:]
            flapping = .init(changes: g["changes"].flatMap { int($0, "\(path).flapping.changes", range: 2...1000) } ?? flapping.changes,
                             window: g["window"].flatMap { duration($0, "\(path).flapping.window") } ?? flapping.window)
        }
        guard let id, let sensorID, let condition else { return nil }
        return AlertRule(id: id, sensorID: sensorID, condition: condition,
                         holdFor: f["for"].flatMap { duration($0, "\(path).for") } ?? .zero, severity: severity,
                         description: f["description"].flatMap { string($0, "\(path).description") } ?? "",
                         action: action, flapping: flapping)
    }
}
