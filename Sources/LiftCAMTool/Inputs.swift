import LiftCAM
import LiftCAMCommandLine
import LiftCAMImaging

/// The network and its weights, from `--arch` and `--weights` (this platform's files).
func loadNetwork(arch: String, weights: String?) throws(LiftCAMError) -> Network {
    usePlatformServices()
    return try loadNetwork(arch: arch, weights: weights, in: POSIXFileSystem())
}

extension Preprocessing {
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
        let tensor = try loadTensorInput(path: path, in: POSIXFileSystem())
        return LoadedInput(tensor: tensor, image: try pictureOfTensor(tensor, preprocessing: preprocessing))
    }
    let image = try decodeImage(path: path)
    let tensor = preprocessing.tensor(from: image)
    let shown = (image.width == preprocessing.width && image.height == preprocessing.height)
        ? image.rgb() : try image.rgb().resized(width: preprocessing.width, height: preprocessing.height)
    return LoadedInput(tensor: tensor, image: shown)
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
