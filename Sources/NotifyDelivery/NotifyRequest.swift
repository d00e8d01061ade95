import Foundation
import Wire

/// The exact HTTP request one message becomes, for the four HTTP kinds: built here, purely,
/// so that tests assert method, URL, headers and body without a network, and the libcurl
/// transport only carries it. E-mail is not here: its SMTP envelope is a different shape.
///
/// Where a service accepts an idempotency key it is sent: the webhook as `Idempotency-Key`
/// (the IETF httpapi draft's header, which receivers deduplicating Alertmanager posts can key
/// on). ntfy, Telegram and Pushover accept none, so a resend after a crash can show twice
/// there; docs/NOTIFY.md must say so.
public struct NotifyRequest: Sendable, Hashable {
    public var method = "POST"
    /// Secret when it carries the Telegram bot token: log `redactedURL`, never this.
    public var url: String
    public var headers: [Header]
    public var body: [UInt8]
    public var redactedURL: String

    public struct Header: Sendable, Hashable, CustomStringConvertible {
        public var name: String
        public var value: String
        public var description: String { "\(name): \(value)" }
    }

    /// - Parameters:
    ///   - credential: the secret read from the target's credential file (bearer token for
    ///     ntfy and webhook, bot token for Telegram, application token for Pushover), or nil.
    ///   - content: what the message tells (`NotifyContent.payload` is the usual way in).
    public static func build(target: NotifyTarget, device: String, content: NotifyContent, credential: String?,
                             click: String? = nil) -> NotifyRequest {
        build(target: target, message: NtfyMessage(content: content, device: device, click: click),
              webhook: { AlertmanagerPayload(target: target.id, device: device, content: content, externalURL: click ?? "") },
              idempotencyKey: content.idempotencyKey(target: target.id), timestampMillis: content.timestampMillis,
              credential: credential, click: click)
    }

    /// The request for a message already rendered: the device's contents (above) and the fleet
    /// server's groups (`FleetMessage`) share every kind's request shape through this.
    /// - Parameter webhook: the Alertmanager body, built only for the webhook kind.
    package static func build(target: NotifyTarget, message: NtfyMessage, webhook: () -> AlertmanagerPayload,
                              idempotencyKey key: String, timestampMillis: Int64, credential: String?,
                              click: String?) -> NotifyRequest {
        var headers: [Header] = []
        switch target.kind {
        case .ntfy:
            headers = message.headers.map { Header(name: $0.name, value: $0.value) }
            headers.append(Header(name: "Content-Type", value: "text/plain; charset=utf-8"))
            if let credential { headers.append(Header(name: "Authorization", value: "Bearer \(credential)")) }
            return NotifyRequest(url: target.url, headers: headers, body: Array(message.body.utf8), redactedURL: target.url)
        case .webhook:
            headers = [Header(name: "Content-Type", value: "application/json"), Header(name: "Idempotency-Key", value: key)]
            if let credential { headers.append(Header(name: "Authorization", value: "Bearer \(credential)")) }
            let payload = webhook()
            return NotifyRequest(url: target.url, headers: headers, body: Array(payload.json()), redactedURL: target.url)
        case .telegram:
            // The Bot API takes its token in the path: https://api.telegram.org/bot<token>/sendMessage.
            let base = target.url.hasSuffix("/") ? String(target.url.dropLast()) : target.url
            let body = TelegramMessage(chatID: target.recipient ?? "", text: "\(message.title)\n\n\(message.body)",
                                       disableNotification: message.priority <= 3)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            return NotifyRequest(url: "\(base)/bot\(credential ?? "")/sendMessage",
                                 headers: [Header(name: "Content-Type", value: "application/json")],
                                 body: Array(try! encoder.encode(body)), redactedURL: "\(base)/bot<redacted>/sendMessage")
        case .pushover:
            var fields = [("token", credential ?? ""), ("user", target.recipient ?? ""), ("title", message.title),
                          ("message", message.body), ("priority", String(pushoverPriority(message.priority))),
                          ("timestamp", String(timestampMillis / 1000))]
            if let click { fields.append(("url", click)) }
            let form = fields.map { "\($0.0)=\(formEncode($0.1))" }.joined(separator: "&")
            return NotifyRequest(url: target.url,
                                 headers: [Header(name: "Content-Type", value: "application/x-www-form-urlencoded")],
                                 body: Array(form.utf8), redactedURL: target.url)
        case .email:
            preconditionFailure("e-mail goes over SMTP, not as an HTTP request")
        }
    }

    /// ntfy's 5 (rings) → Pushover's 1 (high, through quiet hours); 4 → 0 (normal); the rest
    /// → -1 (no sound). Pushover's 2 (emergency) needs an acknowledgement loop Notify does not
    /// run, so it is never used.
    static func pushoverPriority(_ ntfy: Int) -> Int { ntfy >= 5 ? 1 : ntfy == 4 ? 0 : -1 }

    /// application/x-www-form-urlencoded: RFC 3986 unreserved characters as they are, every
    /// other byte of the UTF-8 as %XX.
    static func formEncode(_ text: String) -> String {
        var result = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                result.unicodeScalars.append(UnicodeScalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                result += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return result
    }

    /// The Bot API's `sendMessage` fields; a quiet message for anything a phone should not ring for.
    private struct TelegramMessage: Encodable {
        var chatID: String
        var text: String
        var disableNotification: Bool
        enum CodingKeys: String, CodingKey {
            case chatID = "chat_id", text, disableNotification = "disable_notification"
        }
    }
}
