import HALSimulation
import Yams

extension YAMLReader {
    /// A sensor's `simulation:` for one channel: one shape, with optional noise and seed.
    mutating func scenario(_ node: Node, _ path: String) -> Scenario? {
        let shapes = ["constant", "sine", "ramp", "step", "points"]
        guard let f = fields(node, path, allowed: shapes + ["noise", "seed"]) else { return nil }
        guard let (name, value) = exactlyOne(of: shapes, "shape", in: f, path, at: node) else { return nil }
        let p = "\(path).\(name)"
        var shape: Scenario.Shape?
        switch name {
        case "constant": shape = double(value, p, in: ProfileLimits.value).map(Scenario.Shape.constant)
        case "sine":
            let g = fields(value, p, allowed: ["mean", "amplitude", "period"]) ?? [:]
            if let mean = require(g, "mean", p, in: value).flatMap({ double($0, "\(p).mean", in: ProfileLimits.value) }),
               let amplitude = require(g, "amplitude", p, in: value).flatMap({ double($0, "\(p).amplitude", in: ProfileLimits.value) }),
               let period = require(g, "period", p, in: value).flatMap({ duration($0, "\(p).period", in: ProfileLimits.period) }) {
                shape = .sine(mean: mean, amplitude: amplitude, period: period)
            }
        case "ramp":
            let g = fields(value, p, allowed: ["start", "per_second", "per_minute", "limit"]) ?? [:]
            let perSecond = g["per_second"].flatMap { double($0, "\(p).per_second", in: ProfileLimits.factor) }
                ?? g["per_minute"].flatMap { double($0, "\(p).per_minute", in: ProfileLimits.factor) }.map { $0 / 60 }
            if let start = require(g, "start", p, in: value).flatMap({ double($0, "\(p).start", in: ProfileLimits.value) }) {
                if let perSecond {
                    shape = .ramp(start: start, perSecond: perSecond, limit: g["limit"].flatMap { double($0, "\(p).limit", in: ProfileLimits.value) })
                } else {
                    fail(value, "\(p).per_second", "required key is missing (or per_minute)")
                }
            }
        case "step":
            let g = fields(value, p, allowed: ["before", "after", "at"]) ?? [:]
            if let before = require(g, "before", p, in: value).flatMap({ double($0, "\(p).before", in: ProfileLimits.value) }),
               let after = require(g, "after", p, in: value).flatMap({ double($0, "\(p).after", in: ProfileLimits.value) }),
               let at = require(g, "at", p, in: value).flatMap({ duration($0, "\(p).at", in: ProfileLimits.scenarioTime) }) {
                shape = .step(before: before, after: after, at: at)
            }
        default:
            var points: [Scenario.Point] = []
            for (i, item) in list(value, p).enumerated() {
                let g = fields(item, "\(p)[\(i)]", allowed: ["at", "value"]) ?? [:]
                if let at = require(g, "at", "\(p)[\(i)]", in: item).flatMap({ duration($0, "\(p)[\(i)].at", in: ProfileLimits.scenarioTime) }),
                   let v = require(g, "value", "\(p)[\(i)]", in: item).flatMap({ double($0, "\(p)[\(i)].value", in: ProfileLimits.value) }) {
                    if let last = points.last, at <= last.at { fail(item, "\(p)[\(i)].at", "points must be in increasing time") }
                    points.append(.init(at: at, value: v))
                }
            }
            if points.isEmpty { fail(value, p, "needs at least one point") } else { shape = .points(points) }
        }
        let noise = f["noise"].flatMap { double($0, "\(path).noise", in: ProfileLimits.noise) } ?? 0
        let seed = f["seed"].flatMap { int($0, "\(path).seed", range: 0...Int(Int32.max)) } ?? 1
        guard let shape else { return nil }
        return Scenario(shape: shape, noise: noise, seed: UInt64(seed))
    }
}
