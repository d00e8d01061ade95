/// Holds the injected generator; an existential cannot be passed where `some RandomNumberGenerator` is expected.
struct Jitter: RandomNumberGenerator, Sendable {
    var base: any RandomNumberGenerator & Sendable
    mutating func next() -> UInt64 { base.next() }
}
