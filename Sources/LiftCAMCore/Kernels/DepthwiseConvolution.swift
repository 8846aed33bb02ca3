// Depthwise convolution (groups == input channels, MobileNet's and EfficientNet's hot spot) and its
// transpose, computed directly in SIMD16 along output rows: one multiply-add per kernel tap and
// 16 outputs, no unfolding and no GEMM (a depthwise layer has one input channel per output). Grouped
// convolutions with narrow groups (RegNet, ShuffleNet) run the same rows, summed over the group.
//
// Each input plane is first copied into a padded plane: zero rows and columns on every side, and
// for stride s its columns split into s phases (phase p holds columns p, p + s, p + 2s, …). Output
// column ox then reads kernel column v at phase (v·d) mod s, position ox + (v·d) div s: 16 outputs
// read 16 consecutive floats whatever the stride, dilation and padding, and no column needs a border
// test. The backward pass adds into such a plane the same way and copies it back.

/// Where one input plane lives in its padded, phase-split copy.
///
/// Padded row r (image row r − p_top) holds `stride` phase rows of `rowLength` floats; element t of
/// phase p is image column p + s·t − p_left (zero outside the image). Rows cover every row the
/// outputs read, `rowLength` every column a 16-wide block of outputs reads.
struct DepthwisePlaneLayout {
    let stride, rows, rowLength, kernelHeight, kernelWidth: Int
    /// Floats from one kernel row to the next: d_h padded rows.
    let kernelRowStep: Int
    /// Floats from one output row to the next: s_h padded rows.
    let outputRowStep: Int
    let paddingTop, paddingLeft: Int

    init(shape: Conv2dShape, outputHeight: Int, outputWidth: Int) {
        stride = shape.strideWidth
        kernelHeight = shape.kernelHeight
        kernelWidth = shape.kernelWidth
        rows = (outputHeight - 1) * shape.strideHeight + (kernelHeight - 1) * shape.dilationHeight + 1
        rowLength = (outputWidth + 15) / 16 * 16 + (kernelWidth - 1) * shape.dilationWidth / stride
        kernelRowStep = shape.dilationHeight * stride * rowLength
        outputRowStep = shape.strideHeight * stride * rowLength
        (paddingTop, paddingLeft) = (shape.paddingHeight, shape.paddingWidth)
    }

    /// Floats of the whole padded plane.
    var count: Int { rows * stride * rowLength }

    /// Offset of kernel column v's first read within a padded row: its phase row, then (v·d) div s.
    func tapOffset(_ v: Int, dilation: Int) -> Int {
        let (quotient, phase) = (v * dilation).quotientAndRemainder(dividingBy: stride)
        return phase * rowLength + quotient
    }

    /// For phase p, the positions t whose image column p + s·t − p_left lies in 0..<width.
    func imageColumns(phase: Int, width: Int) -> Range<Int> {
        let first = max(0, (paddingLeft - phase + stride - 1) / stride)
        let end = min(rowLength, max(0, floorDivide(width - 1 + paddingLeft - phase, stride) + 1))
        return min(first, end) ..< end
    }

    /// Copies plane `[height, width]` into the image part of `padded` (`count` floats). The rest, the
    /// padding, is never written: zero it once for every plane that goes through the same buffer.
    func fill(_ plane: UnsafePointer<Float>, height: Int, width: Int, into padded: UnsafeMutablePointer<Float>) {
        for r in min(paddingTop, rows) ..< min(rows, paddingTop + height) {
            let row = padded + r * stride * rowLength, source = plane + (r - paddingTop) * width
            for phase in 0 ..< stride {
                let target = row + phase * rowLength, inside = imageColumns(phase: phase, width: width)
                let first = source + phase - paddingLeft
                if stride == 1 {
                    (target + inside.lowerBound).update(from: first + inside.lowerBound, count: inside.count)
                    continue
                }
                var t = inside.lowerBound
                if stride == 2 {
                    // 16 at a time: the even lanes of 32 consecutive floats, all inside the image row.
                    while t + 16 <= inside.upperBound && 2 * t + 31 + phase - paddingLeft < width {
                        storeLanes(UnsafeRawPointer(first + 2 * t).loadUnaligned(as: SIMD32<Float>.self).evenHalf, target + t)
                        t += 16
                    }
                }
                while t < inside.upperBound {
                    target[t] = first[stride * t]
                    t += 1
                }
            }
        }
    }

    /// The transpose of `fill`: writes plane `[height, width]` from `padded` (padding dropped).
    func extract(_ padded: UnsafePointer<Float>, height: Int, width: Int, into plane: UnsafeMutablePointer<Float>) {
        plane.update(repeating: 0, count: height * width)
        for y in 0 ..< max(0, min(height, rows - paddingTop)) {
            let row = padded + (y + paddingTop) * stride * rowLength, target = plane + y * width
            if stride == 2 {
                // 32 columns at a time: the two phase rows interleaved, from the first column of phase 0.
                let start = min(paddingLeft % 2, width)
                var column = start
                while column + 32 <= width && (column + paddingLeft) / 2 + 16 <= rowLength {
                    let t = (column + paddingLeft) / 2
                    var pair = SIMD32<Float>()
                    pair.evenHalf = loadLanes(row + t)
                    pair.oddHalf = loadLanes(row + rowLength + t)
                    UnsafeMutableRawPointer(target + column).storeBytes(of: pair, as: SIMD32<Float>.self)
                    column += 32
                }
                for x in 0 ..< width where x < start || x >= column {
                    let (t, phase) = (x + paddingLeft).quotientAndRemainder(dividingBy: 2)
                    if t < rowLength { target[x] = row[phase * rowLength + t] }
                }
                continue
            }
            for phase in 0 ..< stride {
                let source = row + phase * rowLength, first = target + phase - paddingLeft
                for t in imageColumns(phase: phase, width: width) { first[stride * t] = source[t] }
            }
        }
    }
}

/// PyTorch's nn.Conv2d with `groups == inChannels`: output channel o = c·m + j (m = O / C) filters
/// input plane c with its own kernel, y[n,o] = b[o] + w[o] ⋆ x[n,c], any kernel size, stride,
/// dilation and padding; `applyReLU` returns max(0, y).
///
/// input `[N, C, H, W]`, weight `[O, 1, kh, kw]`, bias `[O]` → `[N, O, oh, ow]`. Runs `conv2dDirect`:
/// planes (n, c) split over the cores; each is copied into its padded layout (`DepthwisePlaneLayout`), then every output
/// row is computed 16 columns at a time, the last block overlapping the one before it (or, on planes
/// narrower than 16, one block stored in part). Sums run over (u, v) as `conv2dNaive`'s, fused.
public func conv2dDepthwise(_ input: Tensor, weight: Tensor, bias: Tensor?, shape: Conv2dShape,
                            applyReLU: Bool = false) -> Tensor {
    precondition(shape.isDepthwise, "conv2dDepthwise: \(shape) is not depthwise")
    return conv2dDirect(input, weight: weight, bias: bias, shape: shape, applyReLU: applyReLU)
}

/// Grouped convolutions with at most this many input channels per group (RegNet's group width 8,
/// ShuffleNet's) run as `conv2dDepthwise` does, summing over the group's padded planes
/// (`Conv2dShape.runsDirect`): 2× faster than im2col + GEMM at 8 channels, no faster at 16 (each
/// 16-wide load feeds one multiply-add), 2× slower at 32 (liftcam-bench grouped, Benchmarks/README.md).
let directGroupChannelLimit = 8

extension Conv2dShape {
    /// Whether `conv2d` computes this convolution directly (`conv2dDirect`) rather than by im2col + GEMM:
    /// depthwise, or more than one group of at most `directGroupChannelLimit` input channels.
    var runsDirect: Bool { groups > 1 && inChannelsPerGroup <= directGroupChannelLimit }
}

/// `conv2dDepthwise` for any grouped convolution: items (n, g) split over the cores; the group's C/G
/// input planes are copied into padded layouts, and each output row of each of its O/G channels is
/// b[o] + Σ_c Σ_{u,v} w[o,c,u,v] · (16 inputs), in `conv2dNaive`'s order, fused.
func conv2dDirect(_ input: Tensor, weight: Tensor, bias: Tensor?, shape: Conv2dShape, applyReLU: Bool) -> Tensor {
    let (batch, height, width, outputHeight, outputWidth) =
        checkConvolution(inputShape: input.shape, weight: weight, shape: shape)
    precondition(bias == nil || bias!.count == shape.outChannels, "conv2d: bias does not match \(shape)")
    let groups = shape.groups, outChannels = shape.outChannels
    let groupIn = shape.inChannelsPerGroup, groupOut = shape.outChannelsPerGroup
    let layout = DepthwisePlaneLayout(shape: shape, outputHeight: outputHeight, outputWidth: outputWidth)
    let taps = shape.kernelHeight * shape.kernelWidth, planeSize = outputHeight * outputWidth
    let biasValues = bias?.storage ?? [Float](repeating: 0, count: outChannels)
    return makeTensor(shape: [batch, outChannels, outputHeight, outputWidth]) { output in
        let out = output.baseAddress!
        input.storage.withUnsafeBufferPointer { x in
        weight.storage.withUnsafeBufferPointer { w in
            forEachSlice(items: batch * groups, totalWork: 2 * batch * outChannels * planeSize * taps * groupIn) { items in
                let padded = allocateAlignedFloats(groupIn * layout.count)
                let offsets = UnsafeMutablePointer<Int>.allocate(capacity: shape.kernelWidth)
                defer {
                    padded.deallocate()
                    offsets.deallocate()
                }
                padded.initialize(repeating: 0, count: groupIn * layout.count)   // the padding, for every item
                for v in 0 ..< shape.kernelWidth { offsets[v] = layout.tapOffset(v, dilation: shape.dilationWidth) }
                for item in items {   // n · G + g: the group's input planes are consecutive
                    for c in 0 ..< groupIn {
                        layout.fill(x.baseAddress! + (item * groupIn + c) * height * width, height: height, width: width,
                                    into: padded + c * layout.count)
                    }
                    for j in 0 ..< groupOut {
                        let o = item % groups * groupOut + j, n = item / groups
                        directRows(padded, channels: groupIn, layout: layout, offsets: offsets,
                                   kernel: w.baseAddress! + o * groupIn * taps, bias: biasValues[o], applyReLU: applyReLU,
                                   outputHeight: outputHeight, outputWidth: outputWidth, into: out + (n * outChannels + o) * planeSize)
                    }
                }
            }
        }}
    }
}

/// One output plane from its group's padded input planes (`channels` of them, `layout.count` apart),
/// with the kernel sizes of the common cases made constants so that the loops over the taps unroll.
private func directRows(_ padded: UnsafePointer<Float>, channels: Int, layout: DepthwisePlaneLayout,
                        offsets: UnsafePointer<Int>, kernel: UnsafePointer<Float>, bias: Float, applyReLU: Bool,
                        outputHeight: Int, outputWidth: Int, into out: UnsafeMutablePointer<Float>) {
    switch (layout.kernelHeight, layout.kernelWidth) {
    case (3, 3):
        directRows(padded, channels: channels, layout: layout, kernelHeight: 3, kernelWidth: 3, offsets: offsets,
                   kernel: kernel, bias: bias, applyReLU: applyReLU, outputHeight: outputHeight, outputWidth: outputWidth, into: out)
    case (5, 5):
        directRows(padded, channels: channels, layout: layout, kernelHeight: 5, kernelWidth: 5, offsets: offsets,
                   kernel: kernel, bias: bias, applyReLU: applyReLU, outputHeight: outputHeight, outputWidth: outputWidth, into: out)
    default:
        directRows(padded, channels: channels, layout: layout, kernelHeight: layout.kernelHeight,
                   kernelWidth: layout.kernelWidth, offsets: offsets, kernel: kernel, bias: bias, applyReLU: applyReLU,
                   outputHeight: outputHeight, outputWidth: outputWidth, into: out)
    }
}

@inline(__always)
private func directRows(_ padded: UnsafePointer<Float>, channels: Int, layout: DepthwisePlaneLayout,
                        kernelHeight: Int, kernelWidth: Int, offsets: UnsafePointer<Int>, kernel: UnsafePointer<Float>,
                        bias: Float, applyReLU: Bool, outputHeight: Int, outputWidth: Int, into out: UnsafeMutablePointer<Float>) {
    let kernelRowStep = layout.kernelRowStep, planeStep = layout.count, taps = kernelHeight * kernelWidth
    /// The 16 outputs of row `top`'s block at column `column`.
    @inline(__always) func block(_ top: UnsafePointer<Float>, _ column: Int) -> Float32x16 {
        var sum = Float32x16(repeating: bias)
        for c in 0 ..< channels {
            let plane = top + c * planeStep + column, channelKernel = kernel + c * taps
            for u in 0 ..< kernelHeight {
                let row = plane + u * kernelRowStep
                for v in 0 ..< kernelWidth {
                    sum = multiplyAdd(sum, channelKernel[u * kernelWidth + v], loadLanes(row + offsets[v]))
                }
            }
        }
        return applyReLU ? sum.replacing(with: 0, where: sum .< 0) : sum
    }
    for oy in 0 ..< outputHeight {
        let top = padded + oy * layout.outputRowStep, target = out + oy * outputWidth
        if outputWidth < 16 {
            let lanes = block(top, 0)
            for i in 0 ..< outputWidth { target[i] = lanes[i] }
            continue
        }
        var column = 0
        while column + 16 <= outputWidth {
            storeLanes(block(top, column), target + column)
            column += 16
        }
        if column < outputWidth { storeLanes(block(top, outputWidth - 16), target + outputWidth - 16) }
    }
}

/// The input gradient of `conv2dDepthwise` (its transpose): dx[n,c] = Σ_j w[c·m + j] ⋆ᵀ dy[n, c·m + j].
///
/// gradOutput `[N, O, oh, ow]`, weight `[O, 1, kh, kw]` → `[N, C, H, W]`. With stride 1 and one output
/// per channel (MobileNet's stride-1 layers) that is itself a depthwise correlation, of dy with the
/// kernels turned by 180° (`depthwiseTransposeAsCorrelation`), which `conv2dDepthwise` computes.
/// Otherwise planes (n, c) split over the cores; each adds w[u,v] · dy for 16 output columns at a
/// time into a zeroed padded plane (the layout the forward reads: each block lands on 16 consecutive
/// floats), then copies the image part of that plane out. Output rows are copied into a zero-tailed
/// row first, so the last block adds 0 past the row's end.
public func conv2dDepthwiseBackwardInput(_ gradOutput: Tensor, weight: Tensor, shape: Conv2dShape,
                                         inputHeight: Int, inputWidth: Int) -> Tensor {
    let (batch, outputHeight, outputWidth) =
        checkConvolutionBackward(gradOutput.shape, weight: weight, shape: shape, inputHeight: inputHeight, inputWidth: inputWidth)
    precondition(shape.isDepthwise, "conv2dDepthwiseBackwardInput: \(shape) is not depthwise")
    if let transposed = shape.depthwiseTransposeAsCorrelation {
        let taps = shape.kernelHeight * shape.kernelWidth
        let flipped = Tensor(shape: weight.shape, storage: (0 ..< weight.count).map { i in
            let (channel, tap) = i.quotientAndRemainder(dividingBy: taps)
            return weight.storage[channel * taps + taps - 1 - tap]
        })
        return conv2dDepthwise(gradOutput, weight: flipped, bias: nil, shape: transposed)
    }
    let channels = shape.inChannels, outChannels = shape.outChannels, multiplier = shape.outChannelsPerGroup
    let layout = DepthwisePlaneLayout(shape: shape, outputHeight: outputHeight, outputWidth: outputWidth)
    let (kernelHeight, kernelWidth) = (shape.kernelHeight, shape.kernelWidth)
    let taps = kernelHeight * kernelWidth, planeSize = outputHeight * outputWidth
    let paddedWidth = (outputWidth + 15) / 16 * 16, inputPlaneSize = inputHeight * inputWidth
    return makeTensor(shape: [batch, channels, inputHeight, inputWidth]) { gradInput in
        let dx = gradInput.baseAddress!
        gradOutput.storage.withUnsafeBufferPointer { dy in
        weight.storage.withUnsafeBufferPointer { w in
            forEachSlice(items: batch * channels, totalWork: 2 * batch * outChannels * planeSize * taps) { planes in
                let padded = allocateAlignedFloats(layout.count), gradientRow = allocateAlignedFloats(paddedWidth)
                let offsets = UnsafeMutablePointer<Int>.allocate(capacity: kernelWidth)
                defer {
                    padded.deallocate()
                    gradientRow.deallocate()
                    offsets.deallocate()
                }
                for v in 0 ..< kernelWidth { offsets[v] = layout.tapOffset(v, dilation: shape.dilationWidth) }
                gradientRow.initialize(repeating: 0, count: paddedWidth)
                for plane in planes {
                    padded.initialize(repeating: 0, count: layout.count)
                    for j in 0 ..< multiplier {
                        let o = plane % channels * multiplier + j, item = plane / channels
                        let kernel = w.baseAddress! + o * taps
                        let source = dy.baseAddress! + (item * outChannels + o) * planeSize
                        for oy in 0 ..< outputHeight {
                            gradientRow.update(from: source + oy * outputWidth, count: outputWidth)
                            let top = padded + oy * layout.outputRowStep
                            // Tap by tap along the whole row: a block never reloads the 16 floats the
                            // block just before it stored (shifted by one, that would stall on the store).
                            for u in 0 ..< kernelHeight {
                                for v in 0 ..< kernelWidth {
                                    let target = top + u * layout.kernelRowStep + offsets[v], tap = kernel[u * kernelWidth + v]
                                    for column in stride(from: 0, to: outputWidth, by: 16) {
                                        storeLanes(multiplyAdd(loadLanes(target + column), tap, loadLanes(gradientRow + column)),
                                                   target + column)
                                    }
                                }
                            }
                        }
                    }
                    layout.extract(padded, height: inputHeight, width: inputWidth, into: dx + plane * inputPlaneSize)
                }
            }
        }}
    }
}

extension Conv2dShape {
    /// For a stride-1 depthwise convolution with one output per channel: the geometry under which
    /// `conv2dDepthwise` of dy with the kernels turned by 180° is this convolution's input gradient,
    /// dx[i, j] = Σ_{u,v} w[u,v] · dy[i + p_top − u·d, j + p_left − v·d]. That is padding
    /// d·(k − 1) − p on each side, nil when a side would be negative (padding larger than the kernel).
    var depthwiseTransposeAsCorrelation: Conv2dShape? {
        guard strideHeight == 1 && strideWidth == 1 && outChannels == inChannels else { return nil }
        let spanHeight = dilationHeight * (kernelHeight - 1), spanWidth = dilationWidth * (kernelWidth - 1)
        let transposed = Conv2dShape(inChannels: inChannels, outChannels: outChannels, kernelHeight: kernelHeight,
                                     kernelWidth: kernelWidth, paddingHeight: spanHeight - paddingHeight,
                                     paddingWidth: spanWidth - paddingWidth, paddingBottom: spanHeight - paddingBottom,
                                     paddingRight: spanWidth - paddingRight, dilationHeight: dilationHeight,
                                     dilationWidth: dilationWidth, groups: groups)
        return transposed.problem == nil ? transposed : nil
    }
}
