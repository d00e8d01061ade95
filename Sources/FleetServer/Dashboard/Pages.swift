import Foundation
import Hummingbird
import NIOCore
import Wire

/// What the overview shows, built from the devices' rows: pure, so counts and table are
/// tested without a browser.
struct OverviewView {
    var counts: [DeviceState: Int]
    var rows: [[String: Any]]
    var asOf: String

    init(_ devices: [DashboardStore.DeviceRow], nowMillis: Int64) {
        var counts = Dictionary(uniqueKeysWithValues: DeviceState.allCases.map { ($0, 0) })
        rows = devices.map { device in
            let health = device.health
            let state = DeviceState.of(lastSeenMillis: device.lastSeenMillis, health: health?.status, nowMillis: nowMillis,
                                       offlineAfter: device.offlineAfter)
            counts[state, default: 0] += 1
            let backlogAge = health?.backlogOldestMillis.map { max(0, Double((health?.takenAtMillis ?? nowMillis) - $0) / 1000) }
            return [
                "name": device.name,
                "href": "/dashboard/devices/" + (device.name.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? device.name),
                "lastSeen": device.lastSeenMillis.map { timeAgo($0, nowMillis: nowMillis) } ?? "never",
                "seenSort": device.lastSeenMillis.map(String.init) ?? "",
                "version": health?.version ?? "—",
                "state": state.rawValue,
                "stateLabel": state.label,
                "reasons": health?.reasons ?? [String](),
                "alerts": health?.firingAlerts ?? 0,
                "backlog": backlogAge.map { ageText(seconds: $0) } ?? "—",
                "backlogSort": backlogAge.map { String(Int($0)) } ?? "",
                "disk": health.map { bytesText($0.databaseBytes) } ?? "—",
                "diskSort": health.map { String($0.databaseBytes) } ?? "",
                "drops": health?.drops.reduce(Int64(0)) { $0 + $1.count } ?? 0,
            ] as [String: Any]
        }
        self.counts = counts
        asOf = utcText(nowMillis)
    }

    var object: [String: Any] {
        ["counts": ["online": counts[.online] ?? 0, "degraded": counts[.degraded] ?? 0, "offline": counts[.offline] ?? 0,
                    "neverSeen": counts[.neverSeen] ?? 0],
         "devices": rows, "asOf": asOf]
    }
}

func utcText(_ millis: Int64, seconds: Bool = false) -> String {
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone(identifier: "UTC")
    formatter.dateFormat = seconds ? "yyyy-MM-dd HH:mm:ss" : "yyyy-MM-dd HH:mm"
    return formatter.string(from: Date(timeIntervalSince1970: Double(millis) / 1000))
}

func nowMillis() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

extension DashboardRoutes {
    func overviewView() async throws -> [String: Any] {
        let devices = try await withDeadline(pageTimeout) { [store] in try await store.devices() }
        return OverviewView(devices, nowMillis: nowMillis()).object
    }

    /// The range a device page asks for (`?range=`), 24 h by default; anything else is 400.
    func window(_ request: Request) throws -> ChartWindow {
        let text = request.uri.queryParameters.get("range") ?? ChartWindow.Range.day.rawValue
        guard let range = ChartWindow.Range(rawValue: text) else {
            throw DashboardProblem(status: .badRequest, heading: "Unknown range",
                                   message: "range=\(text) is not one of \(ChartWindow.Range.allCases.map(\.rawValue).joined(separator: ", ")).")
        }
        return ChartWindow(range, nowMillis: nowMillis())
    }

    func devicePage(_ request: Request, _ context: FleetRequestContext) async throws -> (HTTPResponse.Status, String, String) {
        let name = context.parameters.get("name") ?? ""
        let window = try window(request)
        let now = nowMillis()
        let store = store
        guard let device = try await withDeadline(pageTimeout, { try await store.device(named: name) }) else {
            throw DashboardProblem(status: .notFound, heading: "No such device", message: "No device is named \"\(name)\".")
        }
        async let seriesRead = withDeadline(pageTimeout) { try await store.series(device: name, window: window) }
        async let thresholdsRead = withDeadline(pageTimeout) { try await store.thresholds(device: name) }
        async let eventsRead = withDeadline(pageTimeout) { try await store.events(device: name, window: window) }
        async let healthRead = withDeadline(pageTimeout) { try await store.healthHistory(device: name, window: window) }
        let (series, thresholds, events, history) = try await (seriesRead, thresholdsRead, eventsRead, healthRead)

        let health = device.health
        let state = DeviceState.of(lastSeenMillis: device.lastSeenMillis, health: health?.status, nowMillis: now,
                                   offlineAfter: device.offlineAfter)
        let charts: [[String: Any]] = series.map { line in
            let chart = SensorChart(sensor: line.sensor, unit: line.unit, window: window, buckets: line.buckets,
                                    thresholds: thresholds.filter { $0.sensor == line.sensor })
            return ["sensor": line.sensor, "unit": line.unit, "svg": chart.svg()]
        }
        let backlogAge = health?.backlogOldestMillis.map { max(0, Double((health?.takenAtMillis ?? now) - $0) / 1000) }
        let view: [String: Any] = [
            "name": device.name,
            "state": state.rawValue, "stateLabel": state.label,
            "lastSeen": device.lastSeenMillis.map { timeAgo($0, nowMillis: now) } ?? "never",
            "version": health?.version ?? "—",
            "firing": health?.firingAlerts ?? 0,
            "disk": health.map { bytesText($0.databaseBytes) } ?? "—",
            "backlog": backlogAge.map { ageText(seconds: $0) } ?? "—",
            "reasons": health?.reasons ?? [String](),
            "range": window.range.rawValue,
            "ranges": ChartWindow.Range.allCases.map { ["key": $0.rawValue, "current": $0 == window.range] as [String: Any] },
            "bucketCount": window.buckets,
            "bucketText": ageText(seconds: Double(window.bucketMillis) / 1000),
            "from": utcText(window.startMillis), "to": utcText(window.endMillis),
            "charts": charts,
            "events": events.map { event -> [String: Any] in
                ["time": utcText(event.timestampMillis, seconds: true), "kind": event.kind, "rule": event.rule, "sensor": event.sensor,
                 "severity": event.severity, "value": event.value.map { String(format: "%.2f", $0) } ?? "", "message": event.message ?? ""]
            },
            "health": history.map { row -> [String: Any] in
                ["time": utcText(row.takenAtMillis, seconds: true), "status": row.status, "reasons": row.reasons.joined(separator: "; ")]
            },
        ]
        return (.ok, device.name, templates.render("device", view))
    }

    /// The shown range as CSV, one row per sensor and bucket: what the charts draw, so a
    /// month of 1 s readings is 180 rows per sensor, not 2.6 M (the read API gives raw rows).
    func exportCSV(_ request: Request, _ context: FleetRequestContext) async throws -> Response {
        let name = context.parameters.get("name") ?? ""
        let window: ChartWindow
        do { window = try self.window(request) } catch let problem as DashboardProblem {
            return html(problem.status, escape(problem.message))
        }
        let store = store
        guard try await withDeadline(pageTimeout, { try await store.device(named: name) }) != nil else {
            return html(.notFound, "No device is named \(escape(name)).")
        }
        let series = try await withDeadline(pageTimeout) { try await store.series(device: name, window: window) }
        var csv = "sensor,unit,bucket_start_utc,bucket_start_ms,min,max,mean,count\n"
        for line in series {
            for bucket in line.buckets {
                let start = window.startMillis + window.bucketMillis * Int64(bucket.index)
                csv += "\(csvField(line.sensor)),\(csvField(line.unit)),\(utcText(start, seconds: true)),\(start),\(bucket.min),\(bucket.max),\(bucket.mean),\(bucket.count)\n"
            }
        }
        var headers = pageHeaders("text/csv; charset=utf-8")
        headers[.contentDisposition] = "attachment; filename=\"\(name)-\(window.range.rawValue).csv\""
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: csv)))
    }
}

/// A CSV field, quoted when it holds a comma, quote or line break; a leading `=`, `+`, `-`
/// or `@` is prefixed with `'` so a spreadsheet does not run it as a formula.
func csvField(_ text: String) -> String {
    var value = text
    if let first = value.first, "=+-@".contains(first) { value = "'" + value }
    guard value.contains(where: { ",\"\n\r".contains($0) }) else { return value }
    return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
}
