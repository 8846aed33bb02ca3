// Reading and writing whole files with the C library only (the library target does not import
// Foundation). Every failure becomes a one-line `LiftCAMError.file(path, problem)`.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch

/// The whole file as bytes.
///
/// Throws `LiftCAMError.file(path, "no such file")`, `"is a directory"` or `"cannot read: <strerror>"`.
public func readFileBytes(_ path: String) throws -> [UInt8] {
    let file = try ReadableFile(path)
    return try file.readToEnd()
}

/// Writes `bytes` so that `path` holds either its old content or all of the new, never a part.
///
/// The bytes go to `"<path>.tmp-<pid>-<counter>"` in the same directory (so the rename stays on one
/// file system), are flushed with fsync, and the temporary then replaces `path` with rename(2), which
/// is atomic. On any failure the temporary is removed and `path` is left as it was. A symbolic
/// link at `path` is replaced by the new file, not written through.
public func writeFileAtomically(_ path: String, bytes: [UInt8]) throws {
    if isDirectory(path) { throw LiftCAMError.file(path, "is a directory") }
    var fd: Int32 = -1
    var temporary = ""
    // O_EXCL: a leftover temporary of a crashed process with a reused pid is never written through.
    for _ in 0..<100 {
        temporary = "\(path).tmp-\(getpid())-\(temporaryFileCounter.next())"
        fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if fd >= 0 || errno != EEXIST { break }
    }
    if fd < 0 { throw LiftCAMError.file(path, "cannot create file: \(lastErrorText())") }

    func failure(_ what: String) -> LiftCAMError {
        let error = LiftCAMError.file(path, "\(what): \(lastErrorText())")
        unlink(temporary)
        return error
    }
    let written = bytes.withUnsafeBytes { writeAll(fd, $0) }
    if !written {
        let error = failure("cannot write")
        close(fd)
        throw error
    }
    if fsync(fd) != 0 {
        let error = failure("cannot flush to disk")
        close(fd)
        throw error
    }
    if close(fd) != 0 { throw failure("cannot close") }
    if rename(temporary, path) != 0 { throw failure("cannot replace") }
    syncDirectory(containing: path)
}

/// Writes `text` as UTF-8, atomically (see `writeFileAtomically(_:bytes:)`).
public func writeFileAtomically(_ path: String, text: String) throws {
    try writeFileAtomically(path, bytes: Array(text.utf8))
}

/// Whether anything (file, directory, ...) exists at `path`, following symbolic links.
public func fileExists(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0
}

/// Whether `path` is a directory (or a symbolic link to one).
public func isDirectory(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
}

/// The names in a directory, sorted by their bytes, without "." and "..".
public func listDirectory(_ path: String) throws -> [String] {
    guard let directory = opendir(path) else {
        let problem = errno == ENOENT ? "no such directory"
            : errno == ENOTDIR ? "is not a directory" : "cannot list: \(lastErrorText())"
        throw LiftCAMError.file(path, problem)
    }
    defer { closedir(directory) }
    var names: [String] = []
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        if name != "." && name != ".." { names.append(name) }
    }
    // Byte order (not locale order), so listings are the same on every machine.
    return names.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
}

/// Creates `path` and any missing parents, like `mkdir -p`; an existing directory is fine.
public func makeDirectory(_ path: String) throws {
    if isDirectory(path) { return }
    if fileExists(path) { throw LiftCAMError.file(path, "exists and is not a directory") }
    let parent = parentDirectory(of: path)
    if parent != path && !parent.isEmpty && !isDirectory(parent) { try makeDirectory(parent) }
    // EEXIST: another process may have created it between the check and here.
    if mkdir(path, 0o755) != 0 && !(errno == EEXIST && isDirectory(path)) {
        throw LiftCAMError.file(path, "cannot create directory: \(lastErrorText())")
    }
}

/// `directory/name`, without doubling a trailing slash.
func joinPath(_ directory: String, _ name: String) -> String {
    directory.hasSuffix("/") ? directory + name : directory + "/" + name
}

/// The path up to its last "/", "." for a bare name, "/" for a child of the root.
func parentDirectory(of path: String) -> String {
    var trimmed = Substring(path)
    while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
    guard let slash = trimmed.lastIndex(of: "/") else { return "." }
    if slash == trimmed.startIndex { return "/" }
    return String(trimmed[..<slash])
}

/// The C library's text for the current `errno`.
func lastErrorText() -> String {
    String(cString: strerror(errno))
}

/// `text` with control characters shown as "?", so that strings taken from damaged input (a key
/// in an NPY header, an escaped "\n" in a JSON key) cannot break an error message over lines:
/// C0 and C1 controls (NEL, U+0085, among them) and the Unicode line and paragraph separators
/// U+2028 and U+2029, which some terminals and log readers also break lines at.
public func oneLine(_ text: some StringProtocol) -> String {
    String(String.UnicodeScalarView(text.unicodeScalars.map { scalar in
        let value = scalar.value
        return value < 0x20 || (0x7F...0x9F).contains(value) || value == 0x2028 || value == 0x2029 ? "?" : scalar
    }))
}

/// An open file descriptor for reading, closed when the value goes away (also on a thrown error).
final class ReadableFile {
    let path: String
    let descriptor: Int32
    /// The size fstat reported when the file was opened.
    let size: Int

    init(_ path: String) throws {
        self.path = path
        descriptor = open(path, O_RDONLY | O_CLOEXEC)
        if descriptor < 0 {
            throw LiftCAMError.file(path, errno == ENOENT ? "no such file" : "cannot read: \(lastErrorText())")
        }
        var info = stat()
        if fstat(descriptor, &info) != 0 {
            let error = LiftCAMError.file(path, "cannot read: \(lastErrorText())")
            close(descriptor)
            throw error
        }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            close(descriptor)
            throw LiftCAMError.file(path, "is a directory")
        }
        size = Int(info.st_size)
    }

    deinit { close(descriptor) }

    /// Reads until `buffer` is full or the file ends; returns the number of bytes read.
    func fill(_ buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard let base = buffer.baseAddress else { return 0 }
        var filled = 0
        while filled < buffer.count {
            let n = read(descriptor, base + filled, buffer.count - filled)
            if n < 0 {
                if errno == EINTR { continue }
                throw LiftCAMError.file(path, "cannot read: \(lastErrorText())")
            }
            if n == 0 { break }
            filled += n
        }
        return filled
    }

    /// Reads exactly `count` bytes or throws "cannot read: the file ended early".
    func readExactly(_ count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let got = try bytes.withUnsafeMutableBytes { try fill($0) }
        if got != count { throw LiftCAMError.file(path, "cannot read: the file ended early") }
        return bytes
    }

    /// Everything from the current position to the end of the file.
    func readToEnd() throws -> [UInt8] {
        // One read of the size fstat gave (plus one byte to see the end); files that grew meanwhile,
        // or report no size (pipes, /proc), continue in chunks.
        var bytes = [UInt8](repeating: 0, count: size + 1)
        var filled = try bytes.withUnsafeMutableBytes { try fill($0) }
        while filled == bytes.count {
            bytes.append(contentsOf: repeatElement(0, count: max(65536, bytes.count)))
            let start = filled
            let got = try bytes.withUnsafeMutableBytes {
                try fill(UnsafeMutableRawBufferPointer(rebasing: $0[start...]))
            }
            filled += got
        }
        bytes.removeLast(bytes.count - filled)
        return bytes
    }
}

/// Writes all of `bytes`, retrying short writes and interruptions; false on an error (errno set).
private func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
    guard let base = bytes.baseAddress else { return true }
    var done = 0
    while done < bytes.count {
        let n = write(fd, base + done, bytes.count - done)
        if n < 0 {
            if errno == EINTR { continue }
            return false
        }
        done += n
    }
    return true
}

/// Flushes the directory entry of a rename, so the new name survives a power loss. Best effort:
/// some file systems refuse fsync on directories, and the data itself is already on disk.
private func syncDirectory(containing path: String) {
    let fd = open(parentDirectory(of: path), O_RDONLY | O_CLOEXEC)
    if fd >= 0 {
        _ = fsync(fd)
        close(fd)
    }
}

/// The counter in temporary names, so two threads of one process never pick the same name.
private final class TemporaryFileCounter: @unchecked Sendable {
    // `value` is only touched on `queue`, which is what makes the `@unchecked` promise true.
    private var value = 0
    private let queue = DispatchQueue(label: "LiftCAM.temporaryFileCounter")

    func next() -> Int {
        queue.sync {
            value += 1
            return value
        }
    }
}

private let temporaryFileCounter = TemporaryFileCounter()
