/// Bilinear resampling of planar Float maps, as PyTorch's
/// `F.interpolate(x, size=(toHeight, toWidth), mode="bilinear", align_corners=False)`.
///
/// `values` is [channels, height, width]; the result is [channels, toHeight, toWidth]. Output pixel
/// centres map back by src = (dst + 0.5) · in / out − 0.5, clamped at 0 (PyTorch's
/// `area_pixel_compute_source_index`); the right/bottom neighbour is clamped to the last pixel.
public func resizeBilinear(_ values: [Float], channels: Int, height: Int, width: Int,
                           toHeight: Int, toWidth: Int) throws -> [Float] {
    guard channels >= 1, height >= 1, width >= 1, toHeight >= 1, toWidth >= 1,
          toWidth <= Image.maxPixelCount, toHeight <= Image.maxPixelCount,
          toWidth * toHeight <= Image.maxPixelCount, channels <= 4096 else {
        throw ImageError("resize: cannot resize \(channels)x\(height)x\(width) to \(toHeight)x\(toWidth)")
    }
    guard values.count == channels * height * width else {
        throw ImageError("resize: \(values.count) values for a \(channels)x\(height)x\(width) map")
    }
    let rows = BilinearAxis(from: height, to: toHeight), columns = BilinearAxis(from: width, to: toWidth)
    var out = [Float](repeating: 0, count: channels * toHeight * toWidth)   // [C, toHeight, toWidth]
    for c in 0..<channels {
        let plane = c * height * width
        for y in 0..<toHeight {
            let top = plane + rows.low[y] * width, bottom = plane + rows.high[y] * width
            let wy1 = rows.weight[y], wy0 = 1 - wy1
            for x in 0..<toWidth {
                let x0 = columns.low[x], x1 = columns.high[x]
                let wx1 = columns.weight[x], wx0 = 1 - wx1
                out[(c * toHeight + y) * toWidth + x] =
                    wy0 * (wx0 * values[top + x0] + wx1 * values[top + x1])
                    + wy1 * (wx0 * values[bottom + x0] + wx1 * values[bottom + x1])
            }
        }
    }
    return out
}

/// For each output index along one axis: the two source indices and the weight of the second.
struct BilinearAxis {
    var low: [Int] = [], high: [Int] = [], weight: [Float] = []

    init(from input: Int, to output: Int) {
        let scale = Float(input) / Float(output)
        for i in 0..<output {
            let source = max(scale * (Float(i) + 0.5) - 0.5, 0)
            let index = min(Int(source), input - 1)
            low.append(index)
            high.append(index < input - 1 ? index + 1 : index)
            weight.append(source - Float(index))
        }
    }
}

extension Image {
    /// This image resampled bilinearly to `width` × `height` (PyTorch `align_corners=False`
    /// semantics, per channel), each result rounded to the nearest byte. For display only: like
    /// PyTorch without antialiasing, strong shrinking skips pixels instead of averaging them.
    public func resized(width newWidth: Int, height newHeight: Int) throws -> Image {
        try Image.checkGeometry(width: newWidth, height: newHeight, channels: channels, context: "resize")
        // Interleaved [H, W, C] to planar [C, H, W] and back around the Float kernel.
        var planar = [Float](repeating: 0, count: pixels.count)
        for i in 0..<width * height { for c in 0..<channels { planar[c * width * height + i] = Float(pixels[i * channels + c]) } }
        let resized = try resizeBilinear(planar, channels: channels, height: height, width: width,
                                         toHeight: newHeight, toWidth: newWidth)
        let count = newWidth * newHeight
        var out = [UInt8](repeating: 0, count: count * channels)
        for i in 0..<count {
            for c in 0..<channels { out[i * channels + c] = UInt8(min(max(resized[c * count + i].rounded(), 0), 255)) }
        }
        return Image(trusted: newWidth, newHeight, channels, out)
    }
}
