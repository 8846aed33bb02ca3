/// Files held in memory: for a board without a file system (its weights linked into the program),
/// and for tests. Paths are exact strings; a directory is any path some file lies under.
public final class MemoryFileSystem: FileSystem {
    /// The files by path ("models/tiny/weights/fc.weight.npy").
    public private(set) var files: [String: [UInt8]]

    /// A file system holding these files; directories are implied by the paths.
    public init(files: [String: [UInt8]] = [:]) { self.files = files }

    /// The files of an archive: a count, then per file the length of its path, the path, the
    /// length of its data and the data, all lengths 4-byte little-endian (what
    /// Scripts/pack_files.py writes, e.g. to link a fixture network into a firmware image).
    public convenience init(archive: UnsafeRawBufferPointer, name: String) throws(LiftCAMError) {
        var offset = 0
        func take(_ count: Int) throws(LiftCAMError) -> UnsafeRawBufferPointer {
            guard count >= 0, offset + count <= archive.count else {
                throw LiftCAMError.file(name, "the archive ends early (at byte \(offset) of \(archive.count))")
            }
            defer { offset += count }
            return UnsafeRawBufferPointer(rebasing: archive[offset..<(offset + count)])
        }
        func length() throws(LiftCAMError) -> Int {
            let bytes = try take(4)
            return Int(bytes[0]) | Int(bytes[1]) << 8 | Int(bytes[2]) << 16 | Int(bytes[3]) << 24
        }
        var files: [String: [UInt8]] = [:]
        for _ in 0..<(try length()) {
            let path = String(decoding: try take(try length()), as: UTF8.self)
            files[path] = Array(try take(try length()))
        }
        self.init(files: files)
    }

    public func openForReading(_ path: String) throws(LiftCAMError) -> MemoryFile {
        guard let bytes = files[path] else {
            throw LiftCAMError.file(path, kind(of: path) == .directory ? "is a directory" : "no such file")
        }
        return MemoryFile(path: path, bytes: bytes)
    }

    public func kind(of path: String) -> PathKind {
        if files[path] != nil { return .file }
        let prefix = Array(directoryPrefix(path).utf8)
        return files.keys.contains { Array($0.utf8).starts(with: prefix) } ? .directory : .missing
    }

    public func namesInDirectory(_ path: String) throws(LiftCAMError) -> [String] {
        if files[path] != nil { throw LiftCAMError.file(path, "is not a directory") }
        let prefix = Array(directoryPrefix(path).utf8)
        var names: [String] = []
        for key in files.keys {
            let bytes = Array(key.utf8)
            guard bytes.starts(with: prefix) else { continue }
            let rest = bytes[prefix.count...]
            let name = String(decoding: rest.prefix { $0 != UInt8(ascii: "/") }, as: UTF8.self)
            if !names.contains(name) { names.append(name) }
        }
        if names.isEmpty { throw LiftCAMError.file(path, "no such directory") }
        return names
    }

    public func writeAtomically(_ path: String, bytes: [UInt8]) throws(LiftCAMError) {
        if kind(of: path) == .directory { throw LiftCAMError.file(path, "is a directory") }
        files[path] = bytes
    }

    private func directoryPrefix(_ path: String) -> String {
        path.utf8.last == UInt8(ascii: "/") ? path : path + "/"
    }
}

/// A file of a `MemoryFileSystem`, read from the start.
public final class MemoryFile: ReadableFile {
    public let path: String
    private let bytes: [UInt8]
    private var position = 0

    init(path: String, bytes: [UInt8]) {
        self.path = path
        self.bytes = bytes
    }

    public var size: Int { bytes.count }

    public func fill(_ buffer: UnsafeMutableRawBufferPointer) throws(LiftCAMError) -> Int {
        let count = min(buffer.count, bytes.count - position)
        bytes.withUnsafeBytes { source in
            buffer.baseAddress?.copyMemory(from: source.baseAddress! + position, byteCount: count)
        }
        position += count
        return count
    }
}
