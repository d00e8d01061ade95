import EdgeTesting
import FleetServer
import Foundation
import Testing

/// `fleet-server check-config` and the check `serve` runs before it starts: every problem of
/// a settings file at once, each naming the file and the key.
struct ServerSettingsTests {
    let directory: TemporaryDirectory
    let certificate: String

    init() throws {
        directory = try TemporaryDirectory()
        certificate = directory.path + "/server.pem"
        try "not really a certificate".write(toFile: certificate, atomically: false, encoding: .utf8)
    }

    func write(_ name: String, _ text: String, mode: mode_t = 0o600) throws -> String {
        let path = directory.path + "/" + name
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        chmod(path, mode)
        return path
    }

    @Test func everyProblemOfABrokenFileIsNamedAtOnce() throws {
        let token = try write("admin-token", "admin-token-0123456789abcdef\n", mode: 0o644)
        let config = try write("fleet.json", """
            {
              "port": 70000,
              "tlsCert": "\(certificate)",
              "tlsKey": "\(directory.path)/missing.key",
              "postgresURL": "postgres://fleet@127.0.0.1/fleet",
              "maxBodyByte": 1000,
              "adminTokenFile": "\(token)",
              "storeTimeoutSeconds": 0,
              "worker": { "concurrency": 4, "leaseSecnds": 30, "health": { "windowSecs": 60 } },
              "notifications": {
                "receivers": [ { "id": "phone", "kind": "ntfy", "url": "https://ntfy.example/reef" } ],
                "routes": [ { "id": "all", "receivers": ["pager"] } ]
              }
            }
            """)
        let settings = ServerSettings.resolve(file: config, flags: .init(), environment: [:])
        let notificationProblems = settings.configuration?.notifications.validationErrors() ?? []
        #expect(notificationProblems.count == 1 && notificationProblems[0].hasPrefix("notifications.routes[0].receivers"),
                "\(notificationProblems)")
        #expect(settings.problems == [
            "\(config): maxBodyByte: not a setting; did you mean maxBodyBytes?",
            "\(config): worker.leaseSecnds: not a setting; did you mean worker.leaseSeconds?",
            "\(config): worker.health.windowSecs: not a setting; did you mean worker.health.windowSeconds?",
            "\(config): tlsKey: cannot read \(directory.path)/missing.key; give the PEM file's path",
            "\(config): adminTokenFile: the admin token file \(token) has mode 644; others could read the admin token. Run `chmod 600 \(token)`",
            "\(config): port is 70000; it must be at most 65535",
            "\(config): storeTimeoutSeconds is 0; it must be above 0 and at most 86400 (a day)",
        ] + notificationProblems.map { "\(config): \($0)" })
    }

    @Test func aFileThatIsNotJSONOrHasAWrongTypeIsOneProblemNamingTheKey() throws {
        let broken = try write("broken.json", "{ \"port\": 8443, ")
        let notJSON = ServerSettings.resolve(file: broken, flags: .init(), environment: ["FLEET_POSTGRES_URL": "postgres://u@localhost/db"])
        #expect(notJSON.problems.count == 1, "\(notJSON.problems)")
        #expect(notJSON.problems.first?.hasPrefix("\(broken): not JSON: ") == true, "\(notJSON.problems)")

        let typed = try write("typed.json", #"{ "plainHTTP": true, "port": "8443", "postgresURL": "postgres://u@localhost/db" }"#)
        #expect(ServerSettings.resolve(file: typed, flags: .init(), environment: [:]).problems == ["\(typed): port: expected a number"])

        let nested = try write("nested.json", #"{ "plainHTTP": true, "worker": { "leaseSeconds": "long" }, "postgresURL": "postgres://u@localhost/db" }"#)
        #expect(ServerSettings.resolve(file: nested, flags: .init(), environment: [:]).problems
            == ["\(nested): worker.leaseSeconds: expected a number"])
    }

    @Test func aGoodFileResolvesAndAFlagWinsOverIt() throws {
        let token = try write("admin-token", "admin-token-0123456789abcdef\n")
        let config = try write("fleet.json", """
            { "host": "127.0.0.1", "port": 9443, "plainHTTP": true, "postgresURL": "postgres://fleet@localhost/fleet",
              "adminTokenFile": "\(token)", "worker": { "concurrency": 3 }, "healthReportsKept": 50 }
            """)
        var flags = ServerSettings.Flags()
        flags.port = 9444
        let settings = ServerSettings.resolve(file: config, flags: flags, environment: [:])
        #expect(settings.problems == [])
        let configuration = try #require(settings.configuration)
        #expect(configuration.host == "127.0.0.1")
        #expect(configuration.port == 9444)
        #expect(configuration.tls == nil)
        #expect(configuration.worker.concurrency == 3)
        #expect(configuration.healthReportsKept == 50)
        #expect(configuration.adminTokenHash != nil)
        #expect(settings.postgresURL == "postgres://fleet@localhost/fleet")
    }

    @Test func withoutTLSOrADatabaseTheCommandLineIsNamed() {
        #expect(ServerSettings.resolve(file: nil, flags: .init(), environment: [:]).problems == [
            "command line: tlsCert, tlsKey: give both (--tls-cert and --tls-key), or plainHTTP behind a TLS-terminating proxy",
            "command line: postgresURL: say where PostgreSQL is (--postgres-url, the file's postgresURL, or FLEET_POSTGRES_URL)",
        ])
    }

    /// The real binary: check-config lists the problems and exits 78; serve refuses to start
    /// with the same list, before it touches the database.
    @Test func checkConfigAndServeExit78WithEveryProblem() async throws {
        let config = try write("fleet.json", #"{ "plainHTTP": true, "postgresURL": "postgres://u@127.0.0.1:1/db", "prot": 1, "maxConnections": 0 }"#)
        let binary = Built.product("fleet-server")
        let expected = "\(config): prot: not a setting; did you mean port?\n\(config): maxConnections is 0; it must be at least 1\n"
        let check = try Command.run(binary, ["check-config", "--config", config])
        #expect(check.status == 78)
        #expect(check.stderr == expected)
        let serve = try Command.run(binary, ["serve", "--config", config])
        #expect(serve.status == 78)
        #expect(serve.stderr == expected + "not started: fix the settings above (`fleet-server check-config` lists them)\n")

        let good = try write("good.json", #"{ "plainHTTP": true, "postgresURL": "postgres://u@127.0.0.1:1/db" }"#)
        let ok = try Command.run(binary, ["check-config", "--config", good])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout == "\(good): ok — plain HTTP on 0.0.0.0:8443, admin API off, 8 worker slots, 0 receivers, 0 routes\n")
    }
}
