import Notify
import NotifyDelivery
import Testing
import Wire

@Suite struct RepeatScheduleTests {
    let target = NotifyTarget(id: "phone", kind: .ntfy, url: "https://ntfy.sh/reef")
    let hour: Int64 = 3_600_000

    func rule(_ id: String, _ severity: AlertSeverity = .critical, since: Int64 = 0, acknowledged: Bool = false,
              silenced: Bool = false) -> FiringRule {
        FiringRule(ruleID: id, sensorID: "temp", severity: severity, firingSinceMillis: since, acknowledged: acknowledged,
                   silenced: silenced, message: "\(id) firing")
    }

    @Test func onlyUnacknowledgedUnsilencedCriticalRulesRepeatEveryInterval() {
        let firing = [rule("temp-high"), rule("leak"), rule("ph-low", .warning), rule("ato-stuck", acknowledged: true),
                      rule("salinity", silenced: true), rule("fresh", since: 90 * 60_000)]
        let due = RepeatSchedule.due(firing: firing, target: target, lastSentMillis: [:], nowMillis: 2 * hour)
        #expect(due.map(\.ruleID) == ["leak", "temp-high"])
        #expect(RepeatSchedule.due(firing: firing, target: target, lastSentMillis: [:], nowMillis: 2 * hour - 1).isEmpty)
    }

    @Test func aRepeatCountsFromTheLastMessageSentForTheEpisode() {
        let firing = [rule("temp-high")]
        #expect(RepeatSchedule.due(firing: firing, target: target, lastSentMillis: ["temp-high": 2 * hour], nowMillis: 3 * hour).isEmpty)
        #expect(RepeatSchedule.due(firing: firing, target: target, lastSentMillis: ["temp-high": 2 * hour], nowMillis: 4 * hour)
            .map(\.ruleID) == ["temp-high"])
        // A send time from an earlier episode does not hold back the new one's repeats.
        let newEpisode = [rule("temp-high", since: 10 * hour)]
        #expect(RepeatSchedule.due(firing: newEpisode, target: target, lastSentMillis: ["temp-high": 2 * hour], nowMillis: 12 * hour)
            .map(\.ruleID) == ["temp-high"])
    }

    @Test func theTargetsRuleFilterAppliesToRepeats() {
        let narrow = NotifyTarget(id: "pager", kind: .ntfy, url: "https://ntfy.sh/p", filter: .init(rules: ["leak"]))
        let due = RepeatSchedule.due(firing: [rule("temp-high"), rule("leak")], target: narrow, lastSentMillis: [:], nowMillis: 3 * hour)
        #expect(due.map(\.ruleID) == ["leak"])
    }

    @Test func aRepeatsKeyIsTheSameForEveryRetryAndNewForTheNextRepeat() {
        let temp = rule("temp-high", since: 1_000)
        let first = RepeatSchedule.key(target: "phone", rule: temp, lastSentMillis: nil, interval: .seconds(7200))
        #expect(first == "reef-edge/phone/repeat/temp-high/7201000")
        #expect(RepeatSchedule.key(target: "phone", rule: temp, lastSentMillis: 7_201_500, interval: .seconds(7200))
            == "reef-edge/phone/repeat/temp-high/14401500")
    }
}
