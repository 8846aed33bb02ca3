// Max pooling's values alone, for a forward pass that keeps no trace (`MaxPool2dLayer.forward`).
//
// A window's maximum is the maximum over its columns of each column's maximum over the window's
// rows, so each output row is two one-dimensional passes: down the rows, sixteen contiguous columns
// at a time, into a row buffer already padded with −∞; then along that buffer with the stride,
// sixteen outputs at a time. Each input value is read once per output row that needs it instead of
// once per window, and no index is kept: ResNet's stem pool (3×3, stride 2, on 64×112×112) went from
// 0.84–0.98 ms in `maxPool2d` to the figure in Benchmarks/README.md.

/// The output of `maxPool2d` without the argmax: input `[N, C, H, W]` → `[N, C, oh, ow]`, PyTorch's
/// nn.MaxPool2d (padding −∞, ceil mode, NaN propagates).
///
/// Equal to `maxPool2dNaive(input, shape:).output` under `==` and NaN for NaN; the maximum is taken
/// column by column first, so where +0 and −0 tie for a window's maximum either sign may come out.
public func maxPool2dValues(_ input: Tensor, shape: Pool2dShape) -> Tensor {
    let (planes, height, width, outputHeight, outputWidth) = checkPooling(input.shape, shape: shape)
    let rows = PoolWindows(height: height, width: width, shape: shape).rows
    let (padding, stride, kernelWidth) = (shape.paddingWidth, shape.strideWidth, shape.kernelWidth)
    let outputChunks = (outputWidth + 15) / 16
    // Row buffer: column w at padding + w, −∞ around it, long enough that the last chunk's strided
    // loads (up to 32 floats from its last window offset) stay inside.
    let bufferLength = max(padding + width, outputChunks * 16 * stride + kernelWidth) + 32
    let outputPlane = outputHeight * outputWidth
    return makeTensor(shape: [input.shape[0], input.shape[1], outputHeight, outputWidth]) { outputBuffer in
        input.storage.withUnsafeBufferPointer { inputBuffer in
        rows.withUnsafeBufferPointer { rows in
            let x = inputBuffer.baseAddress!, y = outputBuffer.baseAddress!
            forEachSlice(items: planes, totalWork: input.count + outputPlane * planes) { planeRange in
                let buffer = allocateAlignedFloats(bufferLength)
                defer { buffer.deallocate() }
                buffer.initialize(repeating: -.infinity, count: bufferLength)
                let columnMaxima = buffer + padding
                for plane in planeRange {
                    let source = x + plane * height * width
                    for (outputRow, row) in rows.enumerated() {
                        maximaDownRows(source, width: width, rows: row.range, into: columnMaxima)
                        maximaAlongRow(buffer, stride: stride, kernelWidth: kernelWidth, outputWidth: outputWidth,
                                       into: y + plane * outputPlane + outputRow * outputWidth)
                    }
                }
            }
        }}
    }
}

/// The rule of `maxPool2dNaive`, lane by lane: `candidate` replaces `best` when greater or NaN.
@inline(__always)
func poolMaximum(_ best: Float32x16, _ candidate: Float32x16) -> Float32x16 {
    best.replacing(with: candidate, where: (candidate .> best) .| (candidate .!= candidate))
}

/// target[w] = the maximum of source[h · width + w] over h in `rows` (−∞ when `rows` is empty), for w
/// in 0..<width, sixteen columns at a time.
@inline(__always)
func maximaDownRows(_ source: UnsafePointer<Float>, width: Int, rows: Range<Int>, into target: UnsafeMutablePointer<Float>) {
    guard let first = rows.first else {
        target.update(repeating: -.infinity, count: width)
        return
    }
    var w = 0
    while w + 16 <= width {
        var best = loadLanes(source + first * width + w)
        for h in rows.dropFirst() { best = poolMaximum(best, loadLanes(source + h * width + w)) }
        storeLanes(best, target + w)
        w += 16
    }
    while w < width {
        var best = source[first * width + w]
        for h in rows.dropFirst() {
            let value = source[h * width + w]
            if value > best || value.isNaN { best = value }
        }
        target[w] = best
        w += 1
    }
}

/// target[j] = the maximum of buffer[j · stride + v] over v in 0..<kernelWidth, for j in
/// 0..<outputWidth: sixteen outputs at a time, the last chunk through a scratch vector. `buffer`
/// must hold (⌈outputWidth / 16⌉ · 16) · stride + kernelWidth + 32 floats.
@inline(__always)
func maximaAlongRow(_ buffer: UnsafePointer<Float>, stride: Int, kernelWidth: Int, outputWidth: Int,
                    into target: UnsafeMutablePointer<Float>) {
    var j = 0
    while j < outputWidth {
        let start = buffer + j * stride
        var best = loadStridedLanes(start, stride: stride, pairsFit: true)
        for v in 1 ..< kernelWidth { best = poolMaximum(best, loadStridedLanes(start + v, stride: stride, pairsFit: true)) }
        if j + 16 <= outputWidth {
            storeLanes(best, target + j)
        } else {
            for lane in 0 ..< outputWidth - j { target[j + lane] = best[lane] }
        }
        j += 16
    }
}
