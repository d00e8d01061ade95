import EdgeCore
import Foundation
import Notify
import NotifyDelivery
import Profiles
import Wire
import Yams

extension AgentConfig {
    /// agent.yaml's `notify:` section: where alerts go. Either a list of targets, or, to put a
    /// click URL on every message, a mapping with `click:` and `targets:`. The smallest useful
    /// section is three lines:
    ///
    ///     notify:
    ///       - kind: ntfy
    ///         url: https://ntfy.sh/my-reef
    ///
    /// A target without `id` is named after its kind (`ntfy`), which is what
    /// `edge-agent notify requeue` and `notify test` take.
    struct Notify: Sendable, Equatable {
        static let maxTargets = 16
        static let idBytes = 64
        static let urlBytes = 2_048
        static let pathBytes = 4_096
        static let addressBytes = 320
        static let maxListEntries = 256
        static let groupingWindowRange = Duration.zero ... Duration.seconds(3_600)
        static let repeatRange = Duration.seconds(60) ... Duration.seconds(7 * 86_400)
        static let maxAgeRange = Duration.seconds(60) ... Duration.seconds(30 * 86_400)
        static let rateCapMessages = 1 ... 1_000
        static let rateCapPeriod = Duration.seconds(60) ... Duration.seconds(86_400)

        /// The event kinds agent.yaml names, in its spelling. `stale` is not an event kind of
        /// its own: it is the fired and resolved events of rules with a `stale:` condition.
        static let kindNames: [(name: String, kind: AlertEventKind?)] = [
            ("fired", .fired), ("resolved", .resolved), ("flapping", .flapping), ("fail_safe", .failSafe),
            ("actuated", .actuated), ("stale", nil),
        ]

        var targets: [NotifyTarget] = []
        /// Where tapping a message leads (the local dashboard), on every message that can carry a link.
        var click: String?
        /// What is wrong in the section, each as `file:line:column: key: message`. A broken
        /// target is left out and the others still deliver; the agent still polls, stores and
        /// alerts, and `check-config` exits 78.
        var problems: [String] = []

        /// The targets with their `stale` kind resolved against `profile`: which rules watch
        /// for a silent sensor is the profile's to say, so the daemon calls this at start and
        /// again when SIGHUP brings a new profile.
        func targets(for profile: DeviceProfile) -> [NotifyTarget] {
            let staleRules = Set(profile.alerts.compactMap { rule -> String? in
                if case .stale = rule.condition { rule.id } else { nil }
            })
            return targets.map { target in
                var resolved = target
                resolved.filter.staleRules = staleRules
                return resolved
            }
        }
    }

    static let notifyTargetKeys = ["id", "kind", "url", "credential_file", "recipient", "sender", "ca_file", "min_severity",
                                   "kinds", "rules", "sensors", "grouping_window", "repeat", "max_age", "rate_cap"]
}

extension YAMLReader {
    /// The `notify:` section into `notify`; every problem into this reader's errors.
    mutating func notify(_ node: Node) -> AgentConfig.Notify {
        var notify = AgentConfig.Notify()
        let list: Node?
        switch node {
        case .mapping:
            let f = fields(node, "notify", allowed: ["click", "targets"]) ?? [:]
            if let value = f["click"], let text = text(value, "notify.click", maxBytes: AgentConfig.Notify.urlBytes) {
                if let problem = Self.clickProblem(text) { fail(value, "notify.click", problem) } else { notify.click = text }
            }
            list = f["targets"]
        case .scalar(let scalar) where scalar.string.isEmpty:
            list = nil  // `notify:` with nothing under it: no targets.
        default:
            list = node
        }
        let entries = self.list(list, "notify")
        if entries.count > AgentConfig.Notify.maxTargets, let list {
            fail(list, "notify", "\(entries.count) targets; at most \(AgentConfig.Notify.maxTargets) are allowed")
            return notify
        }
        var ids: Set<String> = []
        for (i, entry) in entries.enumerated() {
            guard let target = notifyTarget(entry, "notify[\(i)]") else { continue }
            guard ids.insert(target.id).inserted else {
                fail(entry, "notify[\(i)].id", "duplicate target id '\(target.id)'; give each target its own id")
                continue
            }
            notify.targets.append(target)
        }
        return notify
    }

    /// One target, or nil after reporting what is wrong with it.
    private mutating func notifyTarget(_ node: Node, _ path: String) -> NotifyTarget? {
        let before = errors.count
        guard let f = fields(node, path, allowed: AgentConfig.notifyTargetKeys) else { return nil }
        typealias Limits = AgentConfig.Notify
        let kindText = require(f, "kind", path, in: node).flatMap { string($0, "\(path).kind") }
        let kind = kindText.flatMap(NotifyTarget.Kind.init(rawValue:))
        if let kindText, kind == nil {
            fail(f["kind"], "\(path).kind", "'\(kindText)' is not a kind; use \(NotifyTarget.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let id = f["id"].flatMap { text($0, "\(path).id", maxBytes: Limits.idBytes) } ?? kind?.rawValue
        let url = require(f, "url", path, in: node).flatMap { text($0, "\(path).url", maxBytes: Limits.urlBytes) }
        func optional(_ key: String, maxBytes: Int) -> String? {
            f[key].flatMap { text($0, "\(path).\(key)", maxBytes: maxBytes) }
        }
        var filter = NotifyTarget.Filter()
        if let value = f["min_severity"], let text = string(value, "\(path).min_severity") {
            if let severity = AlertSeverity(rawValue: text) { filter.minimumSeverity = severity } else {
                fail(value, "\(path).min_severity", "'\(text)' is not a severity; use info, warning or critical")
            }
        }
        if let value = f["kinds"] { notifyKinds(value, "\(path).kinds").map { (filter.kinds, filter.stale) = $0 } }
        if let value = f["rules"] { filter.rules = idSet(value, "\(path).rules") }
        if let value = f["sensors"] { filter.sensors = idSet(value, "\(path).sensors") }
        let credentialFile = optional("credential_file", maxBytes: Limits.pathBytes)
        var target = NotifyTarget(id: id ?? "", kind: kind ?? .ntfy, url: url ?? "", credentialFile: credentialFile,
                                  recipient: optional("recipient", maxBytes: Limits.addressBytes),
                                  sender: optional("sender", maxBytes: Limits.addressBytes),
                                  caFile: optional("ca_file", maxBytes: Limits.pathBytes), filter: filter)
        f["grouping_window"].flatMap { duration($0, "\(path).grouping_window", in: Limits.groupingWindowRange) }.map { target.groupingWindow = $0 }
        f["repeat"].flatMap { duration($0, "\(path).repeat", in: Limits.repeatRange) }.map { target.repeatInterval = $0 }
        f["max_age"].flatMap { duration($0, "\(path).max_age", in: Limits.maxAgeRange) }.map { target.maxAge = $0 }
        if let value = f["rate_cap"], let text = string(value, "\(path).rate_cap") {
            switch Self.rateCap(text) {
            case .success(let cap): target.rateCap = cap
            case .failure(let error): fail(value, "\(path).rate_cap", error.description)
            }
        }
        guard errors.count == before, kind != nil, url != nil else { return nil }
        if let problem = target.validationError() {
            fail(node, path, problem)
            return nil
        }
        return target
    }

    /// `kinds:` → the event kinds and whether `stale` was named. An empty list would silence
    /// the target without saying so, and is refused.
    private mutating func notifyKinds(_ node: Node, _ path: String) -> (Set<AlertEventKind>, Bool)? {
        let names = AgentConfig.Notify.kindNames
        var kinds: Set<AlertEventKind> = []
        var stale = false
        let entries = list(node, path)
        guard !entries.isEmpty else {
            fail(node, path, "name at least one of \(names.map(\.name).joined(separator: ", ")), or leave kinds out for all")
            return nil
        }
        for entry in entries {
            guard let text = string(entry, path) else { return nil }
            guard let known = names.first(where: { $0.name == text }) else {
                let hint = Self.nearest(text, among: names.map(\.name)).map { " (did you mean '\($0)'?)" } ?? ""
                fail(entry, path, "'\(text)' is not an event kind\(hint); use \(names.map(\.name).joined(separator: ", "))")
                return nil
            }
            if let kind = known.kind { kinds.insert(kind) } else { stale = true }
        }
        return (kinds, stale)
    }

    private mutating func idSet(_ node: Node, _ path: String) -> Set<String> {
        let entries = list(node, path)
        guard entries.count <= AgentConfig.Notify.maxListEntries else {
            fail(node, path, "\(entries.count) entries; at most \(AgentConfig.Notify.maxListEntries) are allowed")
            return []
        }
        return Set(entries.compactMap { text($0, path, maxBytes: ProfileLimits.idBytes) })
    }

    /// `20/1h`: at most 20 messages an hour.
    static func rateCap(_ text: String) -> Result<NotifyTarget.RateCap, QuantityError> {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            return .failure(QuantityError("'\(text)' is not a rate cap; write messages/period, e.g. 20/1h"))
        }
        do {
            let messages = try NumberText.integer(String(parts[0]).trimmingCharacters(in: .whitespaces), in: AgentConfig.Notify.rateCapMessages)
            let per = try DurationText.parse(String(parts[1]), in: AgentConfig.Notify.rateCapPeriod)
            return .success(NotifyTarget.RateCap(messages: messages, per: per))
        } catch {
            return .failure(QuantityError("rate cap '\(text)': \(error.description)"))
        }
    }

    /// A click URL is opened by the keeper's phone; a local dashboard on http:// is fine.
    static func clickProblem(_ url: String) -> String? {
        guard let parts = URLComponents(string: url), let scheme = parts.scheme?.lowercased(), scheme == "https" || scheme == "http",
              !(parts.host ?? "").isEmpty else {
            return "'\(url)' is not an http(s) URL; write e.g. https://reef.local/alerts"
        }
        return nil
    }
}
