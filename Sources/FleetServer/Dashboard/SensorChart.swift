import Foundation

/// The time range a device page shows, cut into a fixed number of equal buckets. The end is
/// rounded up to a bucket boundary, so pages drawn a few seconds apart show the same buckets.
struct ChartWindow: Sendable, Hashable {
    enum Range: String, CaseIterable, Sendable {
        case hour = "1h", day = "24h", week = "7d", month = "30d"

        /// Bucket width and count: 1 min × 60, 15 min × 96, 1 h × 168, 4 h × 180.
        var bucket: (millis: Int64, count: Int) {
            switch self {
            case .hour: (60_000, 60)
            case .day: (900_000, 96)
            case .week: (3_600_000, 168)
            case .month: (14_400_000, 180)
            }
        }
    }

    var range: Range
    var startMillis: Int64
    var bucketMillis: Int64
    var buckets: Int
    var endMillis: Int64 { startMillis + bucketMillis * Int64(buckets) }

    init(_ range: Range, nowMillis: Int64) {
        let (width, count) = range.bucket
        let end = (nowMillis / width + 1) * width
        self.range = range
        bucketMillis = width
        buckets = count
        startMillis = end - width * Int64(count)
    }
}

/// One sensor's chart as SVG, drawn by the server: a band from min to max and a line through
/// the means of each bucket, broken where a bucket has no readings (a gap is drawn as a gap,
/// not bridged), and a dashed line per rule threshold. Pure: same input, same bytes.
struct SensorChart {
    static let width = 720.0
    static let height = 220.0
    static let margin = (left: 56.0, right: 12.0, top: 12.0, bottom: 24.0)

    var sensor: String
    var unit: String
    var window: ChartWindow
    var buckets: [DashboardStore.Bucket]
    var thresholds: [DashboardStore.Threshold]

    /// Runs of consecutive buckets: each is drawn as one band and one line.
    var segments: [[DashboardStore.Bucket]] {
        var result: [[DashboardStore.Bucket]] = []
        for bucket in buckets.sorted(by: { $0.index < $1.index }) {
            if let last = result.last?.last, last.index + 1 == bucket.index {
                result[result.count - 1].append(bucket)
            } else {
                result.append([bucket])
            }
        }
        return result
    }

    func svg() -> String {
        let m = Self.margin
        let plotWidth = Self.width - m.left - m.right
        let plotHeight = Self.height - m.top - m.bottom
        let values = buckets.flatMap { [$0.min, $0.max] } + thresholds.map(\.value)
        var low = values.min() ?? 0
        var high = values.max() ?? 1
        if high - low < 1e-9 { (low, high) = (low - 1, high + 1) }
        let pad = (high - low) * 0.08
        (low, high) = (low - pad, high + pad)
        func x(_ index: Int) -> Double { m.left + plotWidth * (Double(index) + 0.5) / Double(window.buckets) }
        func y(_ value: Double) -> Double { m.top + plotHeight * (high - value) / (high - low) }
        func n(_ value: Double) -> String { String(format: "%.1f", value) }

        var out = """
            <svg class="chart" viewBox="0 0 \(Int(Self.width)) \(Int(Self.height))" role="img" \
            aria-label="\(escape(sensor)) over \(window.range.rawValue)" data-sensor="\(escape(sensor))" \
            data-buckets="\(buckets.count)" data-segments="\(segments.count)">
            <rect class="plot" x="\(n(m.left))" y="\(n(m.top))" width="\(n(plotWidth))" height="\(n(plotHeight))"/>

            """
        for step in 0...4 {
            let value = low + (high - low) * Double(step) / 4
            out += "<text class=\"axis\" x=\"\(n(m.left - 4))\" y=\"\(n(y(value) + 4))\" text-anchor=\"end\">\(axisLabel(value))</text>\n"
        }
        for step in 0...4 {
            let index = Int((Double(window.buckets) * Double(step) / 4).rounded())
            let millis = window.startMillis + window.bucketMillis * Int64(index)
            let anchor = step == 0 ? "start" : step == 4 ? "end" : "middle"
            out += "<text class=\"axis\" x=\"\(n(m.left + plotWidth * Double(index) / Double(window.buckets)))\" y=\"\(n(Self.height - 6))\" text-anchor=\"\(anchor)\">\(timeLabel(millis))</text>\n"
        }
        for segment in segments {
            let upper = segment.map { "\(n(x($0.index))),\(n(y($0.max)))" }
            let lower = segment.reversed().map { "\(n(x($0.index))),\(n(y($0.min)))" }
            out += "<polygon class=\"band\" points=\"\((upper + lower).joined(separator: " "))\"/>\n"
            if segment.count == 1, let only = segment.first {
                out += "<circle class=\"mean\" cx=\"\(n(x(only.index)))\" cy=\"\(n(y(only.mean)))\" r=\"2.5\" data-points=\"1\"/>\n"
            } else {
                let path = segment.enumerated().map { "\($0.offset == 0 ? "M" : "L")\(n(x($0.element.index))),\(n(y($0.element.mean)))" }
                out += "<path class=\"mean\" d=\"\(path.joined(separator: " "))\" data-points=\"\(segment.count)\"/>\n"
            }
        }
        for threshold in thresholds {
            let level = n(y(threshold.value))
            out += """
                <line class="threshold \(escape(threshold.severity))" x1="\(n(m.left))" x2="\(n(m.left + plotWidth))" y1="\(level)" y2="\(level)" \
                data-rule="\(escape(threshold.rule))" data-value="\(threshold.value)"/>
                <text class="threshold-label" x="\(n(m.left + plotWidth - 4))" y="\(n(y(threshold.value) - 4))" text-anchor="end">\(escape(threshold.rule)) \(axisLabel(threshold.value))</text>

                """
        }
        if buckets.isEmpty {
            out += "<text class=\"empty\" x=\"\(n(m.left + plotWidth / 2))\" y=\"\(n(m.top + plotHeight / 2))\" text-anchor=\"middle\">no readings in this range</text>\n"
        }
        return out + "</svg>"
    }

    private func axisLabel(_ value: Double) -> String {
        abs(value) >= 100 ? String(format: "%.0f", value) : String(format: "%.2f", value)
    }

    private func timeLabel(_ millis: Int64) -> String {
        let date = Date(timeIntervalSince1970: Double(millis) / 1000)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = window.range == .hour || window.range == .day ? "HH:mm" : "MMM d"
        return formatter.string(from: date)
    }
}

/// HTML/XML escaping for text and attribute values the server writes itself (the templates
/// escape their own `{{ }}` values).
func escape(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.count)
    for character in text {
        switch character {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.append(character)
        }
    }
    return out
}
