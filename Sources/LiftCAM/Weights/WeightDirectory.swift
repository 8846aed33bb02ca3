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
    /// float throws an error naming it. Hidden files (".name", such as the "._x.npy" that macOS
    /// leaves on other file systems) are not weights and are skipped.
    public init(path: String) throws {
        self.path = path
        guard isDirectory(path) else {
            throw LiftCAMError.file(path, fileExists(path) ? "is not a directory" : "no such directory")
        }
        var tensors: [String: Tensor] = [:]
        for name in try listDirectory(path) where name.hasSuffix(".npy") && !name.hasPrefix(".") {
            let key = String(name.dropLast(4))
            let file = joinPath(path, name)
            if key.hasSuffix("num_batches_tracked"), try readNPYHeader(path: file).isIntegerDType { continue }
            let tensor = try readNPY(path: file)
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
    public func tensor(_ key: String, shape: [Int]) throws -> Tensor {
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

/// Writes each tensor as "<path>/<key>.npy" (float32, atomically), creating `path` if needed.
///
/// Files already in the directory under other keys are left alone; keys that are empty, start
/// with "." or contain "/" cannot be file names and are refused before anything is written.
public func writeWeightDirectory(_ tensors: [String: Tensor], to path: String) throws {
    for key in tensors.keys where key.isEmpty || key.hasPrefix(".") || key.contains("/") {
        throw LiftCAMError.file(path, "state-dict key \"\(key)\" cannot be a file name")
    }
    try makeDirectory(path)
    for key in tensors.keys.sorted() {
        try writeNPY(tensors[key]!, path: joinPath(path, key + ".npy"))
    }
}

extension WeightDirectory: WeightSource {}
