import Synchronization

/// Counts batches being stored, in total and per device, and refuses one beyond either
/// limit, so overload becomes a 503 the device backs off from rather than a queue of open
/// transactions, and one device cannot hold every slot. A slot is taken only once the body
/// is read and decoded: a slow upload holds a connection, never a slot.
final class AdmissionGate: Sendable {
    enum Refusal: Error, Equatable {
        /// Every slot is taken.
        case full
        /// This device already holds its share of the slots.
        case deviceBusy
    }

    private let state = Mutex<(total: Int, perDevice: [Int64: Int])>((0, [:]))
    let limit: Int
    let perDeviceLimit: Int

    init(limit: Int, perDeviceLimit: Int) {
        self.limit = limit
        self.perDeviceLimit = perDeviceLimit
    }

    /// Runs `operation` in a slot of `device`'s, or says why there is none.
    func run<T: Sendable>(device: Int64, _ operation: () async throws -> T) async throws -> Result<T, Refusal> {
        let refusal: Refusal? = state.withLock { state in
            let mine = state.perDevice[device, default: 0]
            guard mine < perDeviceLimit else { return .deviceBusy }
            guard state.total < limit else { return .full }
            state.total += 1
            state.perDevice[device] = mine + 1
            return nil
        }
        if let refusal { return .failure(refusal) }
        defer {
            state.withLock { state in
                state.total -= 1
                let left = state.perDevice[device, default: 1] - 1
                state.perDevice[device] = left > 0 ? left : nil
            }
        }
        return .success(try await operation())
    }
}
