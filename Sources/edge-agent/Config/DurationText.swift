/// Durations as a person writes them in YAML and on the command line: `500ms`, `10s`, `5m`,
/// `2h`, `7d`, or combined `1h30m`.
enum DurationText {
    static func parse(_ text: String) -> Duration? {
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        guard !rest.isEmpty else { return nil }
        var total = Duration.zero
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isNumber || $0 == "." }
            guard let number = Double(digits), number >= 0 else { return nil }
            rest = rest.dropFirst(digits.count)
            let unit = rest.prefix { $0.isLetter }
            rest = rest.dropFirst(unit.count)
            let seconds: Double
            switch unit {
            case "ms": seconds = number / 1_000
            case "s": seconds = number
            case "m", "min": seconds = number * 60
            case "h": seconds = number * 3_600
            case "d": seconds = number * 86_400
            case "w": seconds = number * 604_800
            default: return nil
            }
            total += .milliseconds(Int64((seconds * 1_000).rounded()))
        }
        return total
    }

    static func format(_ duration: Duration) -> String {
        let total = duration.components.seconds
        if total < 1 { return "\(duration.components.attoseconds / 1_000_000_000_000_000)ms" }
        let (d, h, m, s) = (total / 86_400, total % 86_400 / 3_600, total % 3_600 / 60, total % 60)
        if d > 0 { return h > 0 ? "\(d)d\(h)h" : "\(d)d" }
        if h > 0 { return m > 0 ? "\(h)h\(m)m" : "\(h)h" }
        if m > 0 { return s > 0 ? "\(m)m\(s)s" : "\(m)m" }
        return "\(s)s"
    }
}
