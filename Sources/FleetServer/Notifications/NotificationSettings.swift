import Foundation
import NotifyDelivery
import Wire

/// The fleet server's notifications: where they go (receivers), which events go where
/// (routes), and the timing a route does not set (defaults). Read from the `notifications`
/// object of `fleet-server serve --config`; routes can also be added through the admin API
/// (`PUT /v1/admin/routes/{id}`), receivers only here, because they name credential files
/// on the server's disk.
public struct NotificationSettings: Codable, Sendable, Hashable {
    public var receivers: [NotificationReceiver]
    public var routes: [NotificationRoute]
    public var defaults: NotificationDefaults

    public init(receivers: [NotificationReceiver] = [], routes: [NotificationRoute] = [], defaults: NotificationDefaults = .init()) {
        self.receivers = receivers
        self.routes = routes
        self.defaults = defaults
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        receivers = try container.decodeIfPresent([NotificationReceiver].self, forKey: .receivers) ?? []
        routes = try container.decodeIfPresent([NotificationRoute].self, forKey: .routes) ?? []
        defaults = try container.decodeIfPresent(NotificationDefaults.self, forKey: .defaults) ?? .init()
    }

    public func receiver(_ id: String) -> NotificationReceiver? { receivers.first { $0.id == id } }

    /// Every problem, each named by its path (`notifications.routes[2].receivers[0]: no
    /// receiver named "x"`), so one `check-config` run lists all of them.
    public func validationErrors() -> [String] {
        var errors: [String] = []
        var seen = Set<String>()
        for (index, receiver) in receivers.enumerated() {
            let path = "notifications.receivers[\(index)]"
            if !seen.insert(receiver.id).inserted { errors.append("\(path).id: a second receiver named \"\(receiver.id)\"; ids must be unique") }
            errors += receiver.validationErrors(path: path)
        }
        errors += defaults.validationErrors(path: "notifications.defaults")
        var routeIDs = Set<String>()
        for (index, route) in routes.enumerated() {
            let path = "notifications.routes[\(index)]"
            if !routeIDs.insert(route.id).inserted { errors.append("\(path).id: a second route named \"\(route.id)\"; ids must be unique") }
            errors += route.validationErrors(path: path, receivers: Set(receivers.map(\.id)))
        }
        return errors
    }
}

/// One place notifications go: the same kinds, payloads and TLS rules as the device's
/// notify targets (docs/NOTIFY.md), sent through the same libcurl transport.
public struct NotificationReceiver: Codable, Sendable, Hashable {
    public var id: String
    public var kind: NotifyTarget.Kind
    public var url: String
    /// A 0600 file with the secret, read at each send; never logged, never in a job.
    public var credentialFile: String?
    public var recipient: String?
    public var sender: String?
    public var caFile: String?

    public init(id: String, kind: NotifyTarget.Kind, url: String, credentialFile: String? = nil, recipient: String? = nil,
                sender: String? = nil, caFile: String? = nil) {
        self.id = id
        self.kind = kind
        self.url = url
        self.credentialFile = credentialFile
        self.recipient = recipient
        self.sender = sender
        self.caFile = caFile
    }

    /// The device's description of the same thing, which the renderers and the transport take.
    public var target: NotifyTarget {
        NotifyTarget(id: id, kind: kind, url: url, credentialFile: credentialFile, recipient: recipient, sender: sender, caFile: caFile)
    }

    func validationErrors(path: String) -> [String] {
        var errors: [String] = []
        if let problem = target.validationError() {
            // The device's rules, with its prefix swapped for the path.
            let prefix = "notify target '\(id)': "
            errors.append("\(path): " + (problem.hasPrefix(prefix) ? String(problem.dropFirst(prefix.count)) : problem))
        }
        if id.utf8.count > 64 { errors.append("\(path).id: \(id.utf8.count) bytes; at most 64") }
        if url.utf8.count > 2048 { errors.append("\(path).url: \(url.utf8.count) bytes; at most 2048") }
        if let file = credentialFile, let problem = CredentialFile.problem(path: file) {
            errors.append("\(path).credentialFile: \(problem)")
        }
        if let file = caFile, !FileManager.default.isReadableFile(atPath: file) {
            errors.append("\(path).caFile: cannot read \(file)")
        }
        return errors
    }
}

/// The timing a route leaves out, and the device-offline default.
public struct NotificationDefaults: Codable, Sendable, Hashable {
    /// How long a new group waits for more before its first message (Alertmanager's group_wait).
    public var groupWaitSeconds: Int
    /// How long after a group's message the next one may go with what arrived since.
    public var groupIntervalSeconds: Int
    /// How often a group whose alerts still fire is told again with nothing new.
    public var repeatIntervalSeconds: Int
    /// A device silent this long (at least; 3 × its sync interval when its health says) is offline.
    public var offlineAfterSeconds: Int

    public init(groupWaitSeconds: Int = 30, groupIntervalSeconds: Int = 300, repeatIntervalSeconds: Int = 4 * 3600,
                offlineAfterSeconds: Int = 300) {
        self.groupWaitSeconds = groupWaitSeconds
        self.groupIntervalSeconds = groupIntervalSeconds
        self.repeatIntervalSeconds = repeatIntervalSeconds
        self.offlineAfterSeconds = offlineAfterSeconds
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let fallback = NotificationDefaults()
        groupWaitSeconds = try container.decodeIfPresent(Int.self, forKey: .groupWaitSeconds) ?? fallback.groupWaitSeconds
        groupIntervalSeconds = try container.decodeIfPresent(Int.self, forKey: .groupIntervalSeconds) ?? fallback.groupIntervalSeconds
        repeatIntervalSeconds = try container.decodeIfPresent(Int.self, forKey: .repeatIntervalSeconds) ?? fallback.repeatIntervalSeconds
        offlineAfterSeconds = try container.decodeIfPresent(Int.self, forKey: .offlineAfterSeconds) ?? fallback.offlineAfterSeconds
    }

    func validationErrors(path: String) -> [String] {
        var errors = NotificationRoute.timingErrors(path: path, groupWait: groupWaitSeconds, groupInterval: groupIntervalSeconds,
                                                    repeatInterval: repeatIntervalSeconds)
        if !(1...7 * 86_400).contains(offlineAfterSeconds) {
            errors.append("\(path).offlineAfterSeconds: \(offlineAfterSeconds); allowed 1 … 604800 (a week)")
        }
        return errors
    }
}

/// Which events go to which receivers, grouped how. Empty lists match everything.
public struct NotificationRoute: Codable, Sendable, Hashable {
    public var id: String
    /// Device name globs (`reef-*`); any one matches.
    public var devices: [String]
    /// Label globs (`site: garage*`); all must match.
    public var labels: [String: String]
    public var minSeverity: AlertSeverity
    public var rules: [String]
    /// Event kinds as the wire spells them (`fired`, `resolved`, `failSafe`, …) and the
    /// server's own `device_offline`, `device_back`.
    public var kinds: [String]
    public var receivers: [String]
    /// `device` (the default), or a label name such as `site`: one message per value.
    public var groupBy: String
    public var groupWaitSeconds: Int?
    public var groupIntervalSeconds: Int?
    public var repeatIntervalSeconds: Int?
    /// Whether resolutions (and `device_back`) are sent; Alertmanager's send_resolved.
    public var sendResolved: Bool

    public static let offlineKind = "device_offline"
    public static let backKind = "device_back"
    /// The kinds a route hears when it names none: what a person acts on or is told is over.
    public static let defaultKinds = ["fired", "resolved", "flapping", "failSafe", "actuated", offlineKind, backKind]

    public init(id: String, devices: [String] = [], labels: [String: String] = [:], minSeverity: AlertSeverity = .warning,
                rules: [String] = [], kinds: [String] = [], receivers: [String], groupBy: String = "device",
                groupWaitSeconds: Int? = nil, groupIntervalSeconds: Int? = nil, repeatIntervalSeconds: Int? = nil,
                sendResolved: Bool = true) {
        self.id = id
        self.devices = devices
        self.labels = labels
        self.minSeverity = minSeverity
        self.rules = rules
        self.kinds = kinds
        self.receivers = receivers
        self.groupBy = groupBy
        self.groupWaitSeconds = groupWaitSeconds
        self.groupIntervalSeconds = groupIntervalSeconds
        self.repeatIntervalSeconds = repeatIntervalSeconds
        self.sendResolved = sendResolved
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        devices = try container.decodeIfPresent([String].self, forKey: .devices) ?? []
        labels = try container.decodeIfPresent([String: String].self, forKey: .labels) ?? [:]
        minSeverity = try container.decodeIfPresent(AlertSeverity.self, forKey: .minSeverity) ?? .warning
        rules = try container.decodeIfPresent([String].self, forKey: .rules) ?? []
        kinds = try container.decodeIfPresent([String].self, forKey: .kinds) ?? []
        receivers = try container.decode([String].self, forKey: .receivers)
        groupBy = try container.decodeIfPresent(String.self, forKey: .groupBy) ?? "device"
        groupWaitSeconds = try container.decodeIfPresent(Int.self, forKey: .groupWaitSeconds)
        groupIntervalSeconds = try container.decodeIfPresent(Int.self, forKey: .groupIntervalSeconds)
        repeatIntervalSeconds = try container.decodeIfPresent(Int.self, forKey: .repeatIntervalSeconds)
        sendResolved = try container.decodeIfPresent(Bool.self, forKey: .sendResolved) ?? true
    }

    /// The route's timing, its own or the defaults.
    public func timing(_ defaults: NotificationDefaults) -> (groupWait: Int, groupInterval: Int, repeatInterval: Int) {
        (groupWaitSeconds ?? defaults.groupWaitSeconds, groupIntervalSeconds ?? defaults.groupIntervalSeconds,
         repeatIntervalSeconds ?? defaults.repeatIntervalSeconds)
    }

    /// The kind a route matches an event by: the wire's word, or the server's own two.
    static func kind(of event: WireAlertEvent) -> String {
        guard event.ruleID == FleetMessage.offlineRule else { return event.kind.rawValue }
        return event.kind == .resolved ? backKind : offlineKind
    }

    /// Whether `event` from `device` (with `labels`) goes this route. The caller has already
    /// left out silenced events and devices in maintenance.
    public func matches(_ event: WireAlertEvent, device: String, labels deviceLabels: [String: String]) -> Bool {
        let kind = Self.kind(of: event)
        guard (kinds.isEmpty ? Self.defaultKinds : kinds).contains(kind) else { return false }
        if !sendResolved, event.kind == .resolved || event.kind == .flappingEnded { return false }
        if event.kind != .failSafe, event.severity.rank < minSeverity.rank { return false }
        if !rules.isEmpty, event.ruleID != "*", !rules.contains(event.ruleID) { return false }
        if !devices.isEmpty, !devices.contains(where: { Glob.matches($0, device) }) { return false }
        for (name, pattern) in labels {
            guard let value = deviceLabels[name], Glob.matches(pattern, value) else { return false }
        }
        return true
    }

    /// The group an event from `device` joins: its labels and its name. A device without the
    /// `groupBy` label is grouped by its own name, so it is never lumped with strangers.
    public func group(device: String, labels deviceLabels: [String: String]) -> (key: String, labels: [String: String]) {
        let groupLabels = groupBy == "device" ? ["device": device]
            : deviceLabels[groupBy].map { [groupBy: $0] } ?? ["device": device]
        let (name, value) = groupLabels.first!
        return ("{}/{route=\"\(id)\"}:{\(name)=\"\(value)\"}", groupLabels)
    }

    static let idCharacters = Set("abcdefghijklmnopqrstuvwxyz0123456789-_".unicodeScalars)
    static let knownKinds = Set(AlertEventKind.allCases.map(\.rawValue) + [offlineKind, backKind])

    public func validationErrors(path: String, receivers known: Set<String>) -> [String] {
        var errors: [String] = []
        if id.isEmpty || id.utf8.count > 64 || !id.unicodeScalars.allSatisfy(Self.idCharacters.contains) {
            errors.append("\(path).id: \"\(id)\" must be 1–64 lower-case letters, digits, '-' or '_'")
        }
        if receivers.isEmpty { errors.append("\(path).receivers: name at least one receiver") }
        for (index, receiver) in receivers.enumerated() where !known.contains(receiver) {
            errors.append("\(path).receivers[\(index)]: no receiver named \"\(receiver)\"; configured: \(known.sorted().joined(separator: ", "))")
        }
        for (index, kind) in kinds.enumerated() where !Self.knownKinds.contains(kind) {
            errors.append("\(path).kinds[\(index)]: \"\(kind)\" is not a kind; use \(Self.knownKinds.sorted().joined(separator: ", "))")
        }
        for (name, list) in [("devices", devices), ("rules", rules)] {
            if list.count > 256 { errors.append("\(path).\(name): \(list.count) entries; at most 256") }
            for (index, entry) in list.enumerated() where entry.isEmpty || entry.utf8.count > 128 {
                errors.append("\(path).\(name)[\(index)]: must be 1–128 bytes")
            }
        }
        if labels.count > 32 { errors.append("\(path).labels: \(labels.count) entries; at most 32") }
        for (name, value) in labels.sorted(by: { $0.key < $1.key }) where !DeviceLabels.isValidName(name) || value.utf8.count > 128 {
            errors.append("\(path).labels.\(name): a label name is 1–64 letters, digits, '_', '-' or '.', a pattern at most 128 bytes")
        }
        if groupBy != "device", !DeviceLabels.isValidName(groupBy) {
            errors.append("\(path).groupBy: \"\(groupBy)\" is neither device nor a label name")
        }
        errors += Self.timingErrors(path: path, groupWait: groupWaitSeconds, groupInterval: groupIntervalSeconds,
                                    repeatInterval: repeatIntervalSeconds)
        return errors
    }

    static func timingErrors(path: String, groupWait: Int?, groupInterval: Int?, repeatInterval: Int?) -> [String] {
        var errors: [String] = []
        if let value = groupWait, !(0...3600).contains(value) { errors.append("\(path).groupWaitSeconds: \(value); allowed 0 … 3600") }
        if let value = groupInterval, !(1...86_400).contains(value) {
            errors.append("\(path).groupIntervalSeconds: \(value); allowed 1 … 86400")
        }
        if let value = repeatInterval, !(60...7 * 86_400).contains(value) {
            errors.append("\(path).repeatIntervalSeconds: \(value); allowed 60 … 604800")
        }
        return errors
    }
}

/// Shell-style globs for device names and label values: `*` any run, `?` one character.
enum Glob {
    static func matches(_ pattern: String, _ text: String) -> Bool {
        matches(Array(pattern.unicodeScalars)[...], Array(text.unicodeScalars)[...])
    }

    private static func matches(_ pattern: ArraySlice<Unicode.Scalar>, _ text: ArraySlice<Unicode.Scalar>) -> Bool {
        var p = pattern.startIndex, t = text.startIndex
        var star: Int?, resume = text.startIndex
        while t < text.endIndex {
            if p < pattern.endIndex, pattern[p] == "?" || pattern[p] == text[t] {
                p += 1; t += 1
            } else if p < pattern.endIndex, pattern[p] == "*" {
                star = p; resume = t; p += 1
            } else if let s = star {
                p = s + 1; resume += 1; t = resume
            } else {
                return false
            }
        }
        while p < pattern.endIndex, pattern[p] == "*" { p += 1 }
        return p == pattern.endIndex
    }
}

/// A device's labels (`site=garage`): what routes match and group on.
public enum DeviceLabels {
    /// 1–64 ASCII letters, digits, `_`, `-`, `.`.
    public static func isValidName(_ name: String) -> Bool {
        (1...64).contains(name.utf8.count)
            && name.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "_-.".unicodeScalars.contains($0)) }
    }
}
