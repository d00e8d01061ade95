import NotifyDelivery
import Wire

/// Which still-firing critical rules a target reminds its person of now. A reminder is for
/// what is critical and nobody has taken on: acknowledging a rule stops its repeats, and a
/// silenced rule (or maintenance) sends none. Each repeat is a message of its own, outside
/// the cursor's ranges; `key` gives it a stable idempotency key per episode and repeat.
public enum RepeatSchedule {
    /// - Parameters:
    ///   - lastSentMillis: per rule, when this target last told of its current episode
    ///     (the firing message or a repeat); absent means only the episode start is known.
    /// - Returns: the due rules, in rule id order, so a restart plans the same ones.
    public static func due(firing: [FiringRule], target: NotifyTarget, lastSentMillis: [String: Int64],
                           nowMillis: Int64) -> [FiringRule] {
        firing.filter { rule in
            guard repeats(rule, target: target) else { return false }
            return nowMillis >= dueMillis(rule: rule, lastSentMillis: lastSentMillis[rule.ruleID], interval: target.repeatInterval)
        }.sorted { $0.ruleID < $1.ruleID }
    }

    /// When the next reminder falls due for any rule, nil with none to remind of: the
    /// delivery stage sleeps until then.
    public static func nextDueMillis(firing: [FiringRule], target: NotifyTarget, lastSentMillis: [String: Int64]) -> Int64? {
        firing.filter { repeats($0, target: target) }
            .map { dueMillis(rule: $0, lastSentMillis: lastSentMillis[$0.ruleID], interval: target.repeatInterval) }.min()
    }

    private static func repeats(_ rule: FiringRule, target: NotifyTarget) -> Bool {
        guard rule.severity == .critical, !rule.acknowledged, !rule.silenced else { return false }
        return (target.filter.rules.isEmpty || target.filter.rules.contains(rule.ruleID))
            && (target.filter.sensors.isEmpty || target.filter.sensors.contains(rule.sensorID))
    }

    /// `reef-edge/<target>/repeat/<rule>/<due>`, where `due` is when the repeat fell due:
    /// it depends only on the episode and the last message sent for it, so every retry of one
    /// repeat carries the same key and the next repeat a new one.
    public static func key(target: String, rule: FiringRule, lastSentMillis: Int64?, interval: Duration) -> String {
        IdempotencyKey.reminder(target: target, ruleID: rule.ruleID,
                                dueMillis: dueMillis(rule: rule, lastSentMillis: lastSentMillis, interval: interval))
    }

    /// When the next repeat of `rule` falls due: `interval` after the episode began or the
    /// last message for it, whichever is later (`NotifyContent.reminder`'s `dueMillis`).
    public static func dueMillis(rule: FiringRule, lastSentMillis: Int64?, interval: Duration) -> Int64 {
        max(rule.firingSinceMillis, lastSentMillis ?? rule.firingSinceMillis) + interval.saturatingMillis
    }
}
