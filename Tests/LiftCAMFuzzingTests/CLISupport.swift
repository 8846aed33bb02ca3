import Foundation
import LiftCAM
import LiftCAMImaging
import XCTest

/// What one run of the `liftcam` executable did.
struct ProcessRun {
    let status: Int32
    let output: String
    let error: String
    let timedOut: Bool
}

/// The `liftcam` executable SwiftPM built next to the test bundle.
var liftcamExecutable: String {
    let besideTests = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("liftcam").path
    if FileManager.default.isExecutableFile(atPath: besideTests) { return besideTests }
    return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent(".build/release/liftcam").path
}

/// Runs `executable arguments`, killing it after `timeout` seconds (then `timedOut` is true).
func runProcess(_ executable: String, _ arguments: [String], timeout: Double = 20) throws -> ProcessRun {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let output = Pipe(), error = Pipe()
    process.standardOutput = output
    process.standardError = error
    let finished = DispatchSemaphore(value: 0)
    process.terminationHandler = { _ in finished.signal() }
    try process.run()
    // Drain both pipes while the process runs, so a chatty child never blocks on a full pipe.
    final class Collected: @unchecked Sendable {   // each field written by one reader, read after `group.wait()`
        var output = Data(), error = Data()
    }
    let collected = Collected()
    let group = DispatchGroup()
    DispatchQueue.global().async(group: group) { collected.output = output.fileHandleForReading.readDataToEndOfFile() }
    DispatchQueue.global().async(group: group) { collected.error = error.fileHandleForReading.readDataToEndOfFile() }
    let timedOut = finished.wait(timeout: .now() + timeout) == .timedOut
    if timedOut {
        kill(process.processIdentifier, SIGKILL)
        finished.wait()
    }
    group.wait()
    return ProcessRun(status: process.terminationStatus, output: String(decoding: collected.output, as: UTF8.self),
                      error: String(decoding: collected.error, as: UTF8.self), timedOut: timedOut)
}

/// A folder with the tiny network (architecture file, weight directory), a picture as PNG and PPM,
/// a tensor input and a dataset with a manifest; removed by `remove()`.
struct CLIWorkspace {
    let root: String
    var arch: String { root + "/tiny.json" }
    var weights: String { root + "/weights" }
    var png: String { root + "/photo.png" }
    var ppm: String { root + "/photo.ppm" }
    var npy: String { root + "/input.npy" }
    var data: String { root + "/data" }
    static let architectureJSON = #"{"family": "vgg", "config": [4, "M", 6], "batch_norm": false, "pool": [2, 2], "classifier": [8], "classes": 3, "input": [3, 12, 12]}"#
    static let manifest = "file,label,x_min,y_min,x_max,y_max\na.png,0,1,2,10,11\nt.npy,2,,,,\n"

    init() throws {
        root = NSTemporaryDirectory() + "liftcam-cli-fuzz-" + UUID().uuidString
        try makeDirectory(root)
        try writeFileAtomically(arch, text: Self.architectureJSON)
        let architecture = try Architecture.load(path: arch)
        try writeWeightDirectory(try RandomWeights(seed: 4).stateDictionary(for: architecture), to: weights)
        var random = SplitMix64(seed: 8)
        let picture = try Image(width: 12, height: 12, channels: 3, pixels: (0..<432).map { _ in UInt8(truncatingIfNeeded: random.next() >> 56) })
        try writeFileAtomically(png, bytes: PNG.encode(picture))
        try writeFileAtomically(ppm, bytes: PNM.encodePPM(picture))
        try writeNPY(Tensor(shape: [3, 12, 12], storage: (0..<432).map { Float($0 % 17) / 8 - 1 }), path: npy)
        try makeDirectory(data)
        try writeFileAtomically(data + "/a.png", bytes: PNG.encode(picture))
        try writeNPY(Tensor(shape: [3, 12, 12], repeating: 0.25), path: data + "/t.npy")
        try writeFileAtomically(data + "/manifest.csv", text: Self.manifest)
    }

    func remove() { try? FileManager.default.removeItem(atPath: root) }

    /// Every file under `root` whose name marks it as an atomic write's temporary.
    func temporaries() -> [String] {
        (FileManager.default.enumerator(atPath: root)?.allObjects as? [String] ?? []).filter { $0.contains(".tmp-") }
    }
}
