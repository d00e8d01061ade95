import Foundation

// The footprint floor: the smallest process built like edge-agent (same toolchain, same
// Foundation, same link flags) that stays alive doing a little work once a second. edge-bench
// measures its RSS and CPU in the same run as the agent's, so the table separates what any
// Swift + Foundation process costs on this machine from what the agent adds.
struct Tick: Codable {
    var at: Date
    var count: Int
}

var count = 0
let encoder = JSONEncoder()
while true {
    count += 1
    _ = try encoder.encode(Tick(at: Date(), count: count))
    try await Task.sleep(for: .seconds(1))
}
