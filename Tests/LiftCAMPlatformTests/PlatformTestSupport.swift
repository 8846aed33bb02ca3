import Foundation
import LiftCAM
import LiftCAMTool
import XCTest

/// The repository's root, from this file's place in it.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

/// The toolchain's folder of executables (swiftc, wasm-ld, ld.lld, wasmkit): the one running the
/// tests, as `swift test` puts it first on PATH, or where `swiftc` is found.
let toolchainBin: String = {
    for folder in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
        let candidate = String(folder) + "/swiftc"
        if FileManager.default.isExecutableFile(atPath: candidate) {
            return URL(fileURLWithPath: candidate).resolvingSymlinksInPath().deletingLastPathComponent().path
        }
    }
    return "/usr/bin"
}()

/// What one child process printed and returned.
struct ChildRun {
    let status: Int32
    let output: String
    let error: String
}

/// Runs `executable arguments` in `directory` and waits for it; output and errors go through files,
/// so neither can fill a pipe and stall the child.
func runChild(_ executable: String, _ arguments: [String], in directory: String = repositoryRoot) throws -> ChildRun {
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("liftcam-child-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: scratch) }
    let outputURL = scratch.appendingPathComponent("out"), errorURL = scratch.appendingPathComponent("err")
    _ = FileManager.default.createFile(atPath: outputURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errorURL.path, contents: nil)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.currentDirectoryURL = URL(fileURLWithPath: directory)
    process.standardOutput = try FileHandle(forWritingTo: outputURL)
    process.standardError = try FileHandle(forWritingTo: errorURL)
    try process.run()
    process.waitUntilExit()
    return ChildRun(status: process.terminationStatus,
                    output: String(decoding: try Data(contentsOf: outputURL), as: UTF8.self),
                    error: String(decoding: try Data(contentsOf: errorURL), as: UTF8.self))
}

/// `liftcam <arguments>` run in-process (the native build), output captured.
func runNative(_ arguments: [String]) -> ChildRun {
    final class Buffer: @unchecked Sendable {
        private var text = ""
        private let lock = NSLock()
        func append(_ piece: String) { lock.withLock { text += piece } }
        var value: String { lock.withLock { text } }
    }
    let output = Buffer(), error = Buffer()
    let status = Tool.run(arguments, standardOutput: { output.append($0) }, standardError: { error.append($0) })
    return ChildRun(status: status, output: output.value, error: error.value)
}

/// The largest difference between two equally long arrays, relative to the largest magnitude of
/// the first (absolute when that is 0); infinite when their lengths differ.
func relativeDifference(_ a: [Double], _ b: [Double]) -> Double {
    guard a.count == b.count else { return .infinity }
    let scale = max(a.map { abs($0) }.max() ?? 0, 1e-30)
    return zip(a, b).map { abs($0 - $1) }.max().map { $0 / scale } ?? 0
}

/// The numbers of a JSON array.
func numbers(_ value: Any?) -> [Double] {
    (value as? [Any] ?? []).compactMap { ($0 as? NSNumber)?.doubleValue }
}

func jsonObject(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> [String: Any] {
    let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
    XCTAssertNotNil(object, "not a JSON object: \(text.prefix(300))", file: file, line: line)
    return object ?? [:]
}
