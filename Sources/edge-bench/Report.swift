/// A goal a figure is held to. Ratios compare the figure's median with its baseline's.
enum Goal: Sendable {
    case atLeast(Double)
    case atMost(Double)
    /// The figure's median is at least this fraction of the baseline's median.
    case fractionOfBaseline(Double)

    func holds(median: Double, baseline: Double?) -> Bool {
        switch self {
        case .atLeast(let bound): median >= bound
        case .atMost(let bound): median <= bound
        case .fractionOfBaseline(let fraction): baseline.map { median >= fraction * $0 } ?? false
        }
    }

    var text: String {
        switch self {
        case .atLeast(let bound): "≥ \(Format.number(bound))"
        case .atMost(let bound): "≤ \(Format.number(bound))"
        case .fractionOfBaseline(let fraction): "≥ \(Format.number(fraction * 100)) % of baseline"
        }
    }
}

/// One line of the table: the samples of several runs, the baseline measured in the same
/// runs (if any), and the goals the median must meet.
struct Figure: Sendable {
    var name: String
    var unit: String
    var samples: [Double]
    var baseline: [Double] = []
    var goals: [Goal] = []
    /// Judge the goals on the worst sample (max) rather than the median: a memory ceiling
    /// is broken by its peak.
    var judgedOnMax = false

    var median: Double { Self.median(samples) }
    var baselineMedian: Double? { baseline.isEmpty ? nil : Self.median(baseline) }
    /// Nil without a baseline, or against a baseline of zero (an idle process's CPU).
    var ratio: Double? { baselineMedian.flatMap { $0 == 0 ? nil : median / $0 } }

    /// `pass`, `FAIL`, or `—` for a figure without a goal (a baseline, a size).
    var verdict: String {
        guard !goals.isEmpty, !samples.isEmpty else { return "—" }
        let judged = judgedOnMax ? samples.max()! : median
        let verdict = goals.allSatisfy { $0.holds(median: judged, baseline: baselineMedian) } ? "pass" : "FAIL"
        return judgedOnMax ? verdict + " (max)" : verdict
    }

    static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return .nan }
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count.isMultiple(of: 2) ? (sorted[middle - 1] + sorted[middle]) / 2 : sorted[middle]
    }
}

/// Renders figures as a Markdown table, so the output pastes into docs/BENCHMARKS.md as it is.
enum Table {
    static let header = ["figure", "unit", "median", "min", "max", "baseline", "ratio", "goal", "verdict"]

    static func render(_ figures: [Figure]) -> String {
        let rows = figures.map { figure -> [String] in
            [
                figure.name, figure.unit,
                Format.number(figure.median),
                Format.number(figure.samples.min() ?? .nan),
                Format.number(figure.samples.max() ?? .nan),
                figure.baselineMedian.map(Format.number) ?? "",
                figure.ratio.map { Format.number($0 * 100) + " %" } ?? "",
                figure.goals.map(\.text).joined(separator: ", "),
                figure.verdict,
            ]
        }
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            "| " + zip(cells, widths).map { $0 + String(repeating: " ", count: $1 - $0.count) }.joined(separator: " | ") + " |"
        }
        let rule = "|" + widths.map { String(repeating: "-", count: $0 + 2) }.joined(separator: "|") + "|"
        return ([line(header), rule] + rows.map(line)).joined(separator: "\n")
    }
}

enum Format {
    /// Three significant digits for small values, whole numbers with thin grouping for large ones.
    static func number(_ value: Double) -> String {
        guard value.isFinite else { return "n/a" }
        let magnitude = abs(value)
        if magnitude >= 1000 {
            let digits = String(Int64(value.rounded()))
            var grouped = ""
            for (index, character) in digits.reversed().enumerated() {
                if index > 0, index.isMultiple(of: 3), character != "-" { grouped.append(" ") }
                grouped.append(character)
            }
            return String(grouped.reversed())
        }
        if magnitude >= 100 || value == value.rounded() && magnitude >= 1 { return String(Int64(value.rounded())) }
        if magnitude >= 10 { return String(format: "%.1f", value) }
        if magnitude >= 1 { return String(format: "%.2f", value) }
        return String(format: "%.3g", value)
    }
}
