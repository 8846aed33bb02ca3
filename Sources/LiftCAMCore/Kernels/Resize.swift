// Bilinear resizing, as PyTorch's F.interpolate(mode="bilinear", align_corners=False): how a
// class activation map of h×w becomes a saliency map of the image's H×W.

/// The two input positions an output position blends along one dimension, and their weights.
struct LinearTaps {
    var first: Int, second: Int
    var firstWeight: Float, secondWeight: Float
}

/// PyTorch's `compute_source_index_and_lambda` (align_corners = false): for equal sizes the
/// identity; otherwise src = (dst + 0.5) · (in / out) − 0.5 clamped below at 0, first = ⌊src⌋
/// (at most in − 1), second = first + 1 (at most in − 1), secondWeight = src − first.
/// The scale in / out is rounded to Float first, as PyTorch computes it.
@inline(__always)
func linearTaps(_ index: Int, inputSize: Int, outputSize: Int) -> LinearTaps {
    if inputSize == outputSize { return LinearTaps(first: index, second: index, firstWeight: 1, secondWeight: 0) }
    let scale = Float(inputSize) / Float(outputSize)
    let source = max(scale * (Float(index) + 0.5) - 0.5, 0)
    let first = min(Int(source), inputSize - 1)                  // source ≥ 0: truncation is floor
    let lambda = min(max(source - Float(first), 0), 1)
    return LinearTaps(first: first, second: first + (first < inputSize - 1 ? 1 : 0),
                      firstWeight: 1 - lambda, secondWeight: lambda)
}

/// input `[…, H, W]` and a positive target size. Returns (planes, H, W, output shape).
func checkResize(_ shape: [Int], height: Int, width: Int) -> (planes: Int, inputHeight: Int, inputWidth: Int, outputShape: [Int]) {
    precondition(shape.count >= 2 && shape[shape.count - 2] >= 1 && shape[shape.count - 1] >= 1 && height >= 1 && width >= 1,
                 "bilinearResize: \(shape) to \(height)×\(width)")
    let inputHeight = shape[shape.count - 2], inputWidth = shape[shape.count - 1]
    return (shape.product / (inputHeight * inputWidth), inputHeight, inputWidth, shape.dropLast(2) + [height, width])
}

/// Bilinear resize of the last two dimensions (any leading dimensions), as PyTorch's
/// F.interpolate(mode="bilinear", align_corners=False):
/// y[i, j] = hᵢ⁰ · (wⱼ⁰ · x[r⁰, c⁰] + wⱼ¹ · x[r⁰, c¹]) + hᵢ¹ · (wⱼ⁰ · x[r¹, c⁰] + wⱼ¹ · x[r¹, c¹]), taps from
/// `linearTaps`. Separable: every input row is first blended along the width (the inner brackets),
/// then output rows blend two of those rows in SIMD16 — the same operations in the same order as
/// the direct formula, so it matches `bilinearResizeNaive` bit for bit. Planes split over the cores.
public func bilinearResize(_ input: Tensor, height: Int, width: Int) -> Tensor {
    let (planes, inputHeight, inputWidth, outputShape) = checkResize(input.shape, height: height, width: width)
    let rowTaps = (0 ..< height).map { linearTaps($0, inputSize: inputHeight, outputSize: height) }
    let columnTaps = (0 ..< width).map { linearTaps($0, inputSize: inputWidth, outputSize: width) }
    return makeTensor(shape: outputShape) { outputBuffer in
        input.storage.withUnsafeBufferPointer { inputBuffer in
        rowTaps.withUnsafeBufferPointer { rowTaps in
        columnTaps.withUnsafeBufferPointer { columnTaps in
            let x = inputBuffer.baseAddress!, y = outputBuffer.baseAddress!
            forEachSlice(items: planes, totalWork: planes * (height + inputHeight) * width) { planeRange in
                // [H, width]: each input row already blended along the width.
                let blended = UnsafeMutablePointer<Float>.allocate(capacity: inputHeight * width)
                defer { blended.deallocate() }
                for plane in planeRange {
                    let source = x + plane * inputHeight * inputWidth
                    for row in 0 ..< inputHeight {
                        let inputRow = source + row * inputWidth, blendedRow = blended + row * width
                        for (j, tap) in columnTaps.enumerated() {
                            blendedRow[j] = tap.firstWeight * inputRow[tap.first] + tap.secondWeight * inputRow[tap.second]
                        }
                    }
                    let target = y + plane * height * width
                    for (i, tap) in rowTaps.enumerated() {
                        let top = blended + tap.first * width, bottom = blended + tap.second * width
                        let outputRow = target + i * width
                        let topWeight = Float32x16(repeating: tap.firstWeight)
                        let bottomWeight = Float32x16(repeating: tap.secondWeight)
                        var j = 0
                        while j + 16 <= width {
                            storeLanes(topWeight * loadLanes(top + j) + bottomWeight * loadLanes(bottom + j), outputRow + j)
                            j += 16
                        }
                        while j < width {
                            outputRow[j] = tap.firstWeight * top[j] + tap.secondWeight * bottom[j]
                            j += 1
                        }
                    }
                }
            }
        }}}
    }
}

/// The plain loops of `bilinearResize`: PyTorch's formula written out for every output element.
///
/// Reference implementation: literal mode, tests and benchmarks (ARCHITECTURE.md, "Naive twins").
public func bilinearResizeNaive(_ input: Tensor, height: Int, width: Int) -> Tensor {
    let (planes, inputHeight, inputWidth, outputShape) = checkResize(input.shape, height: height, width: width)
    /// One dimension of PyTorch's `compute_source_index_and_lambda`.
    func taps(_ index: Int, _ inputSize: Int, _ outputSize: Int) -> (Int, Int, Float, Float) {
        if inputSize == outputSize { return (index, index, 1, 0) }
        let source = max(Float(inputSize) / Float(outputSize) * (Float(index) + 0.5) - 0.5, 0)
        // source ≥ 0: truncation is floor (and needs no floorf, which bare-metal targets lack).
        let first = min(Int(source), inputSize - 1)
        let lambda = min(max(source - Float(first), 0), 1)
        return (first, min(first + 1, inputSize - 1), 1 - lambda, lambda)
    }
    var output = [Float](repeating: 0, count: outputShape.product)
    for plane in 0 ..< planes {
        let base = plane * inputHeight * inputWidth
        for i in 0 ..< height {
            let (r0, r1, h0, h1) = taps(i, inputHeight, height)
            for j in 0 ..< width {
                let (c0, c1, w0, w1) = taps(j, inputWidth, width)
                let top = w0 * input.storage[base + r0 * inputWidth + c0] + w1 * input.storage[base + r0 * inputWidth + c1]
                let bottom = w0 * input.storage[base + r1 * inputWidth + c0] + w1 * input.storage[base + r1 * inputWidth + c1]
                output[(plane * height + i) * width + j] = h0 * top + h1 * bottom
            }
        }
    }
    return Tensor(shape: outputShape, storage: output)
}
