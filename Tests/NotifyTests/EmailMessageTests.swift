import Notify
import NotifyDelivery
import Testing
import Wire

@Suite struct EmailMessageTests {
    let target = NotifyTarget(id: "mail", kind: .email, url: "smtps://mail.example.org:465", credentialFile: "/etc/reef/smtp",
                              recipient: "keeper@example.org", sender: "reef@example.org")

    @Test func theMailCarriesTheIdempotencyKeyAsItsMessageIDAndABase64Body() {
        let mail = EmailMessage(target: target, device: "reef-1",
                                content: .events([Heater.fired], range: SequenceRange(first: 41, last: 41)))
        #expect(mail.messageID == "<reef-edge.mail.41@reef-1>")
        #expect(mail.rendered == [
            "From: reef@example.org",
            "To: keeper@example.org",
            "Subject: reef-1: temp-high fired",
            "Date: Thu, 03 Dec 2026 14:02:05 +0000",
            "Message-ID: <reef-edge.mail.41@reef-1>",
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: base64",
            "",
            "VGVtcGVyYXR1cmUgMjcuOSDCsEMgYWJvdmUgMjcuNSDCsEM=",
            "",
        ].joined(separator: "\r\n"))
    }

    @Test func aSubjectBeyondASCIIIsAnEncodedWord() {
        let kuehlung = WireAlertEvent(sequence: 7, ruleID: "Kühlung", sensorID: "temp", kind: .fired, severity: .warning,
                                      value: nil, threshold: nil, timestampMillis: 0, activeSinceMillis: nil, message: "m")
        let mail = EmailMessage(target: target, device: "reef-1",
                                content: .events([kuehlung], range: SequenceRange(first: 7, last: 7)))
        #expect(mail.rendered.contains("\r\nSubject: =?UTF-8?B?cmVlZi0xOiBLw7xobHVuZyBmaXJlZA==?=\r\n"))
        #expect(mail.rendered.contains("\r\nDate: Thu, 01 Jan 1970 00:00:00 +0000\r\n"))
    }

    @Test func aLongBodyIsWrappedAt76WithCRLFOnly() {
        let mail = EmailMessage(target: target, device: "reef-1",
                                content: .events([Heater.fired, Heater.float, Heater.resolved], range: SequenceRange(first: 41, last: 43)))
        let lines = mail.rendered.components(separatedBy: "\r\n")
        #expect(!lines.contains { $0.contains("\n") || $0.contains("\r") }, "no bare line end")
        let body = lines.drop { !$0.isEmpty }.dropFirst().filter { !$0.isEmpty }
        #expect(body.count > 1 && body.allSatisfy { $0.count <= 76 })
    }
}
