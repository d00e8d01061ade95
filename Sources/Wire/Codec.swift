import Foundation

/// The one way both sides turn batches into bytes and back: JSON, then gzip.
public enum WireCodec {
    public enum DecodeFailure: Error, CustomStringConvertible {
        case body(Gzip.Failure)
        case json(String)
        case invalid(String)

        public var description: String {
            switch self {
            case .body(let failure): failure.description
            case .json(let reason): "body is not a valid batch: \(reason)"
            case .invalid(let reason): reason
            }
        }
    }

    /// A batch: the same JSON as the generic path, written directly (`BatchWriter`).
    public static func encode(_ batch: SyncBatch) throws -> [UInt8] {
        Gzip.compress(try BatchWriter.encode(batch))
    }

    public static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Gzip.compress(Array(try encoder.encode(value)))
    }

    public static func decode<T: Decodable>(_ type: T.Type, gzipped body: [UInt8],
                                            inflateLimit: Int = WireProtocol.defaultMaxInflatedBytes) throws(DecodeFailure) -> T {
        let json: [UInt8]
        do { json = try Gzip.decompress(body, limit: inflateLimit) } catch { throw .body(error) }
        do {
            return try JSONDecoder().decode(type, from: Data(json))
        } catch let DecodingError.keyNotFound(key, context) {
            throw .json("missing key \(path(context.codingPath + [key]))")
        } catch let DecodingError.typeMismatch(_, context) {
            throw .json("wrong type at \(path(context.codingPath)): \(context.debugDescription)")
        } catch let DecodingError.valueNotFound(_, context) {
            throw .json("null at \(path(context.codingPath))")
        } catch let DecodingError.dataCorrupted(context) {
            throw .json("\(context.debugDescription) at \(path(context.codingPath))")
        } catch {
            throw .json("\(error)")
        }
    }

    /// A server's answer (a `SyncAck` or a `WireError`): gzip-compressed like a batch, or plain
    /// JSON as the fleet server sends it. Answers are small, so the inflate limit is 1 MiB.
    public static func decodeAnswer<T: Decodable>(_ type: T.Type, _ body: [UInt8]) throws -> T {
        if body.starts(with: [0x1F, 0x8B]) {
            return try decode(type, gzipped: body, inflateLimit: 1 << 20)
        }
        return try JSONDecoder().decode(type, from: Data(body))
    }

    /// Decodes and checks a batch's internal consistency; the reason goes back to the
    /// device in a 400 answer.
    public static func decodeBatch(gzipped body: [UInt8],
                                   inflateLimit: Int = WireProtocol.defaultMaxInflatedBytes) throws(DecodeFailure) -> SyncBatch {
        let batch = try decode(SyncBatch.self, gzipped: body, inflateLimit: inflateLimit)
        guard batch.version == WireProtocol.version else {
            throw .invalid("protocol version \(batch.version) is not supported; this server speaks \(WireProtocol.version)")
        }
        if let reason = batch.validationError() { throw .invalid(reason) }
        return batch
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().trimmingCharacters(in: ["."])
    }
}
