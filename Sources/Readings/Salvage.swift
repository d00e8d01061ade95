import GRDB

/// What `salvage` could not read: sequence ranges on pages SQLite reports as damaged.
public struct SalvageReport: Sendable, Hashable {
    public var readings = 0
    /// Each range may include sequences that never existed or were dropped by retention.
    public var skipped: [ClosedRange<Int64>] = []

    public init() {}
}

extension ReadingStore {
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
        var cursor: Int64 = 0
        while cursor < highest {
            let batch: [Reading]
            do {
                batch = try readings(afterSequence: cursor, limit: Self.salvageBatch)
            } catch where LocalDatabase.isCorruption(error) {
                guard let resume = try readableAfter(cursor, highest: highest) else {
                    report.skipped.append((cursor + 1)...highest)
                    break
                }
                report.skipped.append((cursor + 1)...resume)
                cursor = resume
                continue
            }
            guard let last = batch.last else { break }
            report.readings += batch.count
            try body(batch)
            cursor = last.sequence
        }
        return report
    }

    /// The smallest position ≥ `cursor + 1` from which one row reads without error, or nil
    /// when none up to `highest` does. Throws for errors other than corruption.
    private func readableAfter(_ cursor: Int64, highest: Int64) throws -> Int64? {
        func reads(after position: Int64) throws -> Bool {
            do {
                _ = try readings(afterSequence: position, limit: 1)
                return true
            } catch where LocalDatabase.isCorruption(error) {
                return false
            }
        }
        var failing = cursor
        var step: Int64 = 1
        var readable: Int64?
        while readable == nil {
            let (probe, overflow) = failing.addingReportingOverflow(step)
            guard !overflow, probe <= highest else { break }
            if try reads(after: probe) { readable = probe } else { failing = probe }
            step = step.multipliedReportingOverflow(by: 2).overflow ? .max : step * 2
        }
        guard var good = readable else {
            return try highest > failing && reads(after: highest) ? highest : nil
        }
        // Bisect between the last failing and the first readable position.
        while good - failing > 1 {
            let middle = failing + (good - failing) / 2
            if try reads(after: middle) { good = middle } else { failing = middle }
        }
        return good
    }
}
