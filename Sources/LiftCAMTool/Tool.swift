/// The `liftcam` command-line tool, as a library so tests can run it in-process.
public enum Tool {
    /// Runs the tool on `arguments` (without the program name) and returns the exit status:
    /// 0 success, 1 failure (bad input), 2 usage error.
    public static func run(_ arguments: [String]) -> Int32 {
        print("liftcam: no subcommands yet")
        return 2
    }
}
