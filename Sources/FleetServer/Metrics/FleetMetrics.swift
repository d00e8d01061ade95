import CoreMetrics
import Foundation
import Hummingbird
import Prometheus
import Synchronization
import Wire

/// The server's Prometheus figures: swift-metrics instruments on a swift-prometheus registry
/// of this server's own (not the process-wide `MetricsSystem`), so two servers in one
/// process — the tests, the benchmark — never count into each other.
///
/// Names follow Prometheus conventions: one prefix (`reef_fleet_`), base units (seconds,
/// bytes), `_total` counters, no label whose values grow with the fleet (no device names).
/// Figures that are a state rather than an event (devices by state, database connections)
/// are read when scraped; see `MetricsScrape`.
public final class FleetMetrics: Sendable {
    public static let prefix = "reef_fleet_"
    /// The server's version, in `reef_fleet_build_info`.
    public static let serverVersion = "0.1.0"

    let registry = PrometheusCollectorRegistry()
    private let totals = Mutex<[String: Int64]>([:])
    let factory: PrometheusMetricsFactory

    let batchesStored: CoreMetrics.Counter
    let readingsStored: CoreMetrics.Counter
    let eventsStored: CoreMetrics.Counter
    let readingDuplicates: CoreMetrics.Counter
    let eventDuplicates: CoreMetrics.Counter
    let healthReportsStored: CoreMetrics.Counter

    /// Request latency buckets, seconds: a batch stores in milliseconds, a 30-day device page
    /// in about a second.
    static let latencyBuckets: [Duration] = [
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
        .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
    ]

    public init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = Self.latencyBuckets
        self.factory = factory
        func counter(_ name: String, _ labels: [(String, String)] = []) -> CoreMetrics.Counter {
            CoreMetrics.Counter(label: Self.prefix + name, dimensions: labels, factory: factory)
        }
        batchesStored = counter("batches_stored_total")
        readingsStored = counter("readings_stored_total")
        eventsStored = counter("events_stored_total")
        readingDuplicates = counter("duplicate_rows_total", [("kind", "readings")])
        eventDuplicates = counter("duplicate_rows_total", [("kind", "events")])
        healthReportsStored = counter("health_reports_stored_total")
        gauge("build_info", [("version", Self.serverVersion)]).record(1)
    }

    /// The metrics of the request being handled, set by `MetricsMiddleware`, so the batch
    /// handler records what it stored without every route carrying the metrics object.
    @TaskLocal static var current: FleetMetrics?

    /// A batch stored: the new rows and the ones the server already held.
    func stored(_ ack: SyncAck) {
        batchesStored.increment()
        readingsStored.increment(by: ack.readings?.inserted ?? 0)
        readingDuplicates.increment(by: ack.readings?.duplicates ?? 0)
        eventsStored.increment(by: ack.events?.inserted ?? 0)
        eventDuplicates.increment(by: ack.events?.duplicates ?? 0)
        if ack.healthStored { healthReportsStored.increment() }
    }

    /// A batch refused, by the error code it was answered with (`malformed`, `too_large`,
    /// `unauthorized`, `overloaded`, …: the closed set of `WireError.error` codes; `internal`
    /// for anything else).
    func rejected(reason: String) {
        CoreMetrics.Counter(label: Self.prefix + "batches_rejected_total", dimensions: [("reason", reason)], factory: factory).increment()
    }

    func request(route: String, method: String, status: Int, duration: Duration) {
        CoreMetrics.Timer(label: Self.prefix + "http_request_duration_seconds",
                          dimensions: [("route", route), ("method", method), ("status", String(status))], factory: factory)
            .recordNanoseconds(duration.saturatingNanoseconds)
    }

    func gauge(_ name: String, _ labels: [(String, String)] = []) -> CoreMetrics.Gauge {
        CoreMetrics.Gauge(label: Self.prefix + name, dimensions: labels, factory: factory)
    }

    /// A counter whose total lives elsewhere (the queue's per-receiver counts in PostgreSQL),
    /// set to that total at scrape. Written straight to the registry: a swift-metrics
    /// `Counter` only increments.
    /// Under a lock, by the difference from the last total set, so concurrent scrapes never
    /// add a total twice; a total that went down (a new database) restarts the counter, as a
    /// process restart would.
    func total(_ name: String, _ labels: [(String, String)], _ value: Int64) {
        let counter = registry.makeCounter(name: Self.prefix + name, labels: labels)
        let key = Self.prefix + name + labels.map { "|\($0.0)=\($0.1)" }.joined()
        totals.withLock { totals in
            let last = totals[key] ?? 0
            if value >= last {
                counter.increment(by: value - last)
            } else {
                counter.reset()
                counter.increment(by: value)
            }
            totals[key] = value
        }
    }

    /// The Prometheus text exposition of everything recorded so far.
    func exposition() -> String { registry.emitToString() }
}

extension Duration {
    fileprivate var saturatingNanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : whole.addingReportingOverflow(attoseconds / 1_000_000_000).partialValue
    }
}

/// Times every request into `reef_fleet_http_request_duration_seconds` (by route pattern,
/// method and status, so the label values are bounded by the routes) and makes the metrics
/// reachable from handlers for the request (`FleetMetrics.current`). Added to the router
/// before any route, so it wraps them all and sees each answer as the client gets it.
struct MetricsMiddleware: RouterMiddleware {
    typealias Context = FleetRequestContext
    let metrics: FleetMetrics

    func handle(_ request: Request, context: FleetRequestContext,
                next: (Request, FleetRequestContext) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        do {
            let response = try await FleetMetrics.$current.withValue(metrics) { try await next(request, context) }
            record(request, context, status: Int(response.status.code), start: start)
            return response
        } catch {
            record(request, context, status: (error as? any HTTPResponseError).map { Int($0.status.code) } ?? 500, start: start)
            throw error
        }
    }

    private func record(_ request: Request, _ context: FleetRequestContext, status: Int, start: ContinuousClock.Instant) {
        metrics.request(route: context.endpointPath ?? "unmatched", method: request.method.rawValue, status: status,
                        duration: start.duration(to: .now))
    }
}

extension FleetMetrics {
    /// Adds the timing middleware; call before any route is added (Hummingbird applies a
    /// middleware to the routes added after it).
    func instrument(_ router: Router<FleetRequestContext>) {
        router.add(middleware: MetricsMiddleware(metrics: self))
    }
}
