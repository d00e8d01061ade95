/// Checks on YAML text before Yams composes it, and on the composed tree while it is read,
/// so a hostile file is an error instead of a crash or a hang: Yams builds nested
/// collections recursively (ten thousand `[` overflow the stack), and aliases share nodes,
/// so a few lines of `&a`/`*a` expand to billions of nodes when walked.
public enum YAMLGuard {
    /// Nesting deeper than any profile or config needs (a profile uses about six levels).
    public static let maxDepth = 64
    /// Values a reader visits; 40 000 sensors are about 160 000.
    public static let maxNodes = 500_000
    /// Errors reported from one file: the first ones are what to fix.
    public static let maxErrors = 200

    /// The first line whose nesting exceeds `maxDepth`, with a message, or nil.
    ///
    /// Block nesting is measured by each line's leading spaces and `- ` items; flow nesting by
    /// the `[`/`{` still open, skipping comments and quoted text. A quote is taken to end at
    /// its line's end at the latest: a profile never needs multi-line quoted text, and the
    /// count may then only come out too high (a refused file), never too low (a crash).
    public static func nestingProblem(_ text: String) -> (line: Int, message: String)? {
        let tooDeep = "nesting deeper than \(maxDepth) levels; a profile or config needs far fewer"
        var depth = 0
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let indent = line.prefix { $0 == " " || $0 == "-" || $0 == "\t" }.count
            if indent / 2 > maxDepth { return (index + 1, tooDeep) }
            var quote: Character?
            var previous: Character = " "
            // A quote opens a quoted scalar only where a scalar starts: `don't` is plain text.
            var lastNonSpace: Character = ":"
            var escaped = false
            for character in line {
                defer {
                    previous = character
                    if character != " " && character != "\t" { lastNonSpace = character }
                }
                if let open = quote {
                    if open == "\"", character == "\\", !escaped { escaped = true; continue }
                    if character == open, !escaped { quote = nil }
                    escaped = false
                    continue
                }
                switch character {
                case "'", "\"":
                    if ":-[{,?".contains(lastNonSpace) { quote = character }
                case "#" where previous == " " || previous == "\t": break
                case "[", "{":
                    depth += 1
                    if depth > maxDepth { return (index + 1, tooDeep) }
                case "]", "}": depth = max(0, depth - 1)
                default: continue
                }
                if character == "#" && (previous == " " || previous == "\t") { break }
            }
        }
        return nil
    }
}
