import FleetServer
import FleetServerTesting
import Foundation
import Testing
import Wire

/// The fleet server keeps a device's notify counts: the health report travels whole, and the
/// read API returns the targets, so an operator sees a device whose alerts reach nobody.
/// (`SampleBatches.health` carries them, so SyncTests' PostgreSQL round trip covers the jsonb column.)
struct NotifyHealthStorageTests {
    @Test func theReadAPIReturnsTheNotifyCounts() async throws {
        try await InProcessServer.with { server, client in
            let sent = [NotifyTargetHealth(target: "phone", sent: 12, retried: 3, dead: 1, pending: 2, oldestPendingAgeSeconds: 58.5)]
            #expect(SampleBatches.health.notify == sent)
            #expect(try await client.post(SampleBatches.batch(), token: server.deviceToken).status.code == 200)
            let devices = try await client.get("/v1/devices", token: InProcessServer.adminToken)
            #expect(try devices.decode([DeviceSummary].self).first?.lastHealth?.notify == sent)
            #expect(devices.text.contains(#""notify":[{"#))
        }
    }
}
