// Max pooling (PyTorch nn.MaxPool2d, dilation 1) and the window arithmetic all pools share.

/// The hyper-parameters of a max or average pooling layer.
public struct Pool2dShape: Equatable, Sendable {
    /// Window size, step and zero padding (for max-pooling, −∞ padding) in each direction, as PyTorch's
    /// `kernel_size`, `stride` and `padding`.
    public var kernelHeight, kernelWidth, strideHeight, strideWidth, paddingHeight, paddingWidth: Int
    /// PyTorch's ceil_mode: the output size rounds up, but the last window must start inside the
    /// input or its left padding.
    public var ceilMode: Bool

    /// A pooling geometry; `ceilMode` is PyTorch's `ceil_mode`.
    public init(kernelHeight: Int, kernelWidth: Int, strideHeight: Int, strideWidth: Int,
                paddingHeight: Int = 0, paddingWidth: Int = 0, ceilMode: Bool = false) {
        self.kernelHeight = kernelHeight
        self.kernelWidth = kernelWidth
        self.strideHeight = strideHeight
        self.strideWidth = strideWidth
        self.paddingHeight = paddingHeight
        self.paddingWidth = paddingWidth
        self.ceilMode = ceilMode
    }

    /// PyTorch's `pooling_output_shape`: ⌊(H + 2p − k + (ceil ? s − 1 : 0)) / s⌋ + 1, minus one in
    /// ceil mode when that last window would start at or past H + p.
    public func outputSize(height: Int, width: Int) -> (height: Int, width: Int) {
        (pooledLength(height, kernel: kernelHeight, stride: strideHeight, padding: paddingHeight, ceilMode: ceilMode),
         pooledLength(width, kernel: kernelWidth, stride: strideWidth, padding: paddingWidth, ceilMode: ceilMode))
    }
}

/// Output length of a pool along one dimension (PyTorch's rule, see `Pool2dShape.outputSize`).
func pooledLength(_ size: Int, kernel: Int, stride: Int, padding: Int, ceilMode: Bool) -> Int {
    var length = floorDivide(size + 2 * padding - kernel + (ceilMode ? stride - 1 : 0), stride) + 1
    if ceilMode && (length - 1) * stride >= size + padding { length -= 1 }
    return length
}

/// The window of output position `index` along one dimension: the input range it reads (padding
/// clipped away) and its length counting padding but not the part past the right padding, which
/// is PyTorch's average-pool divisor (count_include_pad = true).
@inline(__always)
func poolWindow(_ index: Int, size: Int, kernel: Int, stride: Int, padding: Int) -> (range: Range<Int>, paddedLength: Int) {
    let start = index * stride - padding
    let end = min(start + kernel, size)
    let paddedEnd = min(start + kernel, size + padding)
    let clippedStart = max(start, 0)
    return (clippedStart ..< max(end, clippedStart), paddedEnd - start)
}

/// The windows of every output row and column, computed once per call instead of once per element.
struct PoolWindows {
    var rows: [(range: Range<Int>, paddedLength: Int)]
    var columns: [(range: Range<Int>, paddedLength: Int)]

    init(height: Int, width: Int, shape: Pool2dShape) {
        let (outputHeight, outputWidth) = shape.outputSize(height: height, width: width)
        rows = (0 ..< outputHeight).map {
            poolWindow($0, size: height, kernel: shape.kernelHeight, stride: shape.strideHeight, padding: shape.paddingHeight)
        }
        columns = (0 ..< outputWidth).map {
            poolWindow($0, size: width, kernel: shape.kernelWidth, stride: shape.strideWidth, padding: shape.paddingWidth)
        }
    }
}

/// Input `[N, C, H, W]` fits `shape` (PyTorch's limits: padding at most half the kernel, positive
/// output). Returns (planes N·C, H, W, oh, ow).
func checkPooling(_ inputShape: [Int], shape: Pool2dShape)
    -> (planes: Int, height: Int, width: Int, outputHeight: Int, outputWidth: Int) {
    precondition(inputShape.count == 4, "pool2d: input \(inputShape) is not [N, C, H, W]")
    precondition(shape.kernelHeight >= 1 && shape.kernelWidth >= 1 && shape.strideHeight >= 1 && shape.strideWidth >= 1
                     && shape.paddingHeight >= 0 && shape.paddingWidth >= 0
                     && 2 * shape.paddingHeight <= shape.kernelHeight && 2 * shape.paddingWidth <= shape.kernelWidth,
                 "pool2d: bad kernel, stride or padding in \(shape)")
    let (outputHeight, outputWidth) = shape.outputSize(height: inputShape[2], width: inputShape[3])
    precondition(outputHeight >= 1 && outputWidth >= 1, "pool2d: input \(inputShape) smaller than the window")
    return (inputShape[0] * inputShape[1], inputShape[2], inputShape[3], outputHeight, outputWidth)
}

/// Max pooling as PyTorch's nn.MaxPool2d, with the position of each maximum.
///
/// input `[N, C, H, W]` → output `[N, C, oh, ow]`; `argmax[i]` is the flat index h·W + w, inside its
/// input plane, of the maximum that output element i (NCHW order) took. PyTorch's rule: padding is
/// −∞ (never chosen), the first maximum in row-major window order wins (a later value must be
/// strictly greater), and a NaN replaces the maximum, so NaN propagates (the last NaN's index).
/// Planes are split over the cores; window bounds are computed once per row and column; away from
/// the edges 16 outputs of a row are computed at once in SIMD, with lane masks instead of branches
/// (which element wins is unpredictable, and the mispredicted branches made the scalar loop as slow
/// as the naive one).
public func maxPool2d(_ input: Tensor, shape: Pool2dShape) -> (output: Tensor, argmax: [Int32]) {
    let (planes, height, width, outputHeight, outputWidth) = checkPooling(input.shape, shape: shape)
    let windows = PoolWindows(height: height, width: width, shape: shape)
    let outputPlane = outputHeight * outputWidth
    var argmax = [Int32](repeating: 0, count: planes * outputPlane)
    let output = makeTensor(shape: [input.shape[0], input.shape[1], outputHeight, outputWidth]) { outputBuffer in
        input.storage.withUnsafeBufferPointer { inputBuffer in
        argmax.withUnsafeMutableBufferPointer { argmaxBuffer in
        windows.rows.withUnsafeBufferPointer { rows in
        windows.columns.withUnsafeBufferPointer { columns in
            let x = inputBuffer.baseAddress!, y = outputBuffer.baseAddress!, at = argmaxBuffer.baseAddress!
            let padding = shape.paddingWidth, stride = shape.strideWidth, kernelWidth = shape.kernelWidth
            let interior = interiorOutputColumns(width: width, outputWidth: outputWidth, shape: shape)
            forEachSlice(items: planes, totalWork: input.count + outputPlane * planes) { planeRange in
                for plane in planeRange {
                    let source = x + plane * height * width
                    for (outputRow, row) in rows.enumerated() {
                        let target = y + plane * outputPlane + outputRow * outputWidth
                        let targetIndex = at + plane * outputPlane + outputRow * outputWidth
                        var column = 0
                        while column < outputWidth {
                            if column >= interior.lowerBound && column + 16 <= interior.upperBound {
                                maxPoolSixteenColumns(source, width: width, rows: row.range,
                                                      firstColumn: column * stride - padding, stride: stride,
                                                      kernelWidth: kernelWidth, into: target + column, indices: targetIndex + column)
                                column += 16
                            } else {
                                let window = columns[column].range
                                var best = -Float.infinity, bestIndex = row.range.lowerBound * width + window.lowerBound
                                for h in row.range {
                                    for w in window {
                                        let value = source[h * width + w]
                                        if value > best || value.isNaN { (best, bestIndex) = (value, h * width + w) }
                                    }
                                }
                                target[column] = best
                                targetIndex[column] = Int32(truncatingIfNeeded: bestIndex)
                                column += 1
                            }
                        }
                    }
                }
            }
        }}}}
    }
    return (output, argmax)
}

/// The output columns whose windows lie entirely inside the input row: there pooling runs 16
/// outputs at a time in SIMD (`loadStridedLanes`), elsewhere one at a time.
func interiorOutputColumns(width: Int, outputWidth: Int, shape: Pool2dShape) -> Range<Int> {
    let low = min(outputWidth, (shape.paddingWidth + shape.strideWidth - 1) / shape.strideWidth)
    let high = min(outputWidth, floorDivide(width + shape.paddingWidth - shape.kernelWidth, shape.strideWidth) + 1)
    return low ..< max(low, high)
}

/// start[0], start[stride], …, start[15·stride] as one SIMD16. Stride 1 is one load; stride 2 loads
/// 32 contiguous floats and keeps the even ones, allowed only when `pairsFit` (the 32nd float, one
/// past the last one needed, is still inside the row); other strides gather lane by lane.
@inline(__always)
func loadStridedLanes(_ start: UnsafePointer<Float>, stride: Int, pairsFit: Bool) -> Float32x16 {
    if stride == 1 { return loadLanes(start) }
    if stride == 2 && pairsFit { return UnsafeRawPointer(start).loadUnaligned(as: SIMD32<Float>.self).evenHalf }
    var gathered = Float32x16()
    for lane in 0 ..< 16 { gathered[lane] = start[lane * stride] }
    return gathered
}

/// Max pooling of 16 consecutive outputs of one row whose windows all lie inside the row: lane i
/// covers input columns `firstColumn + i·stride ..< … + kernelWidth` of rows `rows`. Same rule as the
/// scalar loop, lane by lane: replace when greater or NaN, in row-major window order.
@inline(__always)
func maxPoolSixteenColumns(_ source: UnsafePointer<Float>, width: Int, rows: Range<Int>, firstColumn: Int,
                           stride: Int, kernelWidth: Int,
                           into target: UnsafeMutablePointer<Float>, indices: UnsafeMutablePointer<Int32>) {
    let laneOffsets = SIMD16<Int32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15) &* Int32(stride)
    var best = Float32x16(repeating: -.infinity)
    var bestIndex = SIMD16<Int32>(repeating: Int32(truncatingIfNeeded: rows.lowerBound * width + firstColumn)) &+ laneOffsets
    let pairsFit = firstColumn + kernelWidth + 30 < width
    for h in rows {
        let rowStart = source + h * width + firstColumn
        for v in 0 ..< kernelWidth {
            let values = loadStridedLanes(rowStart + v, stride: stride, pairsFit: pairsFit)
            let candidates = SIMD16<Int32>(repeating: Int32(truncatingIfNeeded: h * width + firstColumn + v)) &+ laneOffsets
            let replaces = (values .> best) .| (values .!= values)
            best.replace(with: values, where: replaces)
            bestIndex.replace(with: candidates, where: replaces)
        }
    }
    storeLanes(best, target)
    UnsafeMutableRawPointer(indices).storeBytes(of: bestIndex, as: SIMD16<Int32>.self)
}

/// The plain loops of `maxPool2d`, window bounds recomputed for every output element.
///
/// Reference implementation: literal mode, tests and benchmarks (ARCHITECTURE.md, "Naive twins").
public func maxPool2dNaive(_ input: Tensor, shape: Pool2dShape) -> (output: Tensor, argmax: [Int32]) {
    let (planes, height, width, outputHeight, outputWidth) = checkPooling(input.shape, shape: shape)
    var output = [Float](repeating: 0, count: planes * outputHeight * outputWidth)
    var argmax = [Int32](repeating: 0, count: output.count)
    for plane in 0 ..< planes {
        for i in 0 ..< outputHeight {
            for j in 0 ..< outputWidth {
                let top = max(i * shape.strideHeight - shape.paddingHeight, 0)
                let bottom = min(i * shape.strideHeight - shape.paddingHeight + shape.kernelHeight, height)
                let left = max(j * shape.strideWidth - shape.paddingWidth, 0)
                let right = min(j * shape.strideWidth - shape.paddingWidth + shape.kernelWidth, width)
                var best = -Float.infinity, bestIndex = top * width + left
                for h in top ..< max(bottom, top) {
                    for w in left ..< max(right, left) {
                        let value = input.storage[plane * height * width + h * width + w]
                        if value > best || value.isNaN { (best, bestIndex) = (value, h * width + w) }
                    }
                }
                output[(plane * outputHeight + i) * outputWidth + j] = best
                argmax[(plane * outputHeight + i) * outputWidth + j] = Int32(bestIndex)
            }
        }
    }
    return (Tensor(shape: [input.shape[0], input.shape[1], outputHeight, outputWidth], storage: output), argmax)
}

/// Gradient of max pooling: each output gradient goes to the input position its maximum came from,
/// added where windows overlap and share a maximum. gradOutput `[N, C, oh, ow]` with the `argmax`
/// of the forward pass → `[N, C, H, W]` (`inputShape`). Planes are split over the cores.
public func maxPool2dBackward(_ gradOutput: Tensor, argmax: [Int32], inputShape: [Int]) -> Tensor {
    checkMaxPoolBackward(gradOutput, argmax: argmax, inputShape: inputShape)
    let planes = inputShape[0] * inputShape[1], planeSize = inputShape[2] * inputShape[3]
    let outputPlane = gradOutput.shape[2] * gradOutput.shape[3]
    var gradInput = Tensor(shape: inputShape)
    gradInput.storage.withUnsafeMutableBufferPointer { gradInputBuffer in
    gradOutput.storage.withUnsafeBufferPointer { gradOutputBuffer in
    argmax.withUnsafeBufferPointer { argmaxBuffer in
        let dx = gradInputBuffer.baseAddress!, dy = gradOutputBuffer.baseAddress!, at = argmaxBuffer.baseAddress!
        forEachSlice(items: planes, totalWork: gradOutput.count) { planeRange in
            for plane in planeRange {
                let target = dx + plane * planeSize
                for i in plane * outputPlane ..< (plane + 1) * outputPlane {
                    let index = Int(at[i])
                    precondition(index >= 0 && index < planeSize, "maxPool2dBackward: argmax \(index) outside the plane")
                    target[index] += dy[i]
                }
            }
        }
    }}}
    return gradInput
}

/// The plain loop of `maxPool2dBackward`: dx[n, c, argmax[i]] += dy[i] for every output element i.
public func maxPool2dBackwardNaive(_ gradOutput: Tensor, argmax: [Int32], inputShape: [Int]) -> Tensor {
    checkMaxPoolBackward(gradOutput, argmax: argmax, inputShape: inputShape)
    let planeSize = inputShape[2] * inputShape[3], outputPlane = gradOutput.shape[2] * gradOutput.shape[3]
    var gradInput = Tensor(shape: inputShape)
    for i in 0 ..< gradOutput.count {
        gradInput.storage[(i / outputPlane) * planeSize + Int(argmax[i])] += gradOutput.storage[i]
    }
    return gradInput
}

/// The check both twins of `maxPool2dBackward` make: gradOutput `[N, C, oh, ow]` with the input's
/// N and C, and one argmax per output element.
func checkMaxPoolBackward(_ gradOutput: Tensor, argmax: [Int32], inputShape: [Int]) {
    precondition(inputShape.count == 4 && gradOutput.rank == 4 && gradOutput.shape[0] == inputShape[0]
                     && gradOutput.shape[1] == inputShape[1] && argmax.count == gradOutput.count,
                 "maxPool2dBackward: gradOutput \(gradOutput.shape) does not fit input \(inputShape)")
}
