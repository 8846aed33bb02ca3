// The core's `FileSystem` on POSIX, with the C library only (the library target does not import
// Foundation), and the file functions the tool and tests call. Every failure becomes a one-line
// `LiftCAMError.file(path, problem)`.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch

/// Files through the C library's open/read/stat/readdir/rename.
public struct POSIXFileSystem: FileSystem {
    /// The process's own file system (it has no state).
    public init() {}

    public func openForReading(_ path: String) throws(LiftCAMError) -> POSIXFile {
        try POSIXFile(path)
    }

    public func kind(of path: String) -> PathKind {
        var info = stat()
        guard stat(path, &info) == 0 else { return .missing }
        return (info.st_mode & S_IFMT) == S_IFDIR ? .directory : .file
    }

    public func namesInDirectory(_ path: String) throws(LiftCAMError) -> [String] {
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
        return names
    }

    public func writeAtomically(_ path: String, bytes: [UInt8]) throws(LiftCAMError) {
        try writeFileAtomically(path, bytes: bytes)
    }
}

/// The whole file as bytes.
///
/// Throws `LiftCAMError.file(path, "no such file")`, `"is a directory"` or `"cannot read: <strerror>"`.
public func readFileBytes(_ path: String) throws(LiftCAMError) -> [UInt8] {
    try POSIXFileSystem().readFile(path)
}

/// Writes `bytes` so that `path` holds either its old content or all of the new, never a part.
///
/// The bytes go to `"<path>.tmp-<pid>-<counter>"` in the same directory (so the rename stays on one
/// file system), are flushed with fsync, and the temporary then replaces `path` with rename(2), which
/// is atomic. On any failure the temporary is removed and `path` is left as it was. A symbolic
/// link at `path` is replaced by the new file, not written through.
public func writeFileAtomically(_ path: String, bytes: [UInt8]) throws(LiftCAMError) {
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
public func writeFileAtomically(_ path: String, text: String) throws(LiftCAMError) {
    try writeFileAtomically(path, bytes: Array(text.utf8))
}

/// Whether anything (file, directory, ...) exists at `path`, following symbolic links.
public func fileExists(_ path: String) -> Bool {
    POSIXFileSystem().kind(of: path) != .missing
}

/// Whether `path` is a directory (or a symbolic link to one).
public func isDirectory(_ path: String) -> Bool {
    POSIXFileSystem().kind(of: path) == .directory
}

/// The names in a directory, sorted by their bytes, without "." and "..".
public func listDirectory(_ path: String) throws(LiftCAMError) -> [String] {
    try POSIXFileSystem().listDirectory(path)
}

/// Creates `path` and any missing parents, like `mkdir -p`; an existing directory is fine.
public func makeDirectory(_ path: String) throws(LiftCAMError) {
    if isDirectory(path) { return }
    if fileExists(path) { throw LiftCAMError.file(path, "exists and is not a directory") }
    let parent = parentDirectory(of: path)
    if parent != path && !parent.isEmpty && !isDirectory(parent) { try makeDirectory(parent) }
    // EEXIST: another process may have created it between the check and here.
    if mkdir(path, 0o755) != 0 && !(errno == EEXIST && isDirectory(path)) {
        throw LiftCAMError.file(path, "cannot create directory: \(lastErrorText())")
    }
}

/// The C library's text for the current `errno`.
func lastErrorText() -> String {
    String(cString: strerror(errno))
}

/// An open file descriptor for reading, closed when the value goes away (also on a thrown error).
public final class POSIXFile: ReadableFile {
    public let path: String
    let descriptor: Int32
    /// The size fstat reported when the file was opened.
    public let size: Int

    init(_ path: String) throws(LiftCAMError) {
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
    public func fill(_ buffer: UnsafeMutableRawBufferPointer) throws(LiftCAMError) -> Int {
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
