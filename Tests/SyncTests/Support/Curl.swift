import EdgeTesting
import FleetServerTesting
import Foundation
import Wire

/// HTTPS requests from tests through the curl CLI: it verifies against a custom CA file
/// reliably on Linux, where FoundationNetworking does not.
struct Curl {
    struct Response: Sendable {
        var status: Int
        /// Header names lowercased.
        var headers: [String: String]
        var body: [UInt8]

        func decode<T: Decodable>(_ type: T.Type) throws -> T {
            try JSONDecoder().decode(type, from: Data(body))
        }

        var wireError: WireError? { try? decode(WireError.self) }
    }

    var caFile: String
    var clientCertificate: (certificate: String, key: String)?

    /// `body` is sent as is (already gzip-compressed for batches); `chunked` leaves out
    /// Content-Length.
    func request(_ method: String, _ url: String, headers: [String: String] = [:], body: [UInt8]? = nil,
                 chunked: Bool = false) async throws -> Response {
        let directory = "/tmp/reef-curl-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var arguments = ["-sS", "--cacert", caFile, "-X", method, "-D", directory + "/headers", "-o", directory + "/body",
                         "-w", "%{http_code}", "--max-time", "30"]
        if let clientCertificate { arguments += ["--cert", clientCertificate.certificate, "--key", clientCertificate.key] }
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) { arguments += ["-H", "\(name): \(value)"] }
        if let body {
            try Data(body).write(to: URL(fileURLWithPath: directory + "/request"))
            arguments += ["--data-binary", "@" + directory + "/request"]
            if chunked { arguments += ["-H", "Transfer-Encoding: chunked"] }
        }
        let status = try await Processes.run("/usr/bin/curl", arguments + [url])
        var parsedHeaders: [String: String] = [:]
        let headerText = (try? String(contentsOfFile: directory + "/headers", encoding: .utf8)) ?? ""
        for line in headerText.split(whereSeparator: \.isNewline) {
            guard let colon = line.firstIndex(of: ":") else { continue }
            parsedHeaders[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let responseBody = (try? Data(contentsOf: URL(fileURLWithPath: directory + "/body"))).map(Array.init) ?? []
        return Response(status: Int(status) ?? 0, headers: parsedHeaders, body: responseBody)
    }

    /// Posts a batch the way a device does: gzip body, bearer token.
    func post(_ batch: SyncBatch, to server: String, token: String?) async throws -> Response {
        try await postBody(try WireCodec.encode(batch), to: server, token: token)
    }

    func postBody(_ body: [UInt8], to server: String, token: String?, encoding: String? = "gzip",
                  chunked: Bool = false) async throws -> Response {
        var headers = ["Content-Type": WireProtocol.contentType]
        if let encoding { headers["Content-Encoding"] = encoding }
        if let token { headers["Authorization"] = "Bearer \(token)" }
        return try await request("POST", server + WireProtocol.batchPath, headers: headers, body: body, chunked: chunked)
    }
}
