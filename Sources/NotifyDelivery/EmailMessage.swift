#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Wire

/// The e-mail one message becomes (RFC 5322, CRLF line ends), handed to libcurl's SMTP
/// upload as is. Pure, like the HTTP kinds' `NotifyRequest`.
///
/// The idempotency key is the `Message-ID`: mail clients and many servers drop a second copy
/// with the same id, which is what the at-least-once resend after a crash needs. The body is
/// base64 so that no relay without 8BITMIME can mangle "°C", and the subject is an RFC 2047
/// encoded word when it is not plain ASCII.
public struct EmailMessage: Sendable, Hashable {
    public var from: String
    public var to: String
    public var subject: String
    public var messageID: String
    public var text: String
    public var dateMillis: Int64

    /// Any content (`NotifyContent.payload` is the usual way in).
    public init(target: NotifyTarget, device: String, content: NotifyContent) {
        self.init(target: target, message: NtfyMessage(content: content, device: device),
                  idempotencyKey: content.idempotencyKey(target: target.id), dateMillis: content.timestampMillis, domain: device)
    }

    /// A message already rendered (the fleet server's groups); `domain` is the right-hand side
    /// of the `Message-ID`, reduced to the characters a message id may carry.
    package init(target: NotifyTarget, message: NtfyMessage, idempotencyKey: String, dateMillis: Int64, domain: String) {
        from = target.sender ?? ""
        to = target.recipient ?? ""
        subject = message.title
        text = message.body
        self.dateMillis = dateMillis
        let key = idempotencyKey.replacingOccurrences(of: "/", with: ".")
        let domain = String(domain.unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) || $0 == "-" || $0 == "." })
        messageID = "<\(key)@\(domain.isEmpty ? "reef-edge" : domain)>"
    }

    /// The bytes libcurl uploads after `DATA`.
    public var rendered: String {
        let body = Data(text.utf8).base64EncodedString(options: [.lineLength76Characters, .endLineWithCarriageReturn, .endLineWithLineFeed])
        return [
            "From: \(from)",
            "To: \(to)",
            "Subject: \(HeaderText.encoded(subject))",
            "Date: \(NotifyTime.rfc5322(dateMillis))",
            "Message-ID: \(messageID)",
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: base64",
            "",
            body,
            "",
        ].joined(separator: "\r\n")
    }

}

extension NotifyTime {
    /// `Thu, 03 Dec 2026 14:02:05 +0000`, RFC 5322's date-time in UTC.
    package static func rfc5322(_ millis: Int64) -> String {
        var seconds = time_t(millis >= 0 ? millis / 1000 : (millis - 999) / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) +0000"
    }
}
