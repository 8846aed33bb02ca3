import LiftCAMCore

// `--method` as every command reads it. Parsing text from a command line is the tools' concern, so
// it lives here rather than beside `CAMMethod` in the core a library user links.

extension CAMMethod {
    /// Parses "all" or a comma-separated list ("lift,gradcam"); an unknown name is an error that
    /// lists the known ones.
    public static func parseList(_ text: String) throws(LiftCAMError) -> [CAMMethod] {
        if text == "all" { return allCases }
        var methods: [CAMMethod] = []
        for name in text.split(separator: ",", omittingEmptySubsequences: false) {
            let trimmed = String(name.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
            guard let method = CAMMethod(rawValue: trimmed) else {
                throw LiftCAMError("unknown method '\(trimmed)'; known: \(allCases.map { $0.rawValue }.joined(separator: ", ")), all")
            }
            if !methods.contains(method) { methods.append(method) }
        }
        return methods
    }
}
