// The WASI preview-1 calls the WebAssembly build makes, declared for Embedded Swift. Each returns
// a WASI errno (0 for success). Pointers are 32-bit offsets into the module's memory.

@_extern(wasm, module: "wasi_snapshot_preview1", name: "args_sizes_get") @_extern(c)
func wasiArgsSizesGet(_ count: UnsafeMutablePointer<UInt32>, _ bufferSize: UnsafeMutablePointer<UInt32>) -> UInt16

@_extern(wasm, module: "wasi_snapshot_preview1", name: "args_get") @_extern(c)
func wasiArgsGet(_ argv: UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>, _ buffer: UnsafeMutablePointer<UInt8>) -> UInt16

@_extern(wasm, module: "wasi_snapshot_preview1", name: "proc_exit") @_extern(c)
func wasiProcExit(_ code: UInt32)

@_extern(wasm, module: "wasi_snapshot_preview1", name: "fd_write") @_extern(c)
func wasiFdWrite(_ fd: Int32, _ iovs: UnsafeRawPointer, _ iovsCount: UInt32, _ written: UnsafeMutablePointer<UInt32>) -> UInt16

@_extern(wasm, module: "wasi_snapshot_preview1", name: "fd_read") @_extern(c)
func wasiFdRead(_ fd: Int32, _ iovs: UnsafeRawPointer, _ iovsCount: UInt32, _ read: UnsafeMutablePointer<UInt32>) -> UInt16

@_extern(wasm, module: "wasi_snapshot_preview1", name: "fd_close") @_extern(c)
func wasiFdClose(_ fd: Int32) -> UInt16

@_extern(wasm, module: "wasi_snapshot_preview1", name: "fd_sync") @_extern(c)
func wasiFdSync(_ fd: Int32) -> UInt16

@_extern(wasm, module: "wasi_snapshot_preview1", name: "fd_filestat_get") @_extern(c)
func wasiFdFilestatGet(_ fd: Int32, _ stat: UnsafeMutableRawPointer) -> UInt16

@_extern(wasm, module: "wasi_snapshot_preview1", name: "fd_readdir") @_extern(c)
func wasiFdReaddir(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ length: UInt32, _ cookie: UInt64,
                   _ used: UnsafeMutablePointer<UInt32>) -> UInt16

@_extern(wasm, module: "wasi_snapshot_preview1", name: "fd_prestat_get") @_extern(c)
func wasiFdPrestatGet(_ fd: Int32, _ prestat: UnsafeMutableRawPointer) -> UInt16

@_extern(wasm, module: "wasi_snapshot_preview1", name: "fd_prestat_dir_name") @_extern(c)
func wasiFdPrestatDirName(_ fd: Int32, _ path: UnsafeMutablePointer<UInt8>, _ length: UInt32) -> UInt16

@_extern(wasm, module: "wasi_snapshot_preview1", name: "path_open") @_extern(c)
func wasiPathOpen(_ directory: Int32, _ lookupFlags: UInt32, _ path: UnsafePointer<UInt8>, _ pathLength: UInt32,
                  _ openFlags: UInt16, _ rightsBase: UInt64, _ rightsInheriting: UInt64, _ fdFlags: UInt16,
                  _ opened: UnsafeMutablePointer<Int32>) -> UInt16

@_extern(wasm, module: "wasi_snapshot_preview1", name: "path_filestat_get") @_extern(c)
func wasiPathFilestatGet(_ directory: Int32, _ lookupFlags: UInt32, _ path: UnsafePointer<UInt8>, _ pathLength: UInt32,
                         _ stat: UnsafeMutableRawPointer) -> UInt16

@_extern(wasm, module: "wasi_snapshot_preview1", name: "path_rename") @_extern(c)
func wasiPathRename(_ directory: Int32, _ old: UnsafePointer<UInt8>, _ oldLength: UInt32,
                    _ newDirectory: Int32, _ new: UnsafePointer<UInt8>, _ newLength: UInt32) -> UInt16

@_extern(wasm, module: "wasi_snapshot_preview1", name: "path_unlink_file") @_extern(c)
func wasiPathUnlinkFile(_ directory: Int32, _ path: UnsafePointer<UInt8>, _ pathLength: UInt32) -> UInt16

@_extern(wasm, module: "wasi_snapshot_preview1", name: "clock_time_get") @_extern(c)
func wasiClockTimeGet(_ clock: UInt32, _ precision: UInt64, _ time: UnsafeMutablePointer<UInt64>) -> UInt16

@_extern(wasm, module: "wasi_snapshot_preview1", name: "random_get") @_extern(c)
func wasiRandomGet(_ buffer: UnsafeMutableRawPointer, _ length: UInt32) -> UInt16

/// WASI's errno values the messages distinguish.
enum WASIErrno {
    static let success: UInt16 = 0
    static let access: UInt16 = 2
    static let badDescriptor: UInt16 = 8
    static let exists: UInt16 = 20
    static let isDirectory: UInt16 = 31
    static let noEntry: UInt16 = 44
    static let noSpace: UInt16 = 51
    static let notDirectory: UInt16 = 54
    static let notSupported: UInt16 = 58
    static let notCapable: UInt16 = 76

    /// A short text for an errno, like strerror's.
    static func text(_ errno: UInt16) -> String {
        switch errno {
        case access: return "Permission denied"
        case exists: return "File exists"
        case isDirectory: return "Is a directory"
        case noEntry: return "No such file or directory"
        case noSpace: return "No space left on device"
        case notDirectory: return "Not a directory"
        case notCapable: return "not inside a directory granted with --dir"
        case notSupported: return "not supported by this WebAssembly host"
        default: return "WASI error \(errno)"
        }
    }
}

/// Writes all of `bytes` to a descriptor (standard output 1, standard error 2, or a file).
@discardableResult
func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> UInt16 {
    var done = 0
    while done < bytes.count {
        var vector: (UInt32, UInt32) = (UInt32(UInt(bitPattern: bytes.baseAddress! + done)), UInt32(bytes.count - done))
        var written: UInt32 = 0
        let errno = withUnsafePointer(to: &vector) { wasiFdWrite(fd, UnsafeRawPointer($0), 1, &written) }
        if errno != WASIErrno.success { return errno }
        if written == 0 { return WASIErrno.noSpace }
        done += Int(written)
    }
    return WASIErrno.success
}

/// Writes text to standard output (1) or standard error (2).
func write(_ text: String, to fd: Int32) {
    var text = text
    text.withUTF8 { writeAll(fd, UnsafeRawBufferPointer($0)) }
}

/// The random bytes Set and Dictionary seed their hashing with, from the host.
@_cdecl("arc4random_buf")
func randomBytes(_ buffer: UnsafeMutableRawPointer, _ count: Int) {
    _ = wasiRandomGet(buffer, UInt32(count))
}
