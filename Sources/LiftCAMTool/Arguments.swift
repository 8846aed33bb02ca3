/// The one small argument parser every subcommand shares: `--name value`, `--name=value` and
/// `--flag`, with usage errors (exit 2) for unknown options and missing values.
struct OptionSpec {
    let name: String          // without the leading "--"
    let valueName: String?    // nil for a flag
    let help: String
    var required = false
}

/// What a subcommand accepts, and the text of its `--help`.
struct CommandSpec {
    let name: String
    let summary: String
    let options: [OptionSpec]
    let example: String
    /// How the usage line names the arguments without "--" (e.g. "FILE.json..."); nil when the
    /// command takes none.
    var positionals: String? = nil

    var usageLine: String {
        let parts = options.map { option -> String in
            let text = "--\(option.name)" + (option.valueName.map { " \($0)" } ?? "")
            return option.required ? text : "[\(text)]"
        }
        return "usage: liftcam \(name) " + ((positionals.map { [$0] } ?? []) + parts).joined(separator: " ")
    }

    var help: String {
        var lines = ["liftcam \(name): \(summary)", "", usageLine, "", "options:"]
        let width = options.map { $0.name.count + ($0.valueName?.count ?? -1) + 4 }.max() ?? 0
        for option in options {
            let label = "--\(option.name)" + (option.valueName.map { " \($0)" } ?? "")
            lines.append("  " + label.padding(to: width + 2) + option.help)
        }
        lines.append("  " + "--help".padding(to: width + 2) + "show this help")
        lines += ["", "example:", "  \(example)"]
        return lines.joined(separator: "\n")
    }
}

/// The outcome of a failed command: a usage error (exit 2) shows the usage line; a failure (exit 1)
/// is one line about the input.
enum ToolError: Error {
    case usage(String)
    case failure(String)
}

/// Parsed options of one command.
struct ParsedArguments {
    var values: [String: String] = [:]
    var flags: Set<String> = []
    /// The arguments without "--", in order (only for commands whose spec has `positionals`).
    var positionals: [String] = []
    var helpRequested = false

    func value(_ name: String) -> String? { values[name] }
    func flag(_ name: String) -> Bool { flags.contains(name) }

    /// The value of a required option (the parser has already checked it is there).
    func required(_ name: String) -> String { values[name]! }

    func int(_ name: String, default fallback: Int, minimum: Int = Int.min) throws -> Int {
        guard let text = values[name] else { return fallback }
        guard let number = Int(text), number >= minimum else {
            throw ToolError.usage("--\(name) must be an integer\(minimum > Int.min ? " ≥ \(minimum)" : ""), got '\(text)'")
        }
        return number
    }

    func seed(_ name: String = "seed") throws -> UInt64 {
        guard let text = values[name] else { return 0 }
        guard let number = UInt64(text) else { throw ToolError.usage("--\(name) must be a non-negative integer, got '\(text)'") }
        return number
    }
}

func parseArguments(_ arguments: [String], for spec: CommandSpec) throws -> ParsedArguments {
    var parsed = ParsedArguments()
    let byName = Dictionary(uniqueKeysWithValues: spec.options.map { ($0.name, $0) })
    var index = 0
    while index < arguments.count {
        let argument = arguments[index]
        index += 1
        if argument == "--help" || argument == "-h" {
            parsed.helpRequested = true
            return parsed
        }
        guard argument.hasPrefix("--") else {
            guard spec.positionals != nil else { throw ToolError.usage("unexpected argument '\(argument)'") }
            parsed.positionals.append(argument)
            continue
        }
        var name = String(argument.dropFirst(2))
        var inlineValue: String?
        if let equals = name.firstIndex(of: "=") {
            inlineValue = String(name[name.index(after: equals)...])
            name = String(name[..<equals])
        }
        guard let option = byName[name] else {
            throw ToolError.usage("unknown option '--\(name)'")
        }
        if option.valueName == nil {
            guard inlineValue == nil else { throw ToolError.usage("--\(name) takes no value") }
            parsed.flags.insert(name)
            continue
        }
        if let inlineValue {
            parsed.values[name] = inlineValue
        } else {
            guard index < arguments.count, !(arguments[index].hasPrefix("--") && arguments[index].count > 2) else {
                throw ToolError.usage("--\(name) needs a value (\(option.valueName!))")
            }
            parsed.values[name] = arguments[index]
            index += 1
        }
    }
    for option in spec.options where option.required && parsed.values[option.name] == nil {
        throw ToolError.usage("missing --\(option.name) \(option.valueName ?? "")")
    }
    return parsed
}

extension String {
    func padding(to width: Int) -> String {
        count >= width ? self + " " : self + String(repeating: " ", count: width - count)
    }
}
