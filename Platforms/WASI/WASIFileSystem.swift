import LiftCAMCore

// The core's `FileSystem` over WASI: every path is resolved against the directories the host
// granted (`wasmkit run --dir DIR`), which WASI calls "preopens". A relative path goes to the
// directory granted as "."; an absolute one to the granted directory it lies in.

/// A directory the host granted: its descriptor and the name the program sees it under.
struct Preopen {
    let descriptor: Int32
    let name: String
}

/// A file opened for reading through WASI.
final class WASIFile: ReadableFile {
    let path: String
    let descriptor: Int32
    let size: Int

    init(path: String, descriptor: Int32, size: Int) {
        self.path = path
        self.descriptor = descriptor
        self.size = size
    }

    deinit { _ = wasiFdClose(descriptor) }

    func fill(_ buffer: UnsafeMutableRawBufferPointer) throws(LiftCAMError) -> Int {
        var filled = 0
        while filled < buffer.count {
            var vector: (UInt32, UInt32) = (UInt32(UInt(bitPattern: buffer.baseAddress! + filled)), UInt32(buffer.count - filled))
            var read: UInt32 = 0
            let errno = withUnsafePointer(to: &vector) { wasiFdRead(descriptor, UnsafeRawPointer($0), 1, &read) }
            if errno != WASIErrno.success { throw LiftCAMError.file(path, "cannot read: \(WASIErrno.text(errno))") }
            if read == 0 { break }
            filled += Int(read)
        }
        return filled
    }
}

struct WASIFileSystem: FileSystem {
    let preopens: [Preopen]

    /// The directories granted to this program, read once at start-up.
    init() {
        var found: [Preopen] = []
        var descriptor: Int32 = 3   // 0, 1 and 2 are the standard streams
        while true {
            var prestat: (UInt32, UInt32) = (0, 0)   // tag (0: directory), length of the name
            let errno = withUnsafeMutablePointer(to: &prestat) { wasiFdPrestatGet(descriptor, UnsafeMutableRawPointer($0)) }
            if errno != WASIErrno.success { break }
            if prestat.0 & 0xFF == 0 {
                var name = [UInt8](repeating: 0, count: Int(prestat.1))
                _ = name.withUnsafeMutableBufferPointer { wasiFdPrestatDirName(descriptor, $0.baseAddress!, prestat.1) }
                while name.last == 0 { name.removeLast() }
                found.append(Preopen(descriptor: descriptor, name: String(decoding: name, as: UTF8.self)))
            }
            descriptor += 1
        }
        preopens = found
    }

    /// The granted directory `path` lies in and the path relative to it, or nil.
    func resolve(_ path: String) -> (descriptor: Int32, relative: String)? {
        var bytes = Array(path.utf8)
        let slash = UInt8(ascii: "/"), dot = UInt8(ascii: ".")
        while bytes.count > 2 && bytes[0] == dot && bytes[1] == slash { bytes.removeFirst(2) }
        var best: (descriptor: Int32, relative: [UInt8], length: Int)?
        for preopen in preopens {
            var name = Array(preopen.name.utf8)
            while name.count > 1 && name.last == slash { name.removeLast() }
            let isCurrent = name == [dot] || name == [dot, slash] || name.isEmpty
            if isCurrent {
                guard bytes.first != slash, best == nil else { continue }
                best = (preopen.descriptor, bytes, 0)
            } else if bytes.starts(with: name) && (bytes.count == name.count || bytes[name.count] == slash || name == [slash]) {
                guard name.count > best?.length ?? -1 else { continue }
                var rest = Array(bytes[name.count...])
                while rest.first == slash { rest.removeFirst() }
                best = (preopen.descriptor, rest, name.count)
            }
        }
        guard let best else { return nil }
        return (best.descriptor, best.relative.isEmpty ? "." : String(decoding: best.relative, as: UTF8.self))
    }

    private func located(_ path: String) throws(LiftCAMError) -> (descriptor: Int32, relative: String) {
        guard let location = resolve(path) else {
            throw LiftCAMError.file(path, "cannot read: not inside a directory granted with --dir")
        }
        return location
    }

    /// What a descriptor is opened for: its open flags (1 create, 2 directory, 8 truncate) and the
    /// WASI rights it asks for (a runtime refuses a directory opened with the right to write).
    private enum Purpose {
        case reading, listing, writing

        var openFlags: UInt16 { self == .listing ? 2 : self == .writing ? 1 | 8 : 0 }
        var rights: UInt64 {
            switch self {
            case .reading: return 1 << 1 | 1 << 2 | 1 << 5 | 1 << 21          // read, seek, tell, filestat
            case .listing: return 1 << 14 | 1 << 21                           // readdir, filestat
            case .writing: return 1 << 6 | 1 << 4 | 1 << 0 | 1 << 21          // write, sync, datasync, filestat
            }
        }
    }

    /// path_open of `path` for `purpose`.
    private func open(_ path: String, for purpose: Purpose) -> (descriptor: Int32, errno: UInt16) {
        guard let (directory, relative) = resolve(path) else { return (-1, WASIErrno.notCapable) }
        var relativeText = relative
        var opened: Int32 = -1
        let errno = relativeText.withUTF8 { name in
            wasiPathOpen(directory, 1, name.baseAddress!, UInt32(name.count), purpose.openFlags, purpose.rights, 0, 0, &opened)
        }
        return (opened, errno)
    }

    /// The filestat of `path` (following symbolic links), or the errno.
    private func status(_ path: String) -> (fileType: UInt8, size: UInt64, errno: UInt16) {
        guard let (directory, relative) = resolve(path) else { return (0, 0, WASIErrno.notCapable) }
        var relativeText = relative
        var stat = [UInt8](repeating: 0, count: 64)
        let errno = relativeText.withUTF8 { name in
            stat.withUnsafeMutableBytes { wasiPathFilestatGet(directory, 1, name.baseAddress!, UInt32(name.count), $0.baseAddress!) }
        }
        let size = stat.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 32, as: UInt64.self) }
        return (stat[16], size, errno)
    }

    func openForReading(_ path: String) throws(LiftCAMError) -> WASIFile {
        _ = try located(path)
        let info = status(path)
        if info.errno == WASIErrno.noEntry { throw LiftCAMError.file(path, "no such file") }
        if info.errno != WASIErrno.success { throw LiftCAMError.file(path, "cannot read: \(WASIErrno.text(info.errno))") }
        if info.fileType == 3 { throw LiftCAMError.file(path, "is a directory") }
        let (descriptor, errno) = open(path, for: .reading)
        if errno != WASIErrno.success { throw LiftCAMError.file(path, "cannot read: \(WASIErrno.text(errno))") }
        return WASIFile(path: path, descriptor: descriptor, size: Int(info.size))
    }

    func kind(of path: String) -> PathKind {
        let info = status(path)
        guard info.errno == WASIErrno.success else { return .missing }
        return info.fileType == 3 ? .directory : .file
    }

    func namesInDirectory(_ path: String) throws(LiftCAMError) -> [String] {
        let (descriptor, errno) = open(path, for: .listing)
        if errno != WASIErrno.success {
            let problem = errno == WASIErrno.noEntry ? "no such directory"
                : errno == WASIErrno.notDirectory ? "is not a directory" : "cannot list: \(WASIErrno.text(errno))"
            throw LiftCAMError.file(path, problem)
        }
        defer { _ = wasiFdClose(descriptor) }
        var names: [String] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        var cookie: UInt64 = 0
        while true {
            var used: UInt32 = 0
            let errno = buffer.withUnsafeMutableBytes { wasiFdReaddir(descriptor, $0.baseAddress!, UInt32($0.count), cookie, &used) }
            if errno != WASIErrno.success { throw LiftCAMError.file(path, "cannot list: \(WASIErrno.text(errno))") }
            // Entries: next cookie (8 bytes), inode (8), name length (4), type (1), padding (3), name.
            var offset = 0, complete = 0
            while offset + 24 <= Int(used) {
                let (next, length) = buffer.withUnsafeBytes {
                    ($0.loadUnaligned(fromByteOffset: offset, as: UInt64.self), Int($0.loadUnaligned(fromByteOffset: offset + 16, as: UInt32.self)))
                }
                guard offset + 24 + length <= Int(used) else { break }
                let name = String(decoding: buffer[(offset + 24)..<(offset + 24 + length)], as: UTF8.self)
                if name != "." && name != ".." { names.append(name) }
                cookie = next
                offset += 24 + length
                complete += 1
            }
            if Int(used) < buffer.count { break }
            if complete == 0 { buffer = [UInt8](repeating: 0, count: buffer.count * 2) }  // one long name
        }
        return names
    }

    /// Writes `bytes` to a temporary name in the same directory and renames it over `path`. A host
    /// without path_rename (wasmkit 0.1.6 answers "not supported") gets the bytes written in place,
    /// and a failed write removes the file: never a half-written one, though then not the old one.
    func writeAtomically(_ path: String, bytes: [UInt8]) throws(LiftCAMError) {
        guard let (directory, relative) = resolve(path) else {
            throw LiftCAMError.file(path, "cannot create file: not inside a directory granted with --dir")
        }
        if kind(of: path) == .directory { throw LiftCAMError.file(path, "is a directory") }
        let temporary = path + ".tmp-wasm"
        try writeWhole(temporary, bytes: bytes, reportedAs: path)
        var from = resolve(temporary)!.relative, to = relative
        let renamed = from.withUTF8 { old in
            to.withUTF8 { new in
                wasiPathRename(directory, old.baseAddress!, UInt32(old.count), directory, new.baseAddress!, UInt32(new.count))
            }
        }
        if renamed == WASIErrno.success { return }
        remove(temporary)
        guard renamed == WASIErrno.notSupported else {
            throw LiftCAMError.file(path, "cannot replace: \(WASIErrno.text(renamed))")
        }
        try writeWhole(path, bytes: bytes, reportedAs: path)
    }

    /// Creates or truncates `path` and writes all of `bytes`; on failure the file is removed.
    private func writeWhole(_ path: String, bytes: [UInt8], reportedAs name: String) throws(LiftCAMError) {
        let (descriptor, opened) = open(path, for: .writing)
        if opened != WASIErrno.success { throw LiftCAMError.file(name, "cannot create file: \(WASIErrno.text(opened))") }
        let written = bytes.withUnsafeBytes { writeAll(descriptor, $0) }
        // Flushing is best effort: a host may not support fd_sync either.
        if written == WASIErrno.success { _ = wasiFdSync(descriptor) }
        _ = wasiFdClose(descriptor)
        if written != WASIErrno.success {
            remove(path)
            throw LiftCAMError.file(name, "cannot write: \(WASIErrno.text(written))")
        }
    }

    private func remove(_ path: String) {
        guard let (directory, relative) = resolve(path) else { return }
        var name = relative
        _ = name.withUTF8 { wasiPathUnlinkFile(directory, $0.baseAddress!, UInt32($0.count)) }
    }
}
