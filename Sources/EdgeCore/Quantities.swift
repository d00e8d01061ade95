/// Text → numbers for every profile key, agent.yaml key, `EDGE_AGENT_*` variable and CLI
/// option, in one place: each parse takes the range its key allows, computes with checked
/// arithmetic, never accepts NaN or infinity, and on refusal says what is allowed.
///
/// Callers add where the text came from (file:line and key, the variable, the option).
public struct QuantityError: Error, Sendable, Hashable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// `500ms`, `10s`, `5m` (or `5min`), `2h`, `7d`, `1w`, `1.5h`, or combined `1h30m`,
/// counted in whole milliseconds.
public enum DurationText {
    /// The longest duration any key accepts unless it allows less: ten years. Every sum of
    /// a "now" in milliseconds and such a duration stays far inside Int64.
    public static let maximum = Duration.seconds(3_650 * 86_400)

    static let units: [(name: Substring, millis: Int64)] = [
        ("ms", 1), ("s", 1_000), ("min", 60_000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000), ("w", 604_800_000),
    ]

    /// Any duration from 0 to `maximum`, or nil.
    public static func parse(_ text: String) -> Duration? {
        try? parse(text, in: .zero ... maximum)
    }

    /// The duration `text` writes if it lies in `range`; otherwise an error naming the range.
    public static func parse(_ text: String, in range: ClosedRange<Duration>) throws(QuantityError) -> Duration {
        guard let millis = millis(text) else {
            throw QuantityError("'\(text)' is not a duration in \(describe(range)); write e.g. 500ms, 10s, 5m, 2h or 7d")
        }
        let duration = Duration.milliseconds(millis)
        guard range.contains(duration) else {
            throw QuantityError("'\(text)' is out of range; allowed: \(describe(range))")
        }
        return duration
    }

    /// Whole milliseconds, or nil for anything that is not a duration or does not fit Int64.
    static func millis(_ text: String) -> Int64? {
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        guard !rest.isEmpty else { return nil }
        var total: Int64 = 0
        while !rest.isEmpty {
            let whole = rest.prefix { $0.isASCII && $0.isNumber }
            rest = rest.dropFirst(whole.count)
            var fraction: Substring = ""
            if rest.first == "." {
                rest = rest.dropFirst()
                fraction = rest.prefix { $0.isASCII && $0.isNumber }
                rest = rest.dropFirst(fraction.count)
                guard !fraction.isEmpty else { return nil }
            }
            guard !whole.isEmpty || !fraction.isEmpty else { return nil }
            let unitText = rest.prefix { $0.isASCII && $0.isLetter }
            rest = rest.dropFirst(unitText.count)
            guard let scale = units.first(where: { $0.name == unitText })?.millis else { return nil }
            guard let part = scaled(whole: whole, fraction: fraction, scale: scale) else { return nil }
            let (sum, overflow) = total.addingReportingOverflow(part)
            guard !overflow else { return nil }
            total = sum
        }
        return total
    }

    /// `whole.fraction × scale`, rounded to a whole number, or nil on overflow.
    static func scaled(whole: Substring, fraction: Substring, scale: Int64) -> Int64? {
        var value: Int64 = 0
        if !whole.isEmpty {
            guard let w = Int64(whole) else { return nil }
            let (product, overflow) = w.multipliedReportingOverflow(by: scale)
            guard !overflow else { return nil }
            value = product
        }
        // Nine fraction digits are more than any unit here can resolve; the rest are dropped.
        let digits = fraction.prefix(9)
        guard let f = Int64(digits.isEmpty ? "0" : digits) else { return nil }
        var denominator: Int64 = 1
        for _ in 0..<digits.count { denominator *= 10 }
        // f < 10^9 and scale ≤ 6.048 × 10^8: the product stays below 2^63.
        let (sum, overflow) = value.addingReportingOverflow((f * scale + denominator / 2) / denominator)
        return overflow ? nil : sum
    }

    public static func describe(_ range: ClosedRange<Duration>) -> String {
        "\(format(range.lowerBound))...\(format(range.upperBound))"
    }

    /// The shortest text that reads back as `duration` to the second (milliseconds below one second).
    public static func format(_ duration: Duration) -> String {
        let total = duration.components.seconds
        if total < 1 { return "\(max(0, duration.components.attoseconds / 1_000_000_000_000_000))ms" }
        let (d, h, m, s) = (total / 86_400, total % 86_400 / 3_600, total % 3_600 / 60, total % 60)
        if d > 0 { return h > 0 ? "\(d)d\(h)h" : "\(d)d" }
        if h > 0 { return m > 0 ? "\(h)h\(m)m" : "\(h)h" }
        if m > 0 { return s > 0 ? "\(m)m\(s)s" : "\(m)m" }
        return "\(s)s"
    }
}

extension Duration {
    /// Whole nanoseconds, saturating at Int64's bounds (±292 years) instead of trapping.
    public var saturatingNanos: Int64 {
        let (seconds, attoseconds) = components
        let (ns, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        let (sum, overflow2) = ns.addingReportingOverflow(attoseconds / 1_000_000_000)
        if overflow2 { return seconds < 0 ? .min : .max }
        return sum
    }

    /// Seconds as a floating-point number, for arithmetic on rates and for benchmarks.
    public var inSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }

    /// Whole seconds, rounded up: "retry in N s" must never say 0 while time remains.
    public var secondsRoundedUp: Int64 {
        let (seconds, attoseconds) = components
        return attoseconds > 0 && seconds < .max ? seconds + 1 : seconds
    }

    /// Seconds as people read them in answers and logs: "60", "1.5".
    public var secondsText: String {
        let (whole, fraction) = components
        return fraction == 0 ? "\(whole)" : "\(inSeconds)"
    }

    /// Whole milliseconds, saturating at Int64's bounds instead of trapping.
    public var saturatingMillis: Int64 {
        let (seconds, attoseconds) = components
        let (ms, overflow) = seconds.multipliedReportingOverflow(by: 1_000)
        if overflow { return seconds < 0 ? .min : .max }
        let (sum, overflow2) = ms.addingReportingOverflow(attoseconds / 1_000_000_000_000_000)
        if overflow2 { return seconds < 0 ? .min : .max }
        return sum
    }
}

/// `512MB`, `2GiB`, `800kB`, `1000000`: decimal and binary units, as people write them.
public enum ByteSizeText {
    static let units: [(name: String, bytes: Int64)] = [
        ("", 1), ("b", 1), ("k", 1_000), ("kb", 1_000), ("kib", 1_024), ("m", 1_000_000), ("mb", 1_000_000),
        ("mib", 1_048_576), ("g", 1_000_000_000), ("gb", 1_000_000_000), ("gib", 1_073_741_824),
    ]

    /// The size `text` writes if it lies in `range`; otherwise an error naming the range.
    public static func parse(_ text: String, in range: ClosedRange<Int64>) throws(QuantityError) -> Int64 {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let number = trimmed.prefix { ($0.isASCII && $0.isNumber) || $0 == "." }
        let unit = trimmed.dropFirst(number.count).trimmingCharacters(in: .whitespaces).lowercased()
        let parts = number.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard !number.isEmpty, number != ".", number.filter({ $0 == "." }).count <= 1,
              let scale = units.first(where: { $0.name == unit })?.bytes,
              let bytes = DurationText.scaled(whole: parts[0], fraction: parts.count > 1 ? parts[1] : "", scale: scale) else {
            throw QuantityError("'\(text)' is not a size in \(describe(range)); write e.g. 512MB, 2GB or 800kB")
        }
        guard range.contains(bytes) else { throw QuantityError("'\(text)' is out of range; allowed: \(describe(range))") }
        return bytes
    }

    public static func describe(_ range: ClosedRange<Int64>) -> String {
        "\(format(range.lowerBound))...\(format(range.upperBound))"
    }

    /// Exact: `1GB`, `64MiB`, `1000kB`, or plain bytes.
    public static func format(_ bytes: Int64) -> String {
        for (name, size) in [("GB", Int64(1_000_000_000)), ("GiB", 1_073_741_824), ("MB", 1_000_000), ("MiB", 1_048_576),
                             ("kB", 1_000), ("KiB", 1_024)] where bytes != 0 && bytes % size == 0 {
            return "\(bytes / size)\(name)"
        }
        return "\(bytes)"
    }
}

/// Whole numbers (decimal, or hex with `0x`) and finite decimal numbers within a range.
public enum NumberText {
    public static func integer(_ text: String, in range: ClosedRange<Int>) throws(QuantityError) -> Int {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let value = trimmed.hasPrefix("0x") ? Int(trimmed.dropFirst(2), radix: 16) : Int(trimmed)
        guard let value, range.contains(value) else {
            throw QuantityError("'\(text)' is not a whole number in \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    /// A finite number in `range`; NaN, infinity and values that overflow to it never pass.
    public static func finite(_ text: String, in range: ClosedRange<Double>) throws(QuantityError) -> Double {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        // Only plain decimal notation: "nan", "inf", hex floats and "0x…" are not numbers a person writes.
        let plain = !trimmed.isEmpty && trimmed.allSatisfy { $0.isASCII && ($0.isNumber || "+-.eE".contains($0)) }
        guard plain, let value = Double(trimmed), value.isFinite else {
            throw QuantityError("'\(text)' is not a number in \(describe(range))")
        }
        guard range.contains(value) else { throw QuantityError("'\(text)' is out of range; allowed: \(describe(range))") }
        return value == 0 ? 0 : value // -0 reads as 0
    }

    public static func describe(_ range: ClosedRange<Double>) -> String {
        "\(short(range.lowerBound))...\(short(range.upperBound))"
    }

    /// `450`, not `450.0`; `1e+06` stays as Swift prints it.
    public static func short(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : "\(value)"
    }
}

extension Double {
    /// Rounded to the nearest integer and held inside `T`'s range, as a chip's register
    /// saturates; NaN gives 0. For simulated chips and drivers, which must never trap on
    /// whatever value a scenario or a bus hands them.
    public func saturatingInteger<T: FixedWidthInteger>(_: T.Type = T.self) -> T {
        guard !isNaN else { return 0 }
        let r = rounded()
        if r <= Double(T.min) { return T.min }
        if r >= Double(T.max) { return T.max }
        return T(r)
    }
}
