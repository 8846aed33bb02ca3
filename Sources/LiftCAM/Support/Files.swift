// The core's loaders with this platform's files: the calls a program on Linux or macOS makes.

/// Reads an NPY file of float32 ('<f4') or float64 ('<f8', rounded to Float32) into a tensor
/// (see `readNPY(path:in:)`).
public func readNPY(path: String) throws(LiftCAMError) -> Tensor {
    usePlatformServices()
    return try readNPY(path: path, in: POSIXFileSystem())
}

/// The header of an NPY file, reading only the header's bytes (not the data).
public func readNPYHeader(path: String) throws(LiftCAMError) -> NPYHeader {
    try readNPYHeader(path: path, in: POSIXFileSystem())
}

/// Writes `tensor` as an NPY file (see `encodeNPY`), atomically.
public func writeNPY(_ tensor: Tensor, path: String) throws(LiftCAMError) {
    try writeNPY(tensor, path: path, in: POSIXFileSystem())
}

extension WeightDirectory {
    /// Reads every `*.npy` file of the directory `path` (see `init(path:in:)`).
    public init(path: String) throws(LiftCAMError) {
        usePlatformServices()
        try self.init(path: path, in: POSIXFileSystem())
    }
}

extension ONNXModel {
    /// Reads an ONNX file and the external data files it names (see `read(path:in:)`).
    public static func read(path: String) throws(LiftCAMError) -> ONNXModel {
        try read(path: path, in: POSIXFileSystem())
    }
}

extension Architecture {
    /// A torchvision name ("vgg16", "resnet50") or the path of a JSON architecture file.
    public static func resolve(_ nameOrPath: String) throws(LiftCAMError) -> Architecture {
        usePlatformServices()
        return try resolve(nameOrPath, in: POSIXFileSystem())
    }

    /// Reads a JSON architecture file; every error names the file and the key.
    public static func load(path: String) throws(LiftCAMError) -> Architecture {
        try load(path: path, in: POSIXFileSystem())
    }
}

extension GraphModel {
    /// Reads the ONNX model at `path` (weights inside, external data beside it) and builds its
    /// network graph (see `ONNXModel.read(path:in:)` and `init(onnx:path:)`).
    public init(onnxPath path: String) throws(LiftCAMError) {
        usePlatformServices()
        try self.init(onnx: try ONNXModel.read(path: path, in: POSIXFileSystem()), path: path)
    }
}

/// Writes each tensor as "<path>/<key>.npy" (float32, atomically), creating `path` if needed.
///
/// Files already in the directory under other keys are left alone; keys that are empty, start
/// with "." or contain "/" cannot be file names and are refused before anything is written.
public func writeWeightDirectory(_ tensors: [String: Tensor], to path: String) throws(LiftCAMError) {
    for key in tensors.keys where key.isEmpty || key.hasPrefix(".") || key.contains("/") {
        throw LiftCAMError.file(path, "state-dict key \"\(key)\" cannot be a file name")
    }
    try makeDirectory(path)
    for key in tensors.keys.sorted() {
        try writeNPY(tensors[key]!, path: joinPath(path, key + ".npy"))
    }
}
