import EdgeCore
import EdgeTesting
import Foundation
import Notify
import NotifyDelivery
import Testing
import Wire

/// `CurlNotifyTransport` against real services over real TLS: `HTTPSReceiver` and
/// `SMTPReceiver` (scripts/notify-receiver.py) with certificates each test generates. What the
/// receiver recorded is what crossed the wire.
@Suite struct HTTPTransportTests {
    let transport = CurlNotifyTransport()

    func target(_ kind: NotifyTarget.Kind, _ receiver: HTTPSReceiver, path: String = "", recipient: String? = nil) -> NotifyTarget {
        NotifyTarget(id: "t-\(kind.rawValue)", kind: kind, url: receiver.url + path, credentialFile: "/unused", recipient: recipient,
                     caFile: receiver.caFile)
    }

    func build(_ target: NotifyTarget, credential: String?, events: [WireAlertEvent] = [Heater.fired]) -> NotifyRequest {
        NotifyRequest.build(target: target, device: "reef-1",
                            content: .events(events, range: SequenceRange(first: events.first!.sequence, last: events.last!.sequence)),
                            credential: credential, click: "https://reef-1.local/alerts")
    }

    @Test func ntfyGetsTheTextWithItsHeadersAndBearerToken() async throws {
        let certificates = try await TestCertificates.generate()
        let receiver = try await HTTPSReceiver.start(certificates: certificates)
        let target = target(.ntfy, receiver, path: "/reef-alerts")
        let request = build(target, credential: "tk_abc")
        let answer = await transport.send(.http(request), to: target, credential: "tk_abc")
        #expect(answer == NotifyAnswer(outcome: .accepted, text: "ok"))
        let received = try #require(try receiver.requests().first)
        #expect(try receiver.requests().count == 1)
        #expect(received.method == "POST" && received.path == "/reef-alerts")
        #expect(received.header("X-Title") == "reef-1: temp-high fired")
        #expect(received.header("X-Priority") == "5")
        #expect(received.header("X-Tags") == "rotating_light,critical,fired")
        #expect(received.header("X-Click") == "https://reef-1.local/alerts")
        #expect(received.header("Content-Type") == "text/plain; charset=utf-8")
        #expect(received.header("Authorization") == "Bearer tk_abc")
        #expect(received.header("Expect") == nil, "no 100-continue round trip")
        #expect(received.text == "Temperature 27.9 °C above 27.5 °C")
        #expect(received.body == request.body)
    }

    @Test func theWebhookGetsAlertmanagerJSONWithItsIdempotencyKey() async throws {
        let certificates = try await TestCertificates.generate()
        let receiver = try await HTTPSReceiver.start(certificates: certificates)
        let target = target(.webhook, receiver, path: "/api/webhooks/prometheus?source=reef")
        let request = build(target, credential: "hook-secret", events: [Heater.fired, Heater.float, Heater.resolved])
        let answer = await transport.send(.http(request), to: target, credential: "hook-secret")
        #expect(answer.outcome == .accepted)
        let received = try #require(try receiver.requests().first)
        #expect(received.method == "POST" && received.path == "/api/webhooks/prometheus?source=reef")
        #expect(received.header("Content-Type") == "application/json")
        #expect(received.header("Idempotency-Key") == "reef-edge/t-webhook/41-43")
        #expect(received.header("Authorization") == "Bearer hook-secret")
        #expect(received.body == Array(AlertmanagerPayload(target: "t-webhook", device: "reef-1",
                                                           events: [Heater.fired, Heater.float, Heater.resolved],
                                                           externalURL: "https://reef-1.local/alerts").json()))
    }

    @Test func telegramGetsTheTokenInThePathAndTheChatInTheBody() async throws {
        let certificates = try await TestCertificates.generate()
        let receiver = try await HTTPSReceiver.start(certificates: certificates)
        let target = target(.telegram, receiver, recipient: "-100123")
        let request = build(target, credential: "123:ABC", events: [Heater.resolved])
        let answer = await transport.send(.http(request), to: target, credential: "123:ABC")
        #expect(answer.outcome == .accepted)
        let received = try #require(try receiver.requests().first)
        #expect(received.method == "POST" && received.path == "/bot123:ABC/sendMessage")
        #expect(received.header("Content-Type") == "application/json")
        #expect(received.header("Authorization") == nil)
        #expect(received.text
            == #"{"chat_id":"-100123","disable_notification":true,"text":"reef-1: temp-high resolved\n\nTemperature back to 26.8 °C"}"#)
    }

    @Test func pushoverGetsTheFormWithTokenAndUserKey() async throws {
        let certificates = try await TestCertificates.generate()
        let receiver = try await HTTPSReceiver.start(certificates: certificates)
        let target = target(.pushover, receiver, path: "/1/messages.json", recipient: "ukey")
        let request = build(target, credential: "atoken")
        let answer = await transport.send(.http(request), to: target, credential: "atoken")
        #expect(answer.outcome == .accepted)
        let received = try #require(try receiver.requests().first)
        #expect(received.method == "POST" && received.path == "/1/messages.json")
        #expect(received.header("Content-Type") == "application/x-www-form-urlencoded")
        #expect(received.text
            == "token=atoken&user=ukey&title=reef-1%3A%20temp-high%20fired&message=Temperature%2027.9%20%C2%B0C%20above%2027.5%20%C2%B0C&priority=1&timestamp=1796306525&url=https%3A%2F%2Freef-1.local%2Falerts")
    }

    @Test func refusalsCarryTheStatusTheServicesWordsAndRetryAfter() async throws {
        let certificates = try await TestCertificates.generate()
        let receiver = try await HTTPSReceiver.start(certificates: certificates)
        try receiver.script([
            .init(status: 500, body: "boom\n"),
            .init(status: 429, headers: ["Retry-After": "7"], body: "slow down"),
            .init(status: 400, body: #"{"ok":false,"description":"Bad Request: chat not found"}"#),
            .init(status: 204),
        ])
        let target = target(.ntfy, receiver, path: "/reef")
        let request = build(target, credential: nil)
        var outcomes: [DeliveryOutcome] = []
        for _ in 0 ..< 4 { outcomes.append(await transport.send(.http(request), to: target, credential: nil).outcome) }
        #expect(outcomes == [
            .http(status: 500, reason: "boom", retryAfter: nil),
            .http(status: 429, reason: "slow down", retryAfter: "7"),
            .http(status: 400, reason: #"{"ok":false,"description":"Bad Request: chat not found"}"#, retryAfter: nil),
            .accepted,
        ])
        #expect(try receiver.requests().count == 4)
        try receiver.script([.init(status: 503), .init(status: 204)])
        let again = await transport.send(.http(request), to: target, credential: nil).outcome
        try receiver.script([.init(status: 503), .init(status: 204)])
        #expect([again, await transport.send(.http(request), to: target, credential: nil).outcome]
            == [.http(status: 503, reason: "", retryAfter: nil), .http(status: 503, reason: "", retryAfter: nil)],
            "the same script written again starts over")
    }

    @Test func aLongAnswerIsCutToItsFirstFourKilobytesAndStillAccepted() async throws {
        let certificates = try await TestCertificates.generate()
        let receiver = try await HTTPSReceiver.start(certificates: certificates)
        try receiver.script([.init(status: 200, body: String(repeating: "x", count: 10_000))])
        let target = target(.telegram, receiver, recipient: "1")
        let answer = await transport.send(.http(build(target, credential: "1:A")), to: target, credential: "1:A")
        #expect(answer == NotifyAnswer(outcome: .accepted, text: String(repeating: "x", count: 4096)))
    }

    @Test func aCertificateFromAnotherCAIsANetworkErrorAndNothingIsSent() async throws {
        let certificates = try await TestCertificates.generate()
        let receiver = try await HTTPSReceiver.start(certificates: certificates)
        var target = target(.ntfy, receiver, path: "/reef")
        target.caFile = certificates.untrustedCA
        let answer = await transport.send(.http(build(target, credential: "tk")), to: target, credential: "tk")
        guard case .networkError(let reason) = answer.outcome else {
            Issue.record("expected a network error, got \(answer.outcome)")
            return
        }
        #expect(reason.contains("certificate"), "\(reason)")
        #expect(reason.hasSuffix("(curl 60)"), "CURLE_PEER_FAILED_VERIFICATION: \(reason)")
        #expect(try receiver.requests().isEmpty)
    }

    @Test func aPlainHTTPURLIsRefusedBeforeAnythingIsSent() async throws {
        let certificates = try await TestCertificates.generate()
        let receiver = try await HTTPSReceiver.start(certificates: certificates)
        let target = NotifyTarget(id: "phone", kind: .ntfy, url: "http://127.0.0.1:\(receiver.port)/reef")
        let answer = await transport.send(.http(build(target, credential: "tk")), to: target, credential: "tk")
        #expect(answer.outcome == .networkError(#"Protocol "http" not supported or disabled in libcurl (curl 1)"#))
        #expect(try receiver.requests().isEmpty)
    }

    @Test func nothingListeningIsANetworkError() async throws {
        let port = try Processes.freePort()
        let target = NotifyTarget(id: "phone", kind: .ntfy, url: "https://127.0.0.1:\(port)/reef")
        let answer = await transport.send(.http(build(target, credential: nil)), to: target, credential: nil)
        guard case .networkError(let reason) = answer.outcome else {
            Issue.record("expected a network error, got \(answer.outcome)")
            return
        }
        #expect(reason.hasPrefix("Failed to connect to 127.0.0.1 port \(port)"), "\(reason)")
        #expect(reason.hasSuffix("(curl 7)"), "CURLE_COULDNT_CONNECT: \(reason)")
    }

    @Test func aServiceThatWentAwayIsANetworkErrorUntilItIsBack() async throws {
        let certificates = try await TestCertificates.generate()
        let first = try await HTTPSReceiver.start(certificates: certificates)
        let target = target(.ntfy, first, path: "/reef")
        let request = build(target, credential: nil)
        first.stop()
        guard case .networkError = await transport.send(.http(request), to: target, credential: nil).outcome else {
            Issue.record("a stopped receiver must be a network error")
            return
        }
        let again = try await HTTPSReceiver.start(certificates: certificates, port: first.port)
        #expect(await transport.send(.http(request), to: target, credential: nil).outcome == .accepted)
        #expect(try again.requests().map(\.path) == ["/reef"])
    }

    @Test func aTelegramFailureNeverShowsTheBotToken() async throws {
        let port = try Processes.freePort()
        let target = NotifyTarget(id: "tg", kind: .telegram, url: "https://127.0.0.1:\(port)", recipient: "-100123")
        let answer = await transport.send(.http(build(target, credential: "123:SECRET")), to: target, credential: "123:SECRET")
        #expect(answer.outcome != .accepted)
        #expect(!"\(answer)".contains("SECRET"))
    }

    @Test func aServiceThatNeverAnswersIsATimeout() async throws {
        let certificates = try await TestCertificates.generate()
        let receiver = try await HTTPSReceiver.start(certificates: certificates)
        try receiver.script([.init(status: 200, delay: 60)])
        let target = target(.ntfy, receiver, path: "/reef")
        let quick = CurlNotifyTransport(configuration: .init(connectTimeout: .seconds(5), totalTimeout: .seconds(1)))
        let started = ContinuousClock.now
        let answer = await quick.send(.http(build(target, credential: nil)), to: target, credential: nil)
        #expect(answer.outcome == .timeout)
        #expect(ContinuousClock.now - started < .seconds(10))
        #expect(try receiver.requests().count == 1, "the request arrived; the answer did not")
    }

    @Test func aHandshakeThatStallsIsATimeout() async throws {
        let silent = try SilentListener()
        defer { silent.stop() }
        let target = NotifyTarget(id: "phone", kind: .ntfy, url: "https://127.0.0.1:\(silent.port)/reef")
        let quick = CurlNotifyTransport(configuration: .init(connectTimeout: .seconds(1), totalTimeout: .seconds(1)))
        let answer = await quick.send(.http(build(target, credential: nil)), to: target, credential: nil)
        #expect(answer.outcome == .timeout)
        #expect(silent.connections == 1)
    }

    @Test func cancellingTheSenderAbandonsAHungAttemptAtOnce() async throws {
        let certificates = try await TestCertificates.generate()
        let receiver = try await HTTPSReceiver.start(certificates: certificates)
        try receiver.script([.init(status: 200, delay: 60)])
        let target = target(.ntfy, receiver, path: "/reef")
        let request = build(target, credential: nil)
        let sender = Task { await transport.send(.http(request), to: target, credential: nil) }
        _ = try await receiver.requests(atLeast: 1)
        let cancelled = ContinuousClock.now
        sender.cancel()
        let answer = await sender.value
        #expect(ContinuousClock.now - cancelled < .seconds(10), "well before the 30 s total timeout")
        #expect(answer.outcome == .networkError("attempt abandoned: the notify task was cancelled"))
    }
}

@Suite struct SMTPTransportTests {
    let transport = CurlNotifyTransport()

    func target(_ receiver: SMTPReceiver) -> NotifyTarget {
        NotifyTarget(id: "mail", kind: .email, url: receiver.url, credentialFile: "/unused", recipient: "keeper@example.org",
                     sender: "reef@example.org", caFile: receiver.caFile)
    }

    func mail(_ target: NotifyTarget) -> EmailMessage {
        EmailMessage(target: target, device: "reef-1", content: .events([Heater.fired], range: SequenceRange(first: 41, last: 41)))
    }

    @Test func theMailGoesOverSTARTTLSWithAUTHAndArrivesAsRendered() async throws {
        let certificates = try await TestCertificates.generate()
        let receiver = try await SMTPReceiver.start(certificates: certificates, user: "reef@example.org", password: "s3cret")
        let target = target(receiver)
        let mail = mail(target)
        let answer = await transport.send(.email(mail), to: target, credential: "s3cret")
        #expect(answer == NotifyAnswer(outcome: .accepted, text: "250 OK"))
        let received = try #require(try receiver.messages().first)
        #expect(try receiver.messages().count == 1)
        #expect(received.mailFrom == "reef@example.org" && received.recipients == ["keeper@example.org"])
        #expect(received.tls && received.login == "reef@example.org")
        #expect(received.header("From") == "reef@example.org")
        #expect(received.header("To") == "keeper@example.org")
        #expect(received.header("Subject") == "reef-1: temp-high fired")
        #expect(received.header("Message-ID") == "<reef-edge.mail.41@reef-1>")
        #expect(received.header("Date") == "Thu, 03 Dec 2026 14:02:05 +0000")
        #expect(received.body == "Temperature 27.9 °C above 27.5 °C")
        #expect(received.text == mail.rendered)
    }

    @Test func implicitTLSOnSmtpsWorksToo() async throws {
        let certificates = try await TestCertificates.generate()
        let receiver = try await SMTPReceiver.start(certificates: certificates, security: .implicit)
        let target = target(receiver)
        #expect(target.url.hasPrefix("smtps://"))
        let answer = await transport.send(.email(mail(target)), to: target, credential: nil)
        #expect(answer.outcome == .accepted)
        #expect(try receiver.messages().map(\.tls) == [true])
    }

    @Test func aMailServerWithAnUntrustedCertificateGetsNothing() async throws {
        let certificates = try await TestCertificates.generate()
        let receiver = try await SMTPReceiver.start(certificates: certificates, user: "reef@example.org", password: "s3cret")
        var target = target(receiver)
        target.caFile = certificates.untrustedCA
        let answer = await transport.send(.email(mail(target)), to: target, credential: "s3cret")
        guard case .networkError(let reason) = answer.outcome else {
            Issue.record("expected a network error, got \(answer.outcome)")
            return
        }
        #expect(reason.hasSuffix("(curl 60)"), "CURLE_PEER_FAILED_VERIFICATION: \(reason)")
        #expect(try receiver.messages().isEmpty)
    }

    @Test func aMailServerThatNeverAnswersHoldsBackNeitherThePhoneNorItsTimeout() async throws {
        let certificates = try await TestCertificates.generate()
        let silent = try SilentListener()
        defer { silent.stop() }
        let phone = try await HTTPSReceiver.start(certificates: certificates)
        let mailTarget = NotifyTarget(id: "mail", kind: .email, url: "smtp://127.0.0.1:\(silent.port)", recipient: "keeper@example.org",
                                      sender: "reef@example.org")
        let phoneTarget = NotifyTarget(id: "phone", kind: .ntfy, url: phone.url + "/reef", caFile: phone.caFile)
        let slow = CurlNotifyTransport(configuration: .init(connectTimeout: .seconds(60), totalTimeout: .seconds(60)))
        let mailing = Task { await slow.send(.email(mail(mailTarget)), to: mailTarget, credential: nil) }
        while silent.connections == 0 { try await Task.sleep(for: .milliseconds(20)) }
        let started = ContinuousClock.now
        let request = NotifyRequest.build(target: phoneTarget, device: "reef-1",
                                          content: .events([Heater.fired], range: SequenceRange(first: 41, last: 41)), credential: nil)
        #expect(await slow.send(.http(request), to: phoneTarget, credential: nil).outcome == .accepted)
        #expect(ContinuousClock.now - started < .seconds(30), "the phone's message must not wait for the mail server")
        let stopping = ContinuousClock.now
        mailing.cancel()
        #expect(await mailing.value.outcome == .networkError("attempt abandoned: the notify task was cancelled"))
        #expect(ContinuousClock.now - stopping < .seconds(10), "stopping must not wait for SMTP's goodbye to a hung server")
    }

    @Test func theServersRefusalIsItsReplyCodeAndWords() async throws {
        let certificates = try await TestCertificates.generate()
        let receiver = try await SMTPReceiver.start(certificates: certificates)
        try receiver.script(["451 4.3.0 try again later", "550 5.1.1 no such user"])
        let target = target(receiver)
        let first = await transport.send(.email(mail(target)), to: target, credential: nil)
        let second = await transport.send(.email(mail(target)), to: target, credential: nil)
        #expect(first.outcome == .smtp(code: 451, reason: "451 4.3.0 try again later"))
        #expect(second.outcome == .smtp(code: 550, reason: "550 5.1.1 no such user"))
        #expect(try receiver.messages().map(\.reply) == ["451 4.3.0 try again later", "550 5.1.1 no such user"])
    }

    @Test func aWrongPasswordIsTheServersAuthRefusal() async throws {
        let certificates = try await TestCertificates.generate()
        let receiver = try await SMTPReceiver.start(certificates: certificates, user: "reef@example.org", password: "s3cret")
        let target = target(receiver)
        let answer = await transport.send(.email(mail(target)), to: target, credential: "wrong")
        #expect(answer.outcome == .smtp(code: 535, reason: "535 5.7.8 Authentication credentials invalid"))
        #expect(!answer.text.contains("wrong") && !"\(answer.outcome)".contains("wrong"))
        #expect(try receiver.messages().isEmpty)
    }

    @Test func aServerWithoutSTARTTLSGetsNothing() async throws {
        let certificates = try await TestCertificates.generate()
        let receiver = try await SMTPReceiver.start(certificates: certificates, security: .none)
        let target = target(receiver)
        let answer = await transport.send(.email(mail(target)), to: target, credential: "s3cret")
        guard case .networkError(let reason) = answer.outcome else {
            Issue.record("expected a network error, got \(answer.outcome)")
            return
        }
        #expect(reason.contains("does not offer STARTTLS"), "\(reason)")
        #expect(try receiver.messages().isEmpty)
    }
}

@Suite struct CredentialFileTests {
    @Test func theSecretIsTheTrimmedTextOfAPrivateFile() throws {
        let directory = try TemporaryDirectory("credential")
        let path = directory.file("token")
        try write("  tk_abc\n", to: path, mode: 0o600)
        #expect(try CredentialFile.read(path: path) == "tk_abc")
        #expect(CredentialFile.problem(path: path) == nil)
    }

    @Test func aFileOthersCanReadIsReportedWithTheFixAndNeverTheSecret() throws {
        let directory = try TemporaryDirectory("credential")
        let path = directory.file("token")
        try write("tk_supersecret\n", to: path, mode: 0o644)
        #expect(CredentialFile.problem(path: path)
            == "credential file \(path) has mode 644; others on the device could read the secret. Run `chmod 600 \(path)`")
        #expect(try CredentialFile.read(path: path) == "tk_supersecret", "sending goes on while the owner fixes it")
    }

    @Test func missingEmptyAndOversizedFilesSayWhatToDo() throws {
        let directory = try TemporaryDirectory("credential")
        let missing = directory.file("missing"), empty = directory.file("empty"), large = directory.file("large")
        try write(" \n", to: empty, mode: 0o600)
        try write(String(repeating: "s", count: 5000), to: large, mode: 0o600)
        #expect(CredentialFile.problem(path: missing)
            == "credential file \(missing) does not exist; create it with the secret on one line, then `chmod 600 \(missing)`")
        #expect(CredentialFile.problem(path: empty) == "credential file \(empty) is empty; write the secret into it on one line")
        #expect(CredentialFile.problem(path: large)
            == "credential file \(large) is 5000 bytes; a secret is at most 4096. Put only the token or password in it")
        #expect(throws: CredentialFile.Failure.self) { try CredentialFile.read(path: missing) }
        #expect(!(CredentialFile.problem(path: large) ?? "").contains("sss"))
    }

    func write(_ text: String, to path: String, mode: Int) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
    }
}
