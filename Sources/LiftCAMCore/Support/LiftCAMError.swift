/// Every error the library reports for bad input. Each prints as one line that names the file (or
/// the argument) and the problem, which the command-line tool shows before exiting with status 1.
public struct LiftCAMError: Error, CustomStringConvertible, Equatable, Sendable {
    /// One line: "<where>: <what is wrong>".
    public let description: String

    /// An error with this one-line message.
    public init(_ description: String) { self.description = description }

    /// An error about a file: "path: problem".
    public static func file(_ path: String, _ problem: String) -> LiftCAMError {
        LiftCAMError("\(path): \(problem)")
    }
}
