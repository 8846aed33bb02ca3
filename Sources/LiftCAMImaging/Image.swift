/// An 8-bit image: interleaved samples, row-major, `channels` = 1 (gray), 3 (RGB) or 4 (RGBA).
///
/// The fields are constants so the one invariant every codec relies on,
/// `pixels.count == width * height * channels`, cannot be broken after `init` checked it.
public struct Image: Equatable, Sendable {
    /// Pixels per row.
    public let width: Int
    /// Rows.
    public let height: Int
    /// Values per pixel: 1 (grey), 2 (grey and alpha), 3 (RGB) or 4 (RGBA).
    public let channels: Int
    /// The samples, `[height, width, channels]`, row-major, 8 bits each.
    public let pixels: [UInt8]   // [height, width, channels]

    /// The largest image any codec here will allocate: 2^26 pixels (8192 × 8192), so a forged
    /// header cannot make us reserve gigabytes before the data is even read.
    public static let maxPixelCount = 1 << 26

    /// Wraps `pixels` ([height, width, channels]) after checking the sizes agree.
    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) throws {
        try Image.checkGeometry(width: width, height: height, channels: channels, context: "Image")
        guard pixels.count == width * height * channels else {
            throw ImageError("Image: \(pixels.count) samples given, \(width)x\(height)x\(channels) needs \(width * height * channels)")
        }
        self.init(trusted: width, height, channels, pixels)
    }

    /// An image filled with one value (a blank canvas).
    public init(width: Int, height: Int, channels: Int, repeating value: UInt8) throws {
        try Image.checkGeometry(width: width, height: height, channels: channels, context: "Image")
        self.init(trusted: width, height, channels, [UInt8](repeating: value, count: width * height * channels))
    }

    /// For codecs that built `pixels` to the right size themselves.
    init(trusted width: Int, _ height: Int, _ channels: Int, _ pixels: [UInt8]) {
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }

    /// Throws unless 1 ≤ width, height, width × height ≤ `maxPixelCount`, channels ∈ {1, 3, 4}.
    static func checkGeometry(width: Int, height: Int, channels: Int, context: String) throws {
        guard width >= 1, height >= 1 else {
            throw ImageError("\(context): size \(width)x\(height) is empty or negative")
        }
        guard width <= maxPixelCount, height <= maxPixelCount, width * height <= maxPixelCount else {
            throw ImageError("\(context): size \(width)x\(height) exceeds the limit of \(maxPixelCount) pixels")
        }
        guard channels == 1 || channels == 3 || channels == 4 else {
            throw ImageError("\(context): \(channels) channels (expected 1, 3 or 4)")
        }
    }

    /// The same picture with 3 channels, as Pillow's `convert("RGB")` does it: gray is replicated
    /// into R, G and B, and alpha is dropped (not composited), which is also what torchvision
    /// preprocessing sees after `Image.open(path).convert("RGB")`.
    public func rgb() -> Image {
        if channels == 3 { return self }
        let count = width * height
        let channels = self.channels
        var out = [UInt8](repeating: 0, count: count * 3)   // [H, W, 3]
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for i in 0..<count {
                    if channels == 1 {
                        let g = src[i]
                        dst[3 * i] = g; dst[3 * i + 1] = g; dst[3 * i + 2] = g
                    } else {
                        dst[3 * i] = src[4 * i]; dst[3 * i + 1] = src[4 * i + 1]; dst[3 * i + 2] = src[4 * i + 2]
                    }
                }
            }
        }
        return Image(trusted: width, height, 3, out)
    }

    /// The same picture with 1 channel: luma by ITU-R 601-2 exactly as Pillow's `convert("L")`,
    /// L = (19595 R + 38470 G + 7471 B + 2^15) >> 16, i.e. 0.299 R + 0.587 G + 0.114 B rounded.
    /// Alpha is dropped.
    public func gray() -> Image {
        if channels == 1 { return self }
        let count = width * height
        let channels = self.channels
        var out = [UInt8](repeating: 0, count: count)   // [H, W]
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for i in 0..<count {
                    let r = UInt32(src[channels * i]), g = UInt32(src[channels * i + 1])
                    let b = UInt32(src[channels * i + 2])
                    dst[i] = UInt8((19595 * r + 38470 * g + 7471 * b + 0x8000) >> 16)
                }
            }
        }
        return Image(trusted: width, height, 1, out)
    }
}

/// Why an image could not be read or written: one line, "<format>: <problem>",
/// e.g. "PNG: CRC mismatch in chunk IDAT". Callers prefix the file name.
public struct ImageError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The message, without the file name.
    public let description: String

    /// An error with this message.
    public init(_ description: String) { self.description = description }
}
