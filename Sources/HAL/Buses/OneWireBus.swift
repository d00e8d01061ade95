/// A 1-Wire bus as the kernel's w1 subsystem presents it: slaves by id, each a directory of files.
///
/// Async because reading `w1_slave` makes the kernel run a 750 ms conversion inside `read(2)`.
/// Throws `BusError`.
public protocol OneWireBus: Sendable {
    /// Slave ids currently on the bus, e.g. `28-0316a2794bff`.
    func slaves() async throws -> [String]
    /// The whole text of one of a slave's files; `BusError.noDevice` when the slave is gone.
    func read(slave: String, file: String) async throws -> String
}
