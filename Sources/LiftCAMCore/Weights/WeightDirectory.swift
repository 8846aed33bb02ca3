/// A directory of weights with one NPY file per PyTorch state-dict key: "features.0.weight.npy",
/// "layer1.0.bn1.running_var.npy", ... (what Scripts/export_torchvision.py writes).
///
/// Every float file is read once, when the directory is opened; model builders then take tensors
/// by key with the shape they expect, so a mismatch names the file and both shapes.
public struct WeightDirectory: Sendable {
    /// The directory as given.
    public let path: String
    private let tensors: [String: Tensor]

    /// Reads every `*.npy` file of `path` (float32 '<f4' or float64 '<f8', kept as Float32).
    /// A file holding NaN or ±infinity (also a float64 past Float32's range) is refused with its
    /// name and the element's position, e.g. "<dir>/fc.bias.npy: element [3] (flat index 3) is NaN; ...".
    ///
    /// Integer files whose key ends in "num_batches_tracked" (the batch-norm step counters PyTorch
    /// keeps in state dicts, which inference never uses) are skipped; any other file that is not
    /// float throws(LiftCAMError) an error naming it. Hidden files (".name", such as the "._x.npy" that macOS
    /// leaves on other file systems) are not weights and are skipped.
    public init(path: String, in files: some FileSystem) throws(LiftCAMError) {
        self.path = path
        switch files.kind(of: path) {
        case .directory: break
        case .file: throw LiftCAMError.file(path, "is not a directory")
        case .missing: throw LiftCAMError.file(path, "no such directory")
        }
        var tensors: [String: Tensor] = [:]
        for name in try files.listDirectory(path) where name.hasSuffix(".npy") && !name.hasPrefix(".") {
            let key = String(name.dropLast(4))
            let file = joinPath(path, name)
            if key.hasSuffix("num_batches_tracked"), try readNPYHeader(path: file, in: files).isIntegerDType { continue }
            let tensor = try readNPY(path: file, in: files)
            // One NaN or infinite weight makes every map NaN; refuse it here, by file and position.
            if let problem = nonFiniteDescription(tensor) {
                throw LiftCAMError.file(file, "\(problem); weights must be finite numbers")
            }
            tensors[key] = tensor
        }
        guard !tensors.isEmpty else {
            throw LiftCAMError.file(path, "no weights in this directory (expected one .npy file per state-dict key, e.g. features.0.weight.npy)")
        }
        self.tensors = tensors
    }

    /// The state-dict keys present, sorted (file names without ".npy").
    public var keys: [String] { tensors.keys.sorted() }

    /// The shape of `key`'s tensor, or nil when there is none (e.g. to read a classifier's
    /// number of classes from "fc.weight" before building the model).
    public func shape(of key: String) -> [Int]? { tensors[key]?.shape }

    /// The tensor for `key`, checked against `shape`.
    ///
    /// Throws "<dir>/<key>.npy: expected shape [64, 3, 3, 3], found [64, 3, 5, 5]" or
    /// "<dir>: missing tensor <key>.npy (expected shape [64, 3, 3, 3])".
    public func tensor(_ key: String, shape: [Int]) throws(LiftCAMError) -> Tensor {
        guard let tensor = tensors[key] else {
            throw LiftCAMError.file(path, "missing tensor \(key).npy (expected shape \(shape))")
        }
        guard tensor.shape == shape else {
            throw LiftCAMError.file(joinPath(path, key + ".npy"), "expected shape \(shape), found \(tensor.shape)")
        }
        return tensor
    }

    /// Keys present but not in `requested`, sorted, so a model builder can report
    /// "unexpected tensors: a, b" (a sign of weights exported from a different architecture).
    public func unusedKeys(requested: Set<String>) -> [String] {
        keys.filter { !requested.contains($0) }
    }
}

extension WeightDirectory: WeightSource {}
