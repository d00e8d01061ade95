import Foundation
import Wire

/// One place a person is told about alerts: a phone through ntfy, a webhook receiver, a
/// Telegram chat, Pushover, or a mailbox. Each target has its own cursor over the alert event
/// log, its own dead letters and its own pacing, so a dead mail server never holds back the
/// phone.
///
/// A plain value: agent.yaml's `notify:` section is parsed into it elsewhere, and
/// `validationError()` is what `check-config` reports.
public struct NotifyTarget: Sendable, Hashable {
    /// The services Notify speaks; the raw value is the spelling in agent.yaml.
    public enum Kind: String, Sendable, Hashable, CaseIterable, Codable {
        case ntfy, webhook, telegram, pushover, email
    }

    /// Which events reach this target. Empty sets mean "all": a target without filters
    /// receives every event at or above `minimumSeverity` of the kinds a person acts on.
    public struct Filter: Sendable, Hashable {
        public var minimumSeverity: AlertSeverity
        public var kinds: Set<AlertEventKind>
        public var rules: Set<String>
        public var sensors: Set<String>
        /// Whether the fired and resolved events of `staleRules` pass (agent.yaml's kind
        /// `stale`: a sensor that stopped reporting). For those rules this, not `kinds`,
        /// decides: `kinds: [stale]` hears only of silent sensors, `kinds: [fired, resolved]`
        /// of everything else.
        public var stale: Bool
        /// The rules whose condition is `stale:`. The profile knows them, not agent.yaml, so
        /// the daemon fills this in; empty, every event is judged by `kinds` alone.
        public var staleRules: Set<String>

        /// The kinds that ask a person to do something or tell them it is over. Operator
        /// actions (acknowledged, silenced, maintenance) are left out: the person who did
        /// them already knows.
        public static let defaultKinds: Set<AlertEventKind> = [.fired, .resolved, .flapping, .failSafe, .actuated]

        public init(minimumSeverity: AlertSeverity = .warning, kinds: Set<AlertEventKind> = Filter.defaultKinds,
                    rules: Set<String> = [], sensors: Set<String> = [], stale: Bool = true, staleRules: Set<String> = []) {
            self.minimumSeverity = minimumSeverity
            self.kinds = kinds
            self.rules = rules
            self.sensors = sensors
            self.stale = stale
            self.staleRules = staleRules
        }

        /// Whether `event` is for this target. Silenced events (recorded during a silence or
        /// maintenance) never are: the history keeps them, nobody is woken for them.
        /// Fail-safe events pass regardless of severity: an output was forced to its safe
        /// state, which a keeper must hear about even from an `info` rule.
        public func admits(_ event: WireAlertEvent) -> Bool {
            let isStale = (event.kind == .fired || event.kind == .resolved) && staleRules.contains(event.ruleID)
            guard !event.silenced, isStale ? stale : kinds.contains(event.kind) else { return false }
            if event.kind != .failSafe, event.severity.rank < minimumSeverity.rank { return false }
            // `*` events concern every rule (fail-safe, start-up actuation): a rule filter keeps them.
            if !rules.isEmpty, event.ruleID != "*", !rules.contains(event.ruleID) { return false }
            if !sensors.isEmpty, event.ruleID != "*", !sensors.contains(event.sensorID) { return false }
            return true
        }
    }

    /// At most `messages` messages per `per`; what exceeds it goes as one summary, never dropped.
    public struct RateCap: Sendable, Hashable {
        public var messages: Int
        public var per: Duration
        public init(messages: Int, per: Duration) {
            self.messages = messages
            self.per = per
        }
        /// Twice reef-pi's ten an hour, which its users find too few during a real incident.
        public static let `default` = RateCap(messages: 20, per: .seconds(3600))
    }

    /// Lower-case letters, digits, `-` and `_`: it names the target on the command line
    /// (`edge-agent notify requeue ID`) and is part of every idempotency key.
    public var id: String
    public var kind: Kind
    /// ntfy: the topic URL (`https://ntfy.sh/reef-alerts`); webhook: the receiver's URL;
    /// telegram: the Bot API base (`https://api.telegram.org`); pushover: its messages URL
    /// (`https://api.pushover.net/1/messages.json`); email: `smtps://host:465` or
    /// `smtp://host:587`, which Notify only ever speaks with STARTTLS required.
    public var url: String
    /// A file holding the secret (ntfy/webhook bearer token, bot token, Pushover app token,
    /// SMTP password); read when sending, never logged. Mode 0600 is checked by check-config.
    public var credentialFile: String?
    /// telegram: the chat id; pushover: the user key; email: the To address. Unused otherwise.
    public var recipient: String?
    /// PEM bundle of CAs to trust instead of the system store (a self-hosted ntfy or mail
    /// server with a private CA). Verification is always on.
    public var caFile: String?
    /// email: the From address. Unused otherwise.
    public var sender: String?
    public var filter: Filter
    /// Events for this target within this window go as one message.
    public var groupingWindow: Duration
    /// A still-firing critical alert is sent again this often until acknowledged or resolved.
    public var repeatInterval: Duration
    /// After an outage longer than this, older undelivered events collapse into one summary.
    public var maxAge: Duration
    public var rateCap: RateCap

    public init(id: String, kind: Kind, url: String, credentialFile: String? = nil, recipient: String? = nil,
                sender: String? = nil, caFile: String? = nil, filter: Filter = Filter(), groupingWindow: Duration = .seconds(30),
                repeatInterval: Duration = .seconds(2 * 3600), maxAge: Duration = .seconds(6 * 3600),
                rateCap: RateCap = .default) {
        self.id = id
        self.kind = kind
        self.url = url
        self.credentialFile = credentialFile
        self.recipient = recipient
        self.sender = sender
        self.caFile = caFile
        self.filter = filter
        self.groupingWindow = groupingWindow
        self.repeatInterval = repeatInterval
        self.maxAge = maxAge
        self.rateCap = rateCap
    }

    /// What is wrong with this target and how to fix it, or nil when it can be used.
    /// Plain-text transports are refused outright: an alert says when the tank is unattended.
    public func validationError() -> String? {
        let prefix = "notify target '\(id)'"
        if !Self.isValidID(id) {
            return "\(prefix): the id must be lower-case letters, digits, '-' or '_'; rename it"
        }
        guard let parsed = URLComponents(string: url), let scheme = parsed.scheme?.lowercased(),
              let host = parsed.host, !host.isEmpty else {
            return "\(prefix): url '\(url)' is not an absolute URL with a host; write it as scheme://host/path"
        }
        switch kind {
        case .ntfy, .webhook, .telegram, .pushover:
            if scheme != "https" {
                return "\(prefix): \(kind.rawValue) needs an https:// url, not \(scheme)://; alerts are never sent in plain text"
            }
        case .email:
            if scheme != "smtps" && scheme != "smtp" {
                return "\(prefix): email needs smtps://host:465 or smtp://host:587 (STARTTLS is then required), not \(scheme)://"
            }
        }
        switch kind {
        case .telegram where recipient?.isEmpty ?? true:
            return "\(prefix): telegram needs recipient: the chat id the bot writes to"
        case .pushover where recipient?.isEmpty ?? true:
            return "\(prefix): pushover needs recipient: your Pushover user key"
        case .telegram where credentialFile == nil, .pushover where credentialFile == nil:
            return "\(prefix): \(kind.rawValue) needs credential_file: a 0600 file holding the \(kind == .telegram ? "bot" : "application") token"
        case .email where (recipient?.isEmpty ?? true) || (sender?.isEmpty ?? true):
            return "\(prefix): email needs both recipient (To) and sender (From) addresses"
        default: break
        }
        if kind == .email {
            for (key, address) in [("recipient", recipient ?? ""), ("sender", sender ?? "")] where !Self.isBareAddress(address) {
                return "\(prefix): \(key) '\(address)' is not a bare address like keeper@example.org (no display name, <>, spaces or non-ASCII); SMTP's MAIL FROM and RCPT TO take the address alone"
            }
        }
        if groupingWindow < .zero || repeatInterval <= .zero || maxAge <= .zero {
            return "\(prefix): grouping_window must be 0 or more, repeat and max_age more than 0"
        }
        if maxAge < groupingWindow {
            return "\(prefix): max_age (\(maxAge)) is shorter than grouping_window (\(groupingWindow)); every group would be stale"
        }
        if rateCap.messages < 1 || rateCap.per <= .zero {
            return "\(prefix): the rate cap needs at least 1 message per a positive period"
        }
        return nil
    }

    /// Whether `id` can name a target: non-empty, lower-case letters, digits, `-` and `_`.
    public static func isValidID(_ id: String) -> Bool {
        !id.isEmpty && id.unicodeScalars.allSatisfy { idCharacters.contains($0) }
    }

    /// `local@domain` in printable ASCII without the characters that would make it a display
    /// form or break an SMTP command line: what `MAIL FROM:<…>`, `RCPT TO:<…>` and the
    /// `From:`/`To:` header lines carry as they are.
    static func isBareAddress(_ address: String) -> Bool {
        let parts = address.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty, address.utf8.count <= 320 else { return false }
        return address.utf8.allSatisfy { byte in
            byte > 0x20 && byte < 0x7f && !"<>()[],;:\\\"".utf8.contains(byte)
        }
    }

    private static let idCharacters = Set("abcdefghijklmnopqrstuvwxyz0123456789-_".unicodeScalars)
}

extension AlertSeverity {
    /// info < warning < critical, for the severity filter and for priorities.
    public var rank: Int {
        switch self {
        case .info: 0
        case .warning: 1
        case .critical: 2
        }
    }
}
