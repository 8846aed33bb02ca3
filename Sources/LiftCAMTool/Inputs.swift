import LiftCAM
import LiftCAMImaging

/// The largest network input side the tool accepts (from --size, an architecture or a .npy): a
/// 4096×4096 input already needs GiBs of activations in a VGG; past it, memory runs out.
let maximumInputSide = Architecture.maximumInputSide

/// `--arch` and `--weights`, which every command that runs a network takes.
let networkOptions = [
    OptionSpec(name: "arch", valueName: "NAME|FILE.json", help: "vgg11…vgg19[_bn], resnet18…resnet152, or an architecture file", required: true),
    OptionSpec(name: "weights", valueName: "DIR", help: "directory of <state-dict key>.npy files", required: true),
]

/// The network and its weights, from `--arch` and `--weights`.
func loadNetwork(arch: String, weights: String) throws -> Network {
    let architecture = try Architecture.resolve(arch)
    let directory = try WeightDirectory(path: weights)
    do throws(LiftCAMError) {
        return try Network(architecture: architecture, weights: directory)
    } catch {
        guard !error.description.hasPrefix(weights) else { throw error }
        throw LiftCAMError.file(weights, error.description)
    }
}

/// How an image becomes the network input x: resized to `height`×`width` (bilinear, align_corners =
/// false, no antialiasing, like `F.interpolate`), scaled to [0, 1], then normalised per channel as
/// (v − mean)/std (ImageNet's statistics by default) unless `normalize` is off.
struct Preprocessing {
    var height: Int
    var width: Int
    var mean: [Float] = [0.485, 0.456, 0.406]
    var std: [Float] = [0.229, 0.224, 0.225]
    var normalize = true

    static let options = [
        OptionSpec(name: "size", valueName: "H[xW]", help: "network input size (default: the architecture's, 224 for torchvision)"),
        OptionSpec(name: "mean", valueName: "R,G,B", help: "normalisation mean (default ImageNet's 0.485,0.456,0.406)"),
        OptionSpec(name: "std", valueName: "R,G,B", help: "normalisation std (default ImageNet's 0.229,0.224,0.225)"),
        OptionSpec(name: "no-normalize", valueName: nil, help: "feed pixels scaled to [0,1] without normalisation"),
    ]

    /// From the command's options and the architecture's input size.
    init(arguments: ParsedArguments, architecture: Architecture) throws {
        let shape = architecture.inputShape
        (height, width) = (shape[1], shape[2])
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
        func triple(_ name: String, _ fallback: [Float]) throws -> [Float] {
            guard let text = arguments.value(name) else { return fallback }
            let values = text.split(separator: ",").compactMap { Float($0) }.filter(\.isFinite)
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

    init(height: Int, width: Int) {
        self.height = height
        self.width = width
    }

    /// x `[3, H, W]` from 8-bit pixels.
    func tensor(from image: Image) -> Tensor {
        let rgb = image.rgb()
        var planar = Tensor(shape: [3, rgb.height, rgb.width])
        let plane = rgb.height * rgb.width
        for p in 0..<plane {
            for c in 0..<3 { planar.storage[c * plane + p] = Float(rgb.pixels[p * 3 + c]) / 255 }
        }
        var x = (rgb.height == height && rgb.width == width) ? planar : bilinearResize(planar, height: height, width: width)
        if normalize {
            let size = height * width
            for c in 0..<3 {
                for j in 0..<size { x.storage[c * size + j] = (x.storage[c * size + j] - mean[c]) / std[c] }
            }
        }
        return x
    }
}

/// A network input read from a file: a .png/.ppm/.pgm image (preprocessed) or a .npy tensor
/// `[3, H, W]` or `[1, 3, H, W]` used as is. `image` is the picture at the network's input size,
/// for overlays (for .npy, the tensor mapped back to pixels).
struct LoadedInput {
    var tensor: Tensor
    var image: Image
}

func loadInput(path: String, preprocessing: Preprocessing) throws -> LoadedInput {
    let lower = path.lowercased()
    if lower.hasSuffix(".npy") {
        var tensor = try readNPY(path: path)
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
        return LoadedInput(tensor: tensor, image: try pictureOfTensor(tensor, preprocessing: preprocessing))
    }
    let image = try decodeImage(path: path)
    let tensor = preprocessing.tensor(from: image)
    let shown = (image.width == preprocessing.width && image.height == preprocessing.height)
        ? image.rgb() : try image.rgb().resized(width: preprocessing.width, height: preprocessing.height)
    return LoadedInput(tensor: tensor, image: shown)
}

/// Checks that an input read from `path` fits the network, naming the file when it does not.
func checkInput(_ input: Tensor, fits network: Network, path: String) throws {
    do throws(LiftCAMError) {
        _ = try network.checkInput(shape: input.shape)
    } catch {
        throw LiftCAMError.file(path, error.description)
    }
}

/// The explainer of an input read from `path`: errors about the input name the file; errors about
/// the layer (unknown, or not a stack of maps) are about the option and stay as they are.
func makeExplainer(network: Network, layer: String?, input: Tensor, path: String) throws -> Explainer {
    try checkInput(input, fits: network, path: path)
    return try Explainer(network: network, layer: layer, input: input)
}

/// Decodes a PNG, PPM or PGM file; errors name the file.
func decodeImage(path: String) throws -> Image {
    let bytes = try readFileBytes(path)
    do {
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]) { return try PNG.decode(bytes) }
        if bytes.first == UInt8(ascii: "P") { return try PNM.decode(bytes) }
    } catch let error as ImageError {
        throw LiftCAMError.file(path, error.description)
    }
    throw LiftCAMError.file(path, "not a PNG, PPM or PGM image (and not a .npy tensor)")
}

/// Undoes the normalisation of a tensor input to show it as a picture.
private func pictureOfTensor(_ tensor: Tensor, preprocessing: Preprocessing) throws -> Image {
    let channels = tensor.shape[0], height = tensor.shape[1], width = tensor.shape[2], plane = height * width
    var pixels = [UInt8](repeating: 0, count: plane * 3)
    for p in 0..<plane {
        for c in 0..<3 {
            var v = tensor.storage[(channels == 3 ? c : 0) * plane + p]
            if preprocessing.normalize { v = v * preprocessing.std[c] + preprocessing.mean[c] }
            pixels[p * 3 + c] = UInt8(max(0, min(255, (v * 255).rounded())))
        }
    }
    return try Image(width: width, height: height, channels: 3, pixels: pixels)
}

/// Writes JSON to a file (atomically) or to standard output for "-".
func emitJSON(_ value: JSONValue, to destination: String, console: Console) throws {
    let text = value.serialized(pretty: destination != "-") + "\n"
    if destination == "-" {
        console.print(String(text.dropLast()))
    } else {
        try writeFileAtomically(destination, text: text)
    }
}
