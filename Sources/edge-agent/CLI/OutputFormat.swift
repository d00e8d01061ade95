import ArgumentParser
import Foundation

/// How list commands print rows: an aligned table for people, CSV for spreadsheets, JSON and
/// NDJSON for scripts (`--follow` streams NDJSON one line per reading).
enum OutputFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case table, csv, json, ndjson
}

/// A row of named, already-typed cells, so every format prints the same columns.
struct Row: Sendable {
    var cells: [(key: String, value: Cell)]
    init(_ cells: [(String, Cell)]) { self.cells = cells.map { (key: $0.0, value: $0.1) } }
}

enum Cell: Sendable {
    case text(String)
    case number(Double, decimals: Int)
    case integer(Int64)
    case null

    var display: String {
        switch self {
        case .text(let s): s
        case .number(let v, let decimals): String(format: "%.\(decimals)f", v)
        case .integer(let v): String(v)
        case .null: "-"
        }
    }

    var csv: String {
        switch self {
        case .text(let s):
            s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
        case .number(let v, _): "\(v)"
        case .integer(let v): String(v)
        case .null: ""
        }
    }
}

/// JSON for `--format json|ndjson`: every string and number goes through Foundation's
/// `JSONEncoder` (escaping, non-finite values as null); only the object is assembled here, so
/// the keys keep the columns' order, which `JSONEncoder` does not promise for a keyed container.
enum JSONRow {
    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return encoder
    }()

    static func object(_ row: Row) -> String {
        "{" + row.cells.map { "\(fragment($0.key)):\(fragment($0.value))" }.joined(separator: ",") + "}"
    }

    private static func fragment(_ cell: Cell) -> String {
        switch cell {
        case .text(let s): fragment(s)
        case .number(let v, _): v.isFinite ? fragment(v) : "null"
        case .integer(let v): fragment(v)
        case .null: "null"
        }
    }

    private static func fragment(_ value: some Encodable) -> String {
        // Encoding a String, Double or Int64 cannot fail; "null" keeps a row whole if it ever did.
        (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }
}

struct RowPrinter {
    let format: OutputFormat
    let columns: [String]

    /// Everything at once (table widths depend on every row).
    func render(_ rows: [Row]) -> String {
        switch format {
        case .table:
            var widths = columns.map(\.count)
            for row in rows {
                for (i, cell) in row.cells.enumerated() where i < widths.count {
                    widths[i] = max(widths[i], cell.value.display.count)
                }
            }
            func line(_ values: [String]) -> String {
                zip(values, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }
                    .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
            }
            return ([line(columns)] + rows.map { line($0.cells.map(\.value.display)) }).joined(separator: "\n") + "\n"
        case .csv:
            return ([columns.joined(separator: ",")] + rows.map { $0.cells.map(\.value.csv).joined(separator: ",") })
                .joined(separator: "\n") + "\n"
        case .json:
            return "[" + rows.map(JSONRow.object).joined(separator: ",\n ") + "]\n"
        case .ndjson:
            return rows.map { JSONRow.object($0) + "\n" }.joined()
        }
    }

    /// One row as it arrives, for `--follow`: tables print without realignment.
    func streamLine(_ row: Row) -> String {
        switch format {
        case .table: row.cells.map(\.value.display).joined(separator: "  ") + "\n"
        case .csv: row.cells.map(\.value.csv).joined(separator: ",") + "\n"
        case .json, .ndjson: JSONRow.object(row) + "\n"
        }
    }
}

enum Sparkline {
    private static let ticks: [Character] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]

    /// Scaled to the series' own range; a gap (nil) prints as a space.
    static func render(_ values: [Double?]) -> String {
        let present = values.compactMap { $0 }
        guard let low = present.min(), let high = present.max() else { return "" }
        let span = high - low
        return String(values.map { value -> Character in
            guard let value else { return " " }
            guard span > 0 else { return ticks[3] }
            return ticks[min(ticks.count - 1, Int((value - low) / span * Double(ticks.count - 1) + 0.5))]
        })
    }
}

/// Times as the CLI prints them; options are read by `MomentArgument`.
enum TimeArgument {
    static func iso(_ millis: Int64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date(timeIntervalSince1970: Double(millis) / 1_000))
    }
}

/// Unbuffered standard output: `--follow` lines reach a pipe the moment they are printed.
enum Console {
    static func write(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    static func writeError(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}
