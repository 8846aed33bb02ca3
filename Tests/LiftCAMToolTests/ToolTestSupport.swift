import Foundation
import LiftCAM
import LiftCAMImaging
import LiftCAMTool
import XCTest

/// What one in-process run of the tool printed and returned.
struct ToolRun {
    let status: Int32
    let output: String
    let error: String
}

/// Runs `liftcam <arguments>` in-process with its output captured.
func runTool(_ arguments: [String]) -> ToolRun {
    final class Buffer: @unchecked Sendable {
        // Only touched under `lock`: the tool may print from its worker threads.
        private var text = ""
        private let lock = NSLock()
        func append(_ piece: String) { lock.withLock { text += piece } }
        var value: String { lock.withLock { text } }
    }
    let output = Buffer(), error = Buffer()
    let status = Tool.run(arguments, standardOutput: { output.append($0) }, standardError: { error.append($0) })
    return ToolRun(status: status, output: output.value, error: error.value)
}

/// A fresh temporary directory, removed by `removeTemporaryDirectory`.
func makeTemporaryDirectory() throws -> String {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("liftcam-tool-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url.path
}

func removeTemporaryDirectory(_ path: String) {
    try? FileManager.default.removeItem(atPath: path)
}

/// A tiny VGG-style network on disk: an architecture file and a weight directory of seeded random
/// weights, plus the same network in memory (built from the random weights, not from the files).
struct TinyModel {
    let archPath: String
    let weightsPath: String
    let network: Network

    /// K = 6 maps of 6 × 6 at the default layer features.4 (conv-ReLU-pool-conv-ReLU), 3 classes
    /// whose names need HTML escaping, input 3 × 12 × 12.
    static let narrowJSON = """
        {"family": "vgg", "config": [4, "M", 6], "batch_norm": false, "pool": [2, 2], "classifier": [8],
         "classes": 3, "input": [3, 12, 12], "class_names": ["cat", "dog & <fox>", "bird \\"b\\""]}
        """
    /// K = 24 maps: too many for shap-exact (2^24 coalitions).
    static let wideJSON = """
        {"family": "vgg", "config": [4, "M", 24], "batch_norm": false, "pool": [2, 2], "classifier": [8],
         "classes": 3, "input": [3, 12, 12]}
        """

    init(in directory: String, name: String = "tiny", json: String = TinyModel.narrowJSON, seed: UInt64 = 11) throws {
        archPath = directory + "/\(name).json"
        weightsPath = directory + "/\(name)-weights"
        try writeFileAtomically(archPath, text: json)
        let architecture = try Architecture.load(path: archPath)
        let random = RandomWeights(seed: seed)
        try writeWeightDirectory(try random.stateDictionary(for: architecture), to: weightsPath)
        network = try Network(architecture: architecture, weights: random)
    }

    var arguments: [String] { ["--arch", archPath, "--weights", weightsPath] }
}

/// A seeded RGB picture with varied pixels.
func testPicture(width: Int, height: Int, seed: UInt64) throws -> Image {
    var generator = SplitMix64(seed: seed)
    let pixels = (0..<width * height * 3).map { _ in UInt8(truncatingIfNeeded: generator.next() >> 56) }
    return try Image(width: width, height: height, channels: 3, pixels: pixels)
}

/// The network input of a picture already at the network's size, written out independently of the
/// tool: x = p/255, then (x − mean)/std with ImageNet's statistics when `normalize`.
func expectedInput(of picture: Image, normalize: Bool) -> Tensor {
    let mean: [Float] = [0.485, 0.456, 0.406], std: [Float] = [0.229, 0.224, 0.225]
    let plane = picture.width * picture.height
    var x = Tensor(shape: [3, picture.height, picture.width])
    for p in 0..<plane {
        for c in 0..<3 {
            let value = Float(picture.pixels[p * 3 + c]) / 255
            x.storage[c * plane + p] = normalize ? (value - mean[c]) / std[c] : value
        }
    }
    return x
}

/// Eq 1 in Double, as a naive twin: L = max(0, Σ_k α_k A_k) for A `[K, h, w]`.
func naiveClassActivationMap(activations: Tensor, coefficients: [Float]) -> [Float] {
    let plane = activations.shape[1] * activations.shape[2]
    return (0..<plane).map { p in
        let sum = coefficients.indices.reduce(0.0) { $0 + Double(coefficients[$1]) * Double(activations.storage[$1 * plane + p]) }
        return Float(max(0, sum))
    }
}

/// max |a − b| / max(max |b|, tiny).
func relativeDifference(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "\(a.count) vs \(b.count) values")
    let scale = max(b.map(abs).max() ?? 0, 1e-12)
    return zip(a, b).map { abs($0 - $1) }.max().map { $0 / scale } ?? 0
}

/// The names in a directory, sorted.
func directoryListing(_ path: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
}

/// Every `data:image/png;base64,...` payload in an HTML text, decoded.
func inlinedPNGs(in html: String) -> [[UInt8]] {
    let marker = "data:image/png;base64,"
    return html.components(separatedBy: marker).dropFirst().compactMap { piece in
        let payload = piece.prefix { $0 != "\"" }
        return Data(base64Encoded: String(payload)).map { [UInt8]($0) }
    }
}

/// The td cells' texts of the report's table rows whose header cell is `header`, in document order.
func reportTableRows(_ html: String, header: String) -> [[String]] {
    html.components(separatedBy: "\n").filter { $0.hasPrefix("<tr><th>\(header)</th>") }.map { row in
        row.components(separatedBy: "</td>").dropLast().map { cell in
            String(cell[cell.range(of: ">", options: .backwards)!.upperBound...])
        }
    }
}

/// A test case with a fresh temporary directory holding the tiny network (`model`) and a 12×12
/// picture (`pngPath`), removed after each test.
class TinyModelTestCase: PlatformTestCase {
    var directory = ""
    var model: TinyModel!
    var pngPath = ""

    override func setUpWithError() throws {
        directory = try makeTemporaryDirectory()
        model = try TinyModel(in: directory)
        pngPath = directory + "/photo.png"
        try writeFileAtomically(pngPath, bytes: PNG.encode(try testPicture(width: 12, height: 12, seed: 3)))
    }

    override func tearDown() { removeTemporaryDirectory(directory) }
}
