import EdgeCore
import Foundation
import Yams

/// The outputs of a profile and the buses they are on, read however broken the rest of the
/// profile is: `edge-agent failsafe` must put every output it can name in its safe state even
/// when the sensors or alerts do not load (or are not even valid YAML or UTF-8).
public struct ProfileOutputs: Sendable {
    public var buses: [BusSpec]
    public var outputs: [OutputSpec]
    /// What was wrong in the `buses:` and `outputs:` sections; an output with an error is left out.
    public var problems: [ProfileError]
}

extension DeviceProfile {
    /// Reads only `buses:` and `outputs:`. The whole document is tried first; if it is not
    /// valid YAML, each of those two top-level sections is read on its own (a section runs
    /// from its unindented `key:` line to the next unindented key), keeping its line numbers.
    public static func loadOutputs(path: String) throws(ProfileErrors) -> ProfileOutputs {
        let data: Data
        switch YAMLSource.data(path: path, maxBytes: maxFileBytes, noun: "the profile") {
        case .success(let read): data = read
        case .failure(let error): throw ProfileErrors(errors: [error])
        }
        let text = String(decoding: data, as: UTF8.self)
        var sections: [String: Node] = [:]
        if YAMLGuard.nestingProblem(text) == nil, let root = try? Yams.compose(yaml: text), case .mapping(let mapping) = root {
            for pair in mapping { if let key = pair.key.string, ["buses", "outputs"].contains(key) { sections[key] = pair.value } }
        } else {
            for (key, lineIndex, body) in topLevelSections(text) where ["buses", "outputs"].contains(key) {
                // Blank lines in front keep every mark at its line in the file.
                let padded = String(repeating: "\n", count: lineIndex) + body
                guard YAMLGuard.nestingProblem(body) == nil else { continue }
                if case .mapping(let mapping)? = try? Yams.compose(yaml: padded), let value = mapping.first?.value { sections[key] = value }
            }
        }
        guard let outputsNode = sections["outputs"] else {
            throw ProfileErrors(errors: [ProfileError(file: path, line: nil, column: nil, key: "outputs",
                                                      message: "no readable outputs: section; nothing to put in a safe state")])
        }
        var reader = YAMLReader(file: path)
        var buses: [BusSpec] = []
        for (i, node) in reader.list(sections["buses"], "buses").enumerated() {
            if let bus = reader.bus(node, "buses[\(i)]") { buses.append(bus) }
        }
        var outputs: [OutputSpec] = []
        var ids: Set<String> = []
        for (i, node) in reader.list(outputsNode, "outputs").enumerated() {
            if let output = reader.output(node, "outputs[\(i)]", buses: buses), ids.insert(output.id).inserted { outputs.append(output) }
        }
        return ProfileOutputs(buses: buses, outputs: outputs, problems: reader.errors)
    }

    /// Each unindented `key:` line starts a section that runs to the next one.
    static func topLevelSections(_ text: String) -> [(key: String, lineIndex: Int, body: String)] {
        var sections: [(key: String, lineIndex: Int, lines: [Substring])] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if let first = line.first, first.isLetter || first == "_", let colon = line.firstIndex(of: ":") {
                let key = line[..<colon].trimmingCharacters(in: .whitespaces)
                if key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) {
                    sections.append((key, index, [line]))
                    continue
                }
            }
            if !sections.isEmpty { sections[sections.count - 1].lines.append(line) }
        }
        return sections.map { ($0.key, $0.lineIndex, $0.lines.joined(separator: "\n")) }
    }
}
