import LiftCAMCore

// What `forward` and `explain` share on every platform: the network from --arch and --weights, the
// input tensor from a .npy file, and the preprocessing options. The native tool adds images (PNG,
// PPM) on top; the WebAssembly build uses these as they are, so both give the same errors.

/// The largest network input side the tool accepts (from --size, an architecture or a .npy): a
/// 4096×4096 input already needs GiBs of activations in a VGG; past it, memory runs out.
public let maximumInputSide = Architecture.maximumInputSide

/// `--arch` and `--weights`, which every command that runs a network takes.
public let networkOptions = [
    OptionSpec(name: "arch", valueName: "NAME|FILE.json|FILE.onnx",
               help: "vgg11…vgg19[_bn], resnet18…resnet152, an architecture file, or an ONNX model (weights inside)", required: true),
    OptionSpec(name: "weights", valueName: "DIR", help: "directory of <state-dict key>.npy files (not with an .onnx model)"),
]

/// Whether `--arch` names an ONNX model file (by its extension).
public func isONNXPath(_ arch: String) -> Bool { arch.lowercased().hasSuffix(".onnx") }

/// The network and its weights, from `--arch` and `--weights`; errors about the weights name the
/// directory. An ONNX model (`--arch model.onnx`) carries its weights, so `weights` must be nil for
/// it and given for every other architecture.
public func loadNetwork(arch: String, weights: String?, in files: some FileSystem) throws(LiftCAMError) -> Network {
    if isONNXPath(arch) {
        guard weights == nil else {
            throw LiftCAMError("--weights \(weights!): \(arch) is an ONNX model, which carries its own weights; drop --weights")
        }
        return Network(graph: try GraphModel(onnx: try ONNXModel.read(path: arch, in: files), path: arch))
    }
    let architecture = try Architecture.resolve(arch, in: files)
    guard let weights else {
        throw LiftCAMError("--weights is required with --arch \(arch) (a directory of <state-dict key>.npy files)")
    }
    let directory = try WeightDirectory(path: weights, in: files)
    do throws(LiftCAMError) {
        return try Network(architecture: architecture, weights: directory)
    } catch {
        guard !error.description.hasPrefix(weights) else { throw error }
        throw LiftCAMError.file(weights, error.description)
    }
}

/// A preprocessed input tensor `[3, H, W]` (or `[1, 3, H, W]`, or one channel) from a .npy file,
/// checked: shape, size and finite values.
public func loadTensorInput(path: String, in files: some FileSystem) throws(LiftCAMError) -> Tensor {
    var tensor = try readNPY(path: path, in: files)
    if tensor.rank == 4 && tensor.shape[0] == 1 { tensor = tensor.reshaped(Array(tensor.shape.dropFirst())) }
    guard tensor.rank == 3, tensor.shape[0] == 3 || tensor.shape[0] == 1 else {
        throw LiftCAMError.file(path, "expected a tensor [3, H, W] or [1, 3, H, W], found \(tensor.shape)")
    }
    guard tensor.shape[1] >= 1, tensor.shape[2] >= 1 else {
        throw LiftCAMError.file(path, "the tensor \(tensor.shape) is empty")
    }
    guard tensor.shape[1] <= maximumInputSide, tensor.shape[2] <= maximumInputSide else {
        throw LiftCAMError.file(path, "the tensor \(tensor.shape) is too large: at most \(maximumInputSide) pixels a side")
    }
    if let problem = nonFiniteDescription(tensor) {
        throw LiftCAMError.file(path, "\(problem); inputs must be finite numbers")
    }
    return tensor
}

/// Checks that an input read from `path` fits the network, naming the file when it does not.
public func checkInput(_ input: Tensor, fits network: Network, path: String) throws(LiftCAMError) {
    do throws(LiftCAMError) {
        _ = try network.checkInput(shape: input.shape)
    } catch {
        throw LiftCAMError.file(path, error.description)
    }
}

/// The explainer of an input read from `path`: errors about the input name the file; errors about
/// the layer (unknown, or not a stack of maps) are about the option and stay as they are. `literal`
/// as `Explainer`'s (--literal).
public func makeExplainer(network: Network, layer: String?, input: Tensor, path: String,
                          literal: Bool = false) throws(LiftCAMError) -> Explainer {
    try checkInput(input, fits: network, path: path)
    return try Explainer(network: network, layer: layer, input: input, literal: literal)
}

/// How an image becomes the network input x: resized to `height`×`width` (bilinear, align_corners =
/// false, no antialiasing, like `F.interpolate`), scaled to [0, 1], then normalised per channel as
/// (v − mean)/std (ImageNet's statistics by default) unless `normalize` is off.
public struct Preprocessing {
    public var height: Int
    public var width: Int
    public var mean: [Float] = [0.485, 0.456, 0.406]
    public var std: [Float] = [0.229, 0.224, 0.225]
    public var normalize = true

    public static let options = [
        OptionSpec(name: "size", valueName: "H[xW]", help: "network input size (default: the architecture's, 224 for torchvision)"),
        OptionSpec(name: "mean", valueName: "R,G,B", help: "normalisation mean (default ImageNet's 0.485,0.456,0.406)"),
        OptionSpec(name: "std", valueName: "R,G,B", help: "normalisation std (default ImageNet's 0.229,0.224,0.225)"),
        OptionSpec(name: "no-normalize", valueName: nil, help: "feed pixels scaled to [0,1] without normalisation"),
    ]

    /// From the command's options and the architecture's input size (and, for an ONNX model, the
    /// normalisation its metadata states).
    public init(arguments: ParsedArguments, architecture: Architecture) throws(ToolError) {
        let shape = architecture.inputShape
        (height, width) = (shape[1], shape[2])
        if case .graph(let model) = architecture {
            if let stated = model.mean { mean = stated }
            if let stated = model.std { std = stated }
        }
        if let size = arguments.value("size") {
            // Empty pieces kept, so "5x" and "x5" are refused rather than read as 5.
            let parts = size.split(separator: "x", omittingEmptySubsequences: false).map { Int($0) }
            guard (1...2).contains(parts.count), parts.allSatisfy({ ($0 ?? 0) >= 1 }) else {
                throw ToolError.usage("--size must be H or HxW with positive integers, got '\(size)'")
            }
            guard parts.allSatisfy({ $0! <= maximumInputSide }) else {
                throw ToolError.usage("--size \(size) is too large: at most \(maximumInputSide) pixels a side")
            }
            height = parts[0]!
            width = parts.count == 2 ? parts[1]! : parts[0]!
        }
        func triple(_ name: String, _ fallback: [Float]) throws(ToolError) -> [Float] {
            guard let text = arguments.value(name) else { return fallback }
            let values = text.split(separator: ",").compactMap { Float($0) }.filter { $0.isFinite }
            guard values.count == 3, text.split(separator: ",").count == 3 else {
                throw ToolError.usage("--\(name) must be three finite numbers R,G,B, got '\(text)'")
            }
            return values
        }
        mean = try triple("mean", mean)
        std = try triple("std", std)
        guard std.allSatisfy({ $0 > 0 }) else { throw ToolError.usage("--std values must be positive") }
        normalize = !arguments.flag("no-normalize")
    }

    public init(height: Int, width: Int) {
        self.height = height
        self.width = width
    }
}
