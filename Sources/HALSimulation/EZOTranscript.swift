/// What an EZO circuit answered, command by command: the transcript `edge-agent capture`
/// writes, and what a replayed circuit answers from.
///
/// ```
/// # edge-agent capture: sensor ph (ezo_ph at 0x63)
/// > R
/// < 1 8.153
/// ```
/// `>` is a command as written to the circuit, `<` the status code (1 done, 2 syntax error,
/// 254 still processing, 255 no data) and the ASCII payload read after the command's wait.
public struct EZOTranscript: Sendable, Hashable {
    public struct Exchange: Sendable, Hashable {
        public var command: String
        public var status: UInt8
        public var payload: String
        public init(command: String, status: UInt8, payload: String) {
            self.command = command
            self.status = status
            self.payload = payload
        }
    }

    public var exchanges: [Exchange]

    public init(exchanges: [Exchange]) { self.exchanges = exchanges }

    public enum ParseError: Error, Hashable, CustomStringConvertible {
        case badLine(line: Int, text: String)
        case noExchanges
        case tooLarge(bytes: Int)

        public var description: String {
            switch self {
            case .badLine(let line, let text):
                "line \(line) is not '> COMMAND' followed by '< STATUS PAYLOAD' (status 1, 2, 254 or 255): \(text)"
            case .noExchanges: "no '> COMMAND' / '< STATUS PAYLOAD' pairs found: write the transcript with 'edge-agent capture SENSOR'"
            case .tooLarge(let bytes): "\(bytes) bytes is not one circuit's transcript (at most 64 KiB)"
            }
        }
    }

    public init(text: String) throws(ParseError) {
        guard text.utf8.count <= 65_536 else { throw .tooLarge(bytes: text.utf8.count) }
        exchanges = []
        var command: String?
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("> "), command == nil {
                command = String(line.dropFirst(2))
                continue
            }
            guard line.hasPrefix("< "), let sent = command else { throw .badLine(line: number + 1, text: String(line)) }
            let rest = line.dropFirst(2)
            let code = rest.prefix { $0 != " " }
            guard let status = UInt8(code), [1, 2, 254, 255].contains(status),
                  rest.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else { throw .badLine(line: number + 1, text: String(line)) }
            exchanges.append(Exchange(command: sent, status: status, payload: String(rest.dropFirst(code.count + 1))))
            command = nil
        }
        guard !exchanges.isEmpty else { throw .noExchanges }
    }

    /// The transcript as text, with `header` lines as comments.
    public func render(header: [String]) -> String {
        header.map { "# " + $0 + "\n" }.joined()
            + exchanges.map { "> \($0.command)\n< \($0.status)\($0.payload.isEmpty ? "" : " " + $0.payload)\n" }.joined()
    }

    /// The reply to the `occurrence`-th sending of `command` (case-insensitive): that
    /// exchange's reply, the last one once the transcript has no more, nil when never captured.
    func reply(to command: String, occurrence: Int) -> Exchange? {
        let matching = exchanges.filter { $0.command.lowercased() == command.lowercased() }
        return matching.isEmpty ? nil : matching[min(occurrence, matching.count - 1)]
    }
}
