// The core reads weights, architectures and inputs through a `FileSystem` the platform supplies:
// POSIX calls in the LiftCAM target, WASI calls in the WebAssembly build, anything on a board.
// Every failure is a one-line `LiftCAMError.file(path, problem)`, whichever platform it comes from.

/// What a path names.
public enum PathKind: Sendable {
    /// Nothing there; a regular file (or a link to one); a directory.
    case missing, file, directory
}

/// A file open for reading, closed when the value goes away.
public protocol ReadableFile: AnyObject {
    /// The path it was opened with, for error messages.
    var path: String { get }
    /// Its size in bytes when it was opened.
    var size: Int { get }
    /// Reads until `buffer` is full or the file ends; returns the number of bytes read.
    func fill(_ buffer: UnsafeMutableRawBufferPointer) throws(LiftCAMError) -> Int
}

extension ReadableFile {
    /// Exactly `count` bytes, or "cannot read: the file ended early".
    public func readExactly(_ count: Int) throws(LiftCAMError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let got = try fill(&bytes, from: 0)
        if got != count { throw LiftCAMError.file(path, "cannot read: the file ended early") }
        return bytes
    }

    /// Everything from the current position to the end of the file.
    public func readToEnd() throws(LiftCAMError) -> [UInt8] {
        // One read of the size the file had when opened (plus one byte to see the end); a file that
        // grew meanwhile, or reports no size (pipes, /proc), continues in chunks.
        var bytes = [UInt8](repeating: 0, count: size + 1)
        var filled = try fill(&bytes, from: 0)
        while filled == bytes.count {
            bytes.append(contentsOf: repeatElement(0, count: max(65536, bytes.count)))
            filled += try fill(&bytes, from: filled)
        }
        bytes.removeLast(bytes.count - filled)
        return bytes
    }

    /// Fills `bytes[start...]` from the file; returns the number of bytes read.
    private func fill(_ bytes: inout [UInt8], from start: Int) throws(LiftCAMError) -> Int {
        // withUnsafeMutableBytes rethrows untyped errors, so the outcome crosses it as a value.
        var outcome: Result<Int, LiftCAMError> = .success(0)
        bytes.withUnsafeMutableBytes { all in
            do throws(LiftCAMError) {
                outcome = .success(try fill(UnsafeMutableRawBufferPointer(rebasing: all[start...])))
            } catch {
                outcome = .failure(error)
            }
        }
        return try outcome.get()
    }
}

/// The file operations the core needs. A new platform implements these four.
public protocol FileSystem {
    /// The platform's open file.
    associatedtype File: ReadableFile
    /// Opens a file for reading: "no such file", "is a directory" or "cannot read: <reason>".
    func openForReading(_ path: String) throws(LiftCAMError) -> File
    /// What `path` names, following symbolic links.
    func kind(of path: String) -> PathKind
    /// The names in a directory without "." and "..", in any order: "no such directory",
    /// "is not a directory" or "cannot list: <reason>".
    func namesInDirectory(_ path: String) throws(LiftCAMError) -> [String]
    /// Writes `bytes` so that `path` holds either its old content or all of the new, never a part.
    func writeAtomically(_ path: String, bytes: [UInt8]) throws(LiftCAMError)
}

extension FileSystem {
    /// The whole file as bytes.
    public func readFile(_ path: String) throws(LiftCAMError) -> [UInt8] {
        try openForReading(path).readToEnd()
    }

    /// The names in a directory, sorted by their bytes (not by locale), so listings are the same
    /// on every machine.
    public func listDirectory(_ path: String) throws(LiftCAMError) -> [String] {
        try namesInDirectory(path).sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
    }
}

/// `directory/name`, without doubling a trailing slash.
public func joinPath(_ directory: String, _ name: String) -> String {
    directory.utf8.last == UInt8(ascii: "/") ? directory + name : directory + "/" + name
}

/// The path up to its last "/", "." for a bare name, "/" for a child of the root.
public func parentDirectory(of path: String) -> String {
    var bytes = Array(path.utf8)
    let slash = UInt8(ascii: "/")
    while bytes.count > 1 && bytes.last == slash { bytes.removeLast() }
    guard let last = bytes.lastIndex(of: slash) else { return "." }
    if last == 0 { return "/" }
    return String(decoding: bytes[..<last], as: UTF8.self)
}

/// `text` with control characters shown as "?", so that strings taken from damaged input (a key
/// in an NPY header, an escaped "\n" in a JSON key) cannot break an error message over lines:
/// C0 and C1 controls (NEL, U+0085, among them) and the Unicode line and paragraph separators
/// U+2028 and U+2029, which some terminals and log readers also break lines at.
public func oneLine(_ text: some StringProtocol) -> String {
    var result = String.UnicodeScalarView()
    for scalar in text.unicodeScalars {
        let value = scalar.value
        let breaks = value < 0x20 || (0x7F...0x9F).contains(value) || value == 0x2028 || value == 0x2029
        result.append(breaks ? "?" : scalar)
    }
    return String(result)
}
