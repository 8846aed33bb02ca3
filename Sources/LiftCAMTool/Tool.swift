import LiftCAM
import LiftCAMCommandLine

/// The `liftcam` command-line tool, as a library so tests can run it in-process.
public enum Tool {
    /// A subcommand: its options and what it does.
    struct Command {
        let spec: CommandSpec
        let run: (ParsedArguments, Console) throws -> Void
    }

    static let commands: [Command] = [
        Command(spec: ForwardCommand.spec, run: ForwardCommand.run),
        Command(spec: ExplainCommand.spec, run: ExplainCommand.run),
        Command(spec: EvaluateCommand.spec, run: EvaluateCommand.run),
        Command(spec: MergeCommand.spec, run: MergeCommand.run),
        Command(spec: DemoCommand.spec, run: DemoCommand.run),
        Command(spec: BenchCommand.spec, run: BenchCommand.run),
    ]

    /// Runs the tool on `arguments` (without the program name) and returns the exit status:
    /// 0 success, 1 failure (bad input), 2 usage error.
    public static func run(_ arguments: [String]) -> Int32 {
        run(arguments, console: .standard)
    }

    /// Runs the tool with its output captured, for tests and embedding: `standardOutput` and
    /// `standardError` receive the text (lines end in "\n"); progress is plain lines.
    public static func run(_ arguments: [String], standardOutput: @escaping (String) -> Void,
                           standardError: @escaping (String) -> Void) -> Int32 {
        run(arguments, console: Console(out: standardOutput, error: standardError, errorIsTerminal: false))
    }

    static func run(_ arguments: [String], console: Console) -> Int32 {
        usePlatformServices()
        guard let name = arguments.first, !["--help", "-h", "help"].contains(name) else {
            console.print(overview)
            return arguments.isEmpty ? 2 : 0
        }
        guard let command = commands.first(where: { $0.spec.name == name }) else {
            console.printError("liftcam: unknown subcommand '\(name)'\n\n\(overview)")
            return 2
        }
        do {
            let parsed = try parseArguments(Array(arguments.dropFirst()), for: command.spec)
            if parsed.helpRequested {
                console.print(command.spec.help)
                return 0
            }
            try command.run(parsed, console)
            return 0
        } catch ToolError.usage(let message) {
            console.printError("liftcam \(name): \(message)\n\(command.spec.usageLine)\n(see 'liftcam \(name) --help')")
            return 2
        } catch ToolError.failure(let message) {
            console.printError("liftcam \(name): \(message)")
            return 1
        } catch {
            console.printError("liftcam \(name): \(error)")
            return 1
        }
    }

    static var overview: String {
        var lines = ["liftcam: LIFT-CAM and the CAM methods it is compared with (Jung & Oh, ICCV 2021)", "",
                     "usage: liftcam <subcommand> [options]", "", "subcommands:"]
        for command in commands {
            lines.append("  " + command.spec.name.padding(to: 10) + command.spec.summary)
        }
        lines += ["", "'liftcam <subcommand> --help' shows its options and an example."]
        return lines.joined(separator: "\n")
    }
}
