import Foundation
import Sync
import Wire
#if canImport(Glibc)
import Glibc
#endif

/// The agent's figures for Prometheus, as a node_exporter textfile-collector file. The device
/// runs no HTTP server: node_exporter (`--collector.textfile.directory=DIR`) reads the file
/// and serves it with the host's own metrics.
///
/// Rendered purely from what the health report already holds (one owner per fact: the
/// `HealthMonitor` gathers, this only formats), plus the sync counters and the board's
/// temperature and power, so the file and `edge-agent status` never disagree. Names follow
/// Prometheus' conventions: one `reef_edge_` prefix, base units (seconds, bytes), `_total` for
/// counters, a `_build_info` gauge.
struct MetricsTextfile {
    struct Inputs: Sendable {
        var report: HealthReport
        var sync: SyncStatus?
        /// Successful reads per sensor since the agent started.
        var readsOK: [String: Int]
        var board: BoardFacts
    }

    private var lines: [String] = []
    private var declared: Set<String> = []

    static func render(_ inputs: Inputs) -> String {
        var file = MetricsTextfile()
        file.add(inputs)
        return file.lines.joined(separator: "\n") + "\n"
    }

    private mutating func add(_ inputs: Inputs) {
        let report = inputs.report
        let now = Double(report.takenAtMillis) / 1000
        gauge("build_info", "The agent's version.", 1, ["version": report.version])
        for status in HealthReport.Status.allCases {
            gauge("health_status", "1 for the device's health status now, 0 for the others.",
                  report.status == status ? 1 : 0, ["status": status.rawValue])
        }
        gauge("uptime_seconds", "Seconds since the agent started.", report.uptimeSeconds)
        gauge("clock_synchronized", "1 when the system clock is synchronised (NTP).", report.clockSynchronized ? 1 : 0)
        gauge("report_timestamp_seconds", "When these figures were taken (Unix time).", now)

        for sensor in report.sensors {
            gauge("sensor_up", "1 when the sensor's latest poll gave a value.", sensor.state == .ok ? 1 : 0, ["sensor": sensor.id])
            counter("sensor_reads_total", "Polls that gave a value, since the agent started.",
                    Double(inputs.readsOK[sensor.id] ?? 0), ["sensor": sensor.id])
            for (kind, count) in sensor.errorsByKind.sorted(by: { $0.key < $1.key }) {
                counter("sensor_read_errors_total", "Polls that failed, by error kind, since the agent started.",
                        Double(count), ["sensor": sensor.id, "kind": kind])
            }
            if let age = sensor.lastReadingAgeSeconds {
                gauge("sensor_last_success_timestamp_seconds", "When the sensor last gave a value (Unix time).",
                      (now - age).rounded(toPlaces: 3), ["sensor": sensor.id])
            }
        }

        gauge("database_bytes", "Size of the SQLite database on disk.", Double(report.databaseBytes))
        gauge("backlog_rows", "Readings not yet acknowledged by the fleet server.", Double(report.backlogRows))
        if let oldest = report.backlogOldestMillis {
            gauge("backlog_oldest_age_seconds", "Age of the oldest reading not yet acknowledged.",
                  max(0, Double(report.takenAtMillis - oldest) / 1000))
        }
        if let events = report.eventBacklogRows {
            gauge("event_backlog_rows", "Alert events not yet acknowledged by the fleet server.", Double(events))
        }
        for drop in report.drops.sorted(by: { ($0.sensorID, $0.reason) < ($1.sensorID, $1.reason) }) {
            counter("dropped_readings_total", "Readings removed before they were synced or by age, by reason.",
                    Double(drop.count), ["sensor": drop.sensorID, "reason": drop.reason])
        }

        if let sync = inputs.sync {
            for (stream, figures) in [("readings", sync.readings), ("events", sync.events)] {
                counter("sync_batches_acked_total", "Batches the fleet server acknowledged.", Double(figures.batchesAcked), ["stream": stream])
                counter("sync_rows_sent_total", "Rows the fleet server stored as new.", Double(figures.rowsInserted), ["stream": stream])
                counter("sync_rows_duplicate_total", "Rows the fleet server already held (resent after a lost answer).",
                        Double(figures.rowsDuplicate), ["stream": stream])
            }
            gauge("sync_consecutive_failures", "Failed sync attempts since the last success; retried with backoff.",
                  Double(sync.consecutiveFailures))
            if let last = sync.lastSuccessMillis {
                gauge("sync_last_success_timestamp_seconds", "When a batch was last acknowledged (Unix time).", Double(last) / 1000)
            }
        }
        gauge("sync_dead_letters", "Batches the fleet server refused, kept for `edge-agent sync requeue`.",
              Double(report.deadLetteredBatches))

        for target in report.notify ?? [] {
            counter("notify_sent_total", "Messages the notification service accepted.", Double(target.sent), ["target": target.target])
            counter("notify_retried_total", "Attempts that failed and were tried again.", Double(target.retried), ["target": target.target])
            gauge("notify_dead_letters", "Messages the service refused, waiting for `edge-agent notify requeue`.",
                  Double(target.dead), ["target": target.target])
            gauge("notify_pending_events", "Alert events not yet dealt with for the target.", Double(target.pending), ["target": target.target])
        }
        gauge("alerts_firing", "Alert rules firing now.", Double(report.firingAlerts))
        gauge("process_resident_memory_bytes", "The agent's resident memory.", Double(report.rssBytes))
        gauge("process_cpu_ratio", "Share of one core the agent used since the previous report.",
              (report.cpuPercent / 100).rounded(toPlaces: 4))

        if let celsius = inputs.board.cpuTemperatureCelsius {
            gauge("board_cpu_temperature_celsius", "The SoC's temperature (thermal zone 0).", celsius)
        }
        if let throttled = inputs.board.throttled {
            gauge("board_under_voltage", "1 while the supply is below 4.63 V (Raspberry Pi firmware).",
                  throttled & 0x1 != 0 ? 1 : 0)
            gauge("board_under_voltage_occurred", "1 if under-voltage happened since boot (Raspberry Pi firmware).",
                  throttled & 0x1_0000 != 0 ? 1 : 0)
            gauge("board_throttled", "1 while the firmware throttles the CPU.", throttled & 0x4 != 0 ? 1 : 0)
        }
    }

    private mutating func gauge(_ name: String, _ help: String, _ value: Double, _ labels: [String: String] = [:]) {
        sample(name, "gauge", help, value, labels)
    }

    private mutating func counter(_ name: String, _ help: String, _ value: Double, _ labels: [String: String] = [:]) {
        sample(name, "counter", help, value, labels)
    }

    /// One sample; the family's HELP and TYPE once, before its first sample.
    private mutating func sample(_ name: String, _ type: String, _ help: String, _ value: Double, _ labels: [String: String]) {
        let full = "reef_edge_" + name
        if declared.insert(full).inserted {
            lines.append("# HELP \(full) \(help)")
            lines.append("# TYPE \(full) \(type)")
        }
        let labelText = labels.isEmpty ? ""
            : "{" + labels.sorted(by: { $0.key < $1.key }).map { "\($0.key)=\"\(Self.escape($0.value))\"" }.joined(separator: ",") + "}"
        lines.append("\(full)\(labelText) \(Self.format(value))")
    }

    /// Label values escape `\`, `"` and line feeds (the exposition format's three).
    static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }

    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        return value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : "\(value)"
    }

    /// Writes `text` to `path` so node_exporter sees the old file or the new one, never half:
    /// a temporary file in the same directory, then rename(2). node_exporter skips files not
    /// ending in `.prom`, so the temporary never shows.
    static func write(_ text: String, to path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        let temporary = (directory.isEmpty ? "." : directory) + "/.\((path as NSString).lastPathComponent).\(getpid()).tmp"
        try Data(text.utf8).write(to: URL(fileURLWithPath: temporary))
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw MetricsFileError(path: path, reason: reason)
        }
    }
}

struct MetricsFileError: Error, CustomStringConvertible {
    var path: String
    var reason: String
    var description: String { "cannot replace \(path): \(reason)" }
}

/// What the board itself says about heat and power, where it says it: the kernel's thermal
/// zone (millidegrees) and, on a Raspberry Pi, the firmware's throttle flags (what `vcgencmd
/// get_throttled` prints). Absent files leave the figures out, so a laptop or another board
/// shows no made-up zeros.
struct BoardFacts: Sendable, Hashable {
    var cpuTemperatureCelsius: Double?
    /// The firmware's bit field: 0 under-voltage now, 2 throttled now, 16 under-voltage has occurred.
    var throttled: UInt32?

    /// Reads the files under `root` (`/` on the device; a directory of copies in tests).
    static func read(root: String = "/") -> BoardFacts {
        func text(_ path: String) -> String? {
            guard let data = FileManager.default.contents(atPath: (root as NSString).appendingPathComponent(path)),
                  data.count < 64 else { return nil }
            return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let millidegrees = text("sys/class/thermal/thermal_zone0/temp").flatMap { Int64($0) }
        let throttled = text("sys/devices/platform/soc/soc:firmware/get_throttled").flatMap { value -> UInt32? in
            let digits = value.hasPrefix("0x") ? String(value.dropFirst(2)) : value
            return UInt32(digits, radix: 16)
        }
        return BoardFacts(cpuTemperatureCelsius: millidegrees.flatMap { (-100_000...200_000).contains($0) ? Double($0) / 1000 : nil },
                          throttled: throttled)
    }
}

private extension Double {
    func rounded(toPlaces places: Int) -> Double {
        let scale = pow(10, Double(places))
        return (self * scale).rounded() / scale
    }
}
