import Profiles

/// Durations as people read and write them; parsing is the profiles' (`Durations.parse`),
/// so the config, the profile and the command line accept the same text.
enum DurationText {
    static func parse(_ text: String) -> Duration? { Durations.parse(text) }

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
