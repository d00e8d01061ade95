import Foundation
import Wire

/// Where a device stands, as the overview counts it: never seen (registered, no batch yet),
/// offline (silent for its offline threshold or longer: the offline detector's rule and
/// threshold, `OfflineThreshold`), degraded (seen recently, its last health report not
/// healthy), online.
enum DeviceState: String, CaseIterable, Sendable {
    case online, degraded, offline, neverSeen = "never_seen"

    static func of(lastSeenMillis: Int64?, health: HealthReport.Status?, nowMillis: Int64, offlineAfter: Duration) -> DeviceState {
        guard let lastSeenMillis else { return .neverSeen }
        if nowMillis - lastSeenMillis >= offlineAfter.saturatingMillis { return .offline }
        if let health, health != .healthy { return .degraded }
        return .online
    }

    var label: String {
        switch self {
        case .online: "online"
        case .degraded: "degraded"
        case .offline: "offline"
        case .neverSeen: "never seen"
        }
    }
}

/// "just now", "45 s ago", "3 min ago", "2 h ago", "4 d ago"; "in the future" for a clock ahead.
func timeAgo(_ millis: Int64, nowMillis: Int64) -> String {
    let seconds = (nowMillis - millis) / 1000
    switch seconds {
    case ..<(-5): return "in the future"
    case ..<5: return "just now"
    case ..<60: return "\(seconds) s ago"
    case ..<3600: return "\(seconds / 60) min ago"
    case ..<86_400: return "\(seconds / 3600) h ago"
    default: return "\(seconds / 86_400) d ago"
    }
}

/// "12 s", "5 min", "3 h", "2 d": an age without "ago".
func ageText(seconds: Double) -> String {
    let s = Int64(seconds.rounded())
    switch s {
    case ..<60: return "\(s) s"
    case ..<3600: return "\(s / 60) min"
    case ..<86_400: return "\(s / 3600) h"
    default: return "\(s / 86_400) d"
    }
}

/// "812 KiB", "3.4 MiB".
func bytesText(_ bytes: Int64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1024, unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    return unit == 0 ? "\(bytes) B" : "\(String(format: value < 10 ? "%.1f" : "%.0f", value)) \(units[unit])"
}
