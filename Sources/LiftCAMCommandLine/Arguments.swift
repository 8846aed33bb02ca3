import LiftCAMCore

/// The one small argument parser every subcommand shares: `--name value`, `--name=value` and
/// `--flag`, with usage errors (exit 2) for unknown options and missing values.
public struct OptionSpec: Sendable {
    public let name: String          // without the leading "--"
    public let valueName: String?    // nil for a flag
    public let help: String
    public var required = false

    public init(name: String, valueName: String?, help: String, required: Bool = false) {
        self.name = name
        self.valueName = valueName
        self.help = help
        self.required = required
    }
}

/// What a subcommand accepts, and the text of its `--help`.
public struct CommandSpec: Sendable {
    public let name: String
    public let summary: String
    public let options: [OptionSpec]
    public let example: String
    /// How the usage line names the arguments without "--" (e.g. "FILE.json..."); nil when the
    /// command takes none.
    public var positionals: String? = nil

    public init(name: String, summary: String, options: [OptionSpec], example: String, positionals: String? = nil) {
        self.name = name
        self.summary = summary
        self.options = options
        self.example = example
        self.positionals = positionals
    }

    public var usageLine: String {
        let parts = options.map { option -> String in
            let text = "--\(option.name)" + (option.valueName.map { " \($0)" } ?? "")
            return option.required ? text : "[\(text)]"
        }
        return "usage: liftcam \(name) " + ((positionals.map { [$0] } ?? []) + parts).joined(separator: " ")
    }

    public var help: String {
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
public enum ToolError: Error {
    case usage(String)
    case failure(String)

    /// A library error as a failure (exit 1): its one line is the message.
    public init(_ error: LiftCAMError) { self = .failure(error.description) }
}

/// Runs `body`, turning a library error into a failure of the command.
@inlinable
public func failing<T>(_ body: () throws(LiftCAMError) -> T) throws(ToolError) -> T {
    do throws(LiftCAMError) {
        return try body()
    } catch {
        throw ToolError(error)
    }
}

/// Parsed options of one command.
public struct ParsedArguments {
    public var values: [String: String] = [:]
    public var flags: Set<String> = []
    /// The arguments without "--", in order (only for commands whose spec has `positionals`).
    public var positionals: [String] = []
    public var helpRequested = false

    public init() {}

    public func value(_ name: String) -> String? { values[name] }
    public func flag(_ name: String) -> Bool { flags.contains(name) }

    /// The value of a required option (the parser has already checked it is there).
    public func required(_ name: String) -> String { values[name]! }

    public func int(_ name: String, default fallback: Int, minimum: Int = Int.min) throws(ToolError) -> Int {
        guard let text = values[name] else { return fallback }
        guard let number = Int(text), number >= minimum else {
            throw ToolError.usage("--\(name) must be an integer\(minimum > Int.min ? " ≥ \(minimum)" : ""), got '\(text)'")
        }
        return number
    }

    public func seed(_ name: String = "seed") throws(ToolError) -> UInt64 {
        guard let text = values[name] else { return 0 }
        guard let number = UInt64(text) else { throw ToolError.usage("--\(name) must be a non-negative integer, got '\(text)'") }
        return number
    }
}

public func parseArguments(_ arguments: [String], for spec: CommandSpec) throws(ToolError) -> ParsedArguments {
    var parsed = ParsedArguments()
    var byName: [String: OptionSpec] = [:]
    for option in spec.options { byName[option.name] = option }
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
    public func padding(to width: Int) -> String {
        count >= width ? self + " " : self + String(repeating: " ", count: width - count)
    }
}
