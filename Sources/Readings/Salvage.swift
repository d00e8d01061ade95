import GRDB

/// What `salvage` could not read: sequence ranges on pages SQLite reports as damaged.
public struct SalvageReport: Sendable, Hashable {
    public var readings = 0
    /// Each range may include sequences that never existed or were dropped by retention.
    public var skipped: [ClosedRange<Int64>] = []

    public init() {}
}

extension ReadingQueries {
    /// Rows read per batch.
    static let salvageBatch = 1_000

    /// Every reading that can still be read from a damaged file (a quarantined one, opened
    /// with `LocalDatabase.openReadOnly`), in sequence order, handed to `body` in batches.
    ///
    /// Reading goes by sequence through the table's b-tree; where a page is damaged, the
    /// first readable sequence after it is found by probing forward (doubling, then
    /// bisecting), and the range in between is reported as skipped. A damaged root page or
    /// schema leaves nothing readable: that is thrown.
    public func salvage(_ body: ([Reading]) throws -> Void) throws -> SalvageReport {
        var report = SalvageReport()
        let highest = (try? highestSequenceIssued()) ?? Int64.max
        var next: Int64 = 1
        while next <= highest {
            let batch: [Reading]
            do {
                batch = try readings(from: next, limit: Self.salvageBatch)
            } catch where LocalDatabase.isCorruption(error) {
                guard let resume = try firstReadable(from: next, highest: highest) else {
                    report.skipped.append(next...highest)
                    break
                }
                report.skipped.append(next...(resume - 1))
                next = resume
                continue
            }
            guard let last = batch.last else { break }
            report.readings += batch.count
            try body(batch)
            next = last.sequence + 1
        }
        return report
    }

    /// Seeks to `sequence >= from` (not `> from - 1`: that seek lands on the page holding
    /// `from - 1`, which may be the damaged one).
    private func readings(from first: Int64, limit: Int) throws -> [Reading] {
        try database.writer.read { db in
            try Self.fetchReadings(
                db, sql: Self.selectReadings + " WHERE r.sequence >= ? ORDER BY r.sequence LIMIT ?", arguments: [first, limit])
        }
    }

    /// The smallest position above `from` (which fails) from which one row reads without
    /// error, or nil when none up to `highest` does. Throws for errors other than corruption.
    private func firstReadable(from: Int64, highest: Int64) throws -> Int64? {
        func reads(from position: Int64) throws -> Bool {
            do {
                _ = try readings(from: position, limit: 1)
                return true
            } catch where LocalDatabase.isCorruption(error) {
                return false
            }
        }
        var failing = from
        var step: Int64 = 1
        var readable: Int64?
        while readable == nil {
            let (probe, overflow) = failing.addingReportingOverflow(step)
            guard !overflow, probe <= highest else { break }
            if try reads(from: probe) { readable = probe } else { failing = probe }
            step = step.multipliedReportingOverflow(by: 2).overflow ? .max : step * 2
        }
        guard var good = readable else { return nil }
        // Bisect between the last failing and the first readable position.
        while good - failing > 1 {
            let middle = failing + (good - failing) / 2
            if try reads(from: middle) { good = middle } else { failing = middle }
        }
        return good
    }
}
