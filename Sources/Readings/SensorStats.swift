import GRDB

/// Summary of one sensor (one unit) over a window, for `readings stats` and `status`.
public struct SensorStats: Sendable, Hashable {
    public var sensorID: String
    public var unit: String
    public var count: Int
    public var min: Double
    public var max: Double
    public var mean: Double
    /// The reading with the latest timestamp in the window.
    public var last: Reading
    /// Mean of each of the equal-width buckets that split `windowStartMillis...windowEndMillis`;
    /// nil where a bucket has no reading. Every sensor shares the window, so sparklines align.
    public var bucketMeans: [Double?]
    public var windowStartMillis: Int64
    public var windowEndMillis: Int64

    public init(
        sensorID: String, unit: String, count: Int, min: Double, max: Double, mean: Double, last: Reading,
        bucketMeans: [Double?], windowStartMillis: Int64, windowEndMillis: Int64
    ) {
        self.sensorID = sensorID
        self.unit = unit
        self.count = count
        self.min = min
        self.max = max
        self.mean = mean
        self.last = last
        self.bucketMeans = bucketMeans
        self.windowStartMillis = windowStartMillis
        self.windowEndMillis = windowEndMillis
    }
}

extension ReadingQueries {
    /// Per sensor and unit: count, min, max, mean, last, and `buckets` bucket means over the
    /// window (bounds inclusive; an open bound is taken from the data). Ordered by sensor id.
    public func stats(sinceMillis: Int64?, untilMillis: Int64?, buckets: Int = 24) throws -> [SensorStats] {
        guard (1...1000).contains(buckets) else { throw ReadingStoreError.invalidLimit(buckets) }
        let window = Window(sensorID: nil, sinceMillis: sinceMillis, untilMillis: untilMillis)
        return try database.writer.read { db in
            let range = try Row.fetchOne(
                db, sql: "SELECT min(r.ts_ms), max(r.ts_ms) FROM readings r" + window.whereClause,
                arguments: window.arguments)
            guard let range, let first: Int64 = range[0], let newest: Int64 = range[1] else { return [] }
            let start = sinceMillis ?? first
            let end = untilMillis ?? newest
            let width = end - start + 1

            var means: [Int64: [Double?]] = [:]
            let bucketRows = try Row.fetchCursor(
                db,
                sql: "SELECT r.series_id, (r.ts_ms - ?) * ? / ?, avg(r.value) FROM readings r"
                    + window.whereClause + " GROUP BY 1, 2",
                arguments: [start, buckets, width] + window.arguments)
            while let row = try bucketRows.next() {
                let series: Int64 = row[0]
                let bucket: Int = row[1]
                means[series, default: Array(repeating: nil, count: buckets)][bucket] = row[2]
            }

            var result: [SensorStats] = []
            let summaries = try Row.fetchAll(
                db,
                sql: "SELECT r.series_id, count(*), min(r.value), max(r.value), avg(r.value) FROM readings r"
                    + window.whereClause + " GROUP BY r.series_id",
                arguments: window.arguments)
            for summary in summaries {
                let series: Int64 = summary[0]
                var lastArguments = window.arguments
                lastArguments += [series]
                let clause = window.whereClause.isEmpty ? " WHERE" : window.whereClause + " AND"
                guard let last = try Self.fetchReadings(
                    db,
                    sql: Self.selectReadings + clause + " r.series_id = ? ORDER BY r.ts_ms DESC, r.sequence DESC LIMIT 1",
                    arguments: lastArguments).first
                else { continue }
                result.append(SensorStats(
                    sensorID: last.sensorID, unit: last.unit, count: summary[1], min: summary[2], max: summary[3],
                    mean: summary[4], last: last, bucketMeans: means[series] ?? Array(repeating: nil, count: buckets),
                    windowStartMillis: start, windowEndMillis: end))
            }
            return result.sorted { ($0.sensorID, $0.unit) < ($1.sensorID, $1.unit) }
        }
    }
}
