import NotifyDelivery
/// The messages one target sent within its rate cap's period, as a value (the ledger persists
/// `sentMillis`; at most `cap.messages` entries, so it stays a few bytes however long the
/// outage).
///
/// The cap never drops anything: when one message is left in the period, `NotifyPlan` makes
/// it a summary of everything pending, and after that the target waits for the period to
/// free a slot. Nothing is lost, and the phone gets at most `cap.messages` per period.
public struct RateWindow: Sendable, Hashable {
    public let cap: NotifyTarget.RateCap
    /// Send times within the last period, ascending.
    public private(set) var sentMillis: [Int64]

    public init(cap: NotifyTarget.RateCap, sentMillis: [Int64] = []) {
        self.cap = cap
        self.sentMillis = Array(sentMillis.sorted().suffix(cap.messages))
    }

    /// Messages still allowed at `nowMillis`.
    public func remaining(nowMillis: Int64) -> Int {
        let since = nowMillis - cap.per.saturatingMillis
        return cap.messages - sentMillis.filter { $0 > since }.count
    }

    /// When the next slot frees, if none is free at `nowMillis`.
    public func blockedUntil(nowMillis: Int64) -> Int64? {
        guard remaining(nowMillis: nowMillis) <= 0, let oldest = sentMillis.first else { return nil }
        return oldest + cap.per.saturatingMillis
    }

    /// Counts a message sent at `nowMillis`, forgetting what is out of every period.
    public mutating func record(nowMillis: Int64) {
        sentMillis.append(nowMillis)
        sentMillis = Array(sentMillis.suffix(cap.messages))
    }
}
