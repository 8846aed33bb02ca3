#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import LiftCAM
import LiftCAMCommandLine
import LiftCAMImaging
import LiftCAMTool

/// A temporary dataset folder for the manifest target: the files rows may name (good and bad
/// images and tensors, a subfolder), removed when the last reference goes away.
public final class FuzzWorkspace {
    public let directory: String
    private let files = ["a.png", "g.pgm", "t.npy", "t4.npy", "small.npy", "bad.npy", "nan.npy", "broken.png"]

    public init() throws {
        var template = Array("/tmp/liftcam-fuzz-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw LiftCAMError("cannot create a temporary folder for the fuzz dataset") }
        directory = String(cString: made)
        let picture = try Image(width: 12, height: 12, channels: 3, pixels: (0..<432).map { UInt8($0 * 5 % 256) })
        try writeFileAtomically(directory + "/a.png", bytes: PNG.encode(picture))
        try writeFileAtomically(directory + "/g.pgm", bytes: PNM.encodePGM(picture))
        try writeFileAtomically(directory + "/broken.png", bytes: Array(PNG.encode(picture).prefix(40)))
        try writeNPY(Tensor(shape: [3, 12, 12], repeating: 0.5), path: directory + "/t.npy")
        try writeNPY(Tensor(shape: [1, 3, 12, 12], repeating: -0.5), path: directory + "/t4.npy")
        try writeNPY(Tensor(shape: [3, 2, 2], repeating: 1), path: directory + "/small.npy")
        try writeNPY(Tensor(shape: [2, 5], repeating: 1), path: directory + "/bad.npy")
        try writeNPY(Tensor(shape: [3, 12, 12], repeating: .nan), path: directory + "/nan.npy")
        try makeDirectory(directory + "/sub")
    }

    deinit {
        for name in files { unlink(directory + "/" + name) }
        rmdir(directory + "/sub")
        rmdir(directory)
    }
}

/// The network rows are checked against: the tiny VGG of the first architecture seed (3 classes,
/// input 3 × 12 × 12), with seeded random weights.
func fuzzNetwork() throws -> Network {
    try Network(architecture: Architecture.decode(architectureSeeds()[0], name: "tiny.json"), weights: RandomWeights(seed: 1))
}

func manifestSeeds() -> [[UInt8]] {
    let header = "file,label,x_min,y_min,x_max,y_max"
    return [
        header + "\na.png,0,1,2,10,11\nt.npy,2,,,,\n\"g.pgm\",1,0,0,12,12\nt4.npy,1,3,3,3,9\n",
        "\u{FEFF}" + header + "\r\na.png, 1 ,0,0,6,6\r\n\r\nt.npy,0,,,,\r\n",
        header + "\n\"a.png\",\"2\",\"1\",\"1\",\"2\",\"2\"\ng.pgm,0,,,,",
    ].map { Array($0.utf8) }
}

func mutateManifest(_ mutator: inout Mutator, _ seed: [UInt8]) -> [UInt8] {
    switch mutator.int(0...5) {
    case 0, 1: return mutator.mutate(seed)
    case 2, 3: return mutator.replaceNumber(seed)   // labels and box corners at boundaries
    case 4:
        let names = ["missing.png", "sub", "sub/", "/etc/hostname", "../a.png", "bad.npy", "small.npy", "nan.npy", "broken.png",
                     "", "A.PNG", "t.npy.npy", "x.gif", "a.png\"", "\"a,png\"", "a\u{0}.png", String(repeating: "x", count: 5000) + ".png"]
        return mutator.replacing(mutator.pick(["a.png", "t.npy", "g.pgm", "t4.npy"]), with: mutator.pick(names), in: seed)
    default:
        let swaps = [("file,", mutator.pick(["File,", "file;", "\"file\",", ""])), (",", mutator.pick([",,", "\",", ",\"", "\n"])),
                     ("\n", mutator.pick(["\r", "\n\n", "\n\"", "\u{2028}"])), ("y_max", "y_max,extra")]
        let (old, new) = mutator.pick(swaps)
        return mutator.replacing(old, with: new, in: seed)
    }
}

/// `checkManifest` on the bytes, as `evaluate` checks a dataset before evaluating it; the bad
/// rows' errors are returned, and each must be one line naming the manifest like a refusal.
func manifestTarget(workspace: FuzzWorkspace) throws -> FuzzTarget {
    let network = try fuzzNetwork()
    let path = workspace.directory + "/manifest.csv"
    return FuzzTarget(name: "manifest", seeds: manifestSeeds(), errorPrefix: path, mutate: mutateManifest) { bytes in
        try checkManifest(bytes: bytes, directory: workspace.directory, network: network, imageInputShape: [3, 12, 12]).compactMap { $0 }
    }
}

/// The parsers `liftcam-fuzz` and the tests can run, by name.
public enum FuzzTargets {
    public static let names = ["npy", "png", "pnm", "json", "manifest", "onnx", "onnx-graph"]

    /// The target called `name`; `workspace` holds the manifest's dataset folder. Seeds that are
    /// generated (PNG pixels) come from `seed`; ONNX's are the files of Fixtures/onnx/reader.
    public static func make(_ name: String, seed: UInt64, workspace: FuzzWorkspace) throws -> FuzzTarget {
        switch name {
        case "npy": return npyTarget()
        case "png": return pngTarget(seed: seed)
        case "pnm": return pnmTarget()
        case "json": return architectureTarget()
        case "manifest": return try manifestTarget(workspace: workspace)
        case "onnx": return try onnxTarget()
        case "onnx-graph": return try onnxGraphTarget()
        default: throw LiftCAMError("unknown parser '\(name)'; known: \(names.joined(separator: ", ")), all")
        }
    }
}
