// 2-D convolution (PyTorch nn.Conv2d) and its transpose, as packed GEMMs one group at a time; depthwise
// convolutions go to their own kernel (DepthwiseConvolution.swift).

/// Unfolded-input elements one GEMM call handles (8 Mi floats = 32 MiB at most); larger outputs are
/// processed in bands of output rows so the buffer does not grow with the image.
let convolutionUnfoldBudget = 1 << 23

/// Unfolded-input floats (1 MiB) per band of output rows, unless the weight is larger: a band this
/// size is read back by the GEMM while still in cache, where ResNet's unfolded stem (7.4 MB) was
/// written out to memory and fetched again. Weights larger than that set the band size instead, so
/// that no band reads a weight larger than itself. `conv2dBackwardInput` folds back in the same bands.
let convolutionBandBudget = 1 << 18

/// Output planes smaller than this are grouped, several items to one GEMM.
let convolutionGroupingPlaneLimit = 1024

/// How one convolution call is cut into GEMMs.
///
/// Large output planes: one item at a time, in bands of output rows. Small planes (VGG's 14×14,
/// ResNet's 7×7) in a batch: several items side by side in one GEMM, because each GEMM packs the
/// whole weight matrix, and for 196 or 49 output columns that packing costs as much as a large
/// share of the arithmetic.
struct ConvolutionPlan {
    /// Items per GEMM; 1 means one item at a time, in bands.
    let itemsPerGroup: Int
    /// Output rows per band when items go one at a time.
    let bandRows: Int
    /// Floats of the unfolded buffer `[C·kh·kw, columns]`.
    let unfoldedCount: Int
    /// Floats of the grouped GEMM's other operand or result `[O, items·oh·ow]` (0 when not grouped).
    let groupedCount: Int

    init(shape: Conv2dShape, batch: Int, outputHeight: Int, outputWidth: Int) {
        let rows = shape.unfoldedRows, planeSize = outputHeight * outputWidth
        let groupable = batch > 1 && planeSize < convolutionGroupingPlaneLimit
        itemsPerGroup = groupable ? max(1, min(batch, convolutionUnfoldBudget / max(1, rows * planeSize))) : 1
        let bandBudget = min(convolutionUnfoldBudget, max(convolutionBandBudget, shape.outChannelsPerGroup * rows))
        bandRows = evenBlock(outputHeight, atMost: max(1, bandBudget / max(1, rows * outputWidth)), multipleOf: 1)
        if itemsPerGroup > 1 {
            unfoldedCount = rows * itemsPerGroup * planeSize
            groupedCount = shape.outChannels * itemsPerGroup * planeSize
        } else {
            unfoldedCount = shape.isPointwise ? 0 : rows * bandRows * outputWidth
            groupedCount = 0
        }
    }
}

/// 2-D cross-correlation as PyTorch's nn.Conv2d: y[n,o] = b[o] + Σ_c w[o,c] ⋆ x[n, g·C/G + c] over the
/// C/G input channels of o's group g (all of them with one group), with stride, dilation and padding.
///
/// input `[N, C, H, W]`, weight `[O, C/G, kh, kw]`, bias `[O]` → output `[N, O, oh, ow]`.
/// Depthwise convolutions (`isDepthwise`) run `conv2dDepthwise`. Otherwise, group by group, the
/// input is unfolded (im2col) into `[C/G·kh·kw, columns]` and one GEMM
/// `weight[O/G, C/G·kh·kw] · unfolded` produces the group's outputs of those columns; see
/// `ConvolutionPlan` for how items and rows are grouped into columns. A 1×1 stride-1 convolution of
/// one item multiplies its input planes directly; a larger kernel with one group, one item at a time,
/// reads the unfolded input from the input's stride phases instead of an unfolded copy
/// (`convolutionReadsPhases`, same sums bit for bit).
public func conv2d(_ input: Tensor, weight: Tensor, bias: Tensor?, shape: Conv2dShape) -> Tensor {
    conv2d(input, weight: weight, packedWeight: nil, bias: bias, shape: shape)
}

/// `conv2d` with the weight `[O, C·kh·kw]` optionally packed beforehand for the GEMMs (layers keep
/// one; one group only), and the output clamped to `clamp` (a ReLU after it: `0 ... .infinity`) as
/// the GEMMs write it, where the bias is added too. The direct kernel applies a ReLU itself; other
/// ranges (ReLU6 after a depthwise convolution) in a pass after it.
func conv2d(_ input: Tensor, weight: Tensor, packedWeight: PackedMatrix?, bias: Tensor?, shape: Conv2dShape,
            clamp: ClosedRange<Float>? = nil) -> Tensor {
    if shape.runsDirect {
        let isReLU = clamp == 0 ... .infinity
        var output = conv2dDirect(input, weight: weight, bias: bias, shape: shape, applyReLU: isReLU)
        if let clamp, !isReLU { output.storage.withUnsafeMutableBufferPointer { clampInPlace($0, to: clamp) } }
        return output
    }
    let (batch, height, width, outputHeight, outputWidth) =
        checkConvolution(inputShape: input.shape, weight: weight, shape: shape)
    precondition(bias == nil || bias!.count == shape.outChannels, "conv2d: bias does not match \(shape)")
    precondition(packedWeight == nil || shape.groups == 1, "conv2d: a packed weight needs one group")
    let outChannels = shape.outChannels, rows = shape.unfoldedRows
    let planeSize = outputHeight * outputWidth
    let groups = shape.groups, groupOut = shape.outChannelsPerGroup
    let at = ConvolutionGroupOffsets(shape, inputPlane: height * width, outputPlane: planeSize)
    let plan = ConvolutionPlan(shape: shape, batch: batch, outputHeight: outputHeight, outputWidth: outputWidth)
    // Kernels larger than 1×1, one group, one item at a time: the unfolded input is read from the
    // input's stride phases, not copied out (PhaseSplitConvolution.swift).
    let phases = convolutionReadsPhases(shape, batch: batch, outputHeight: outputHeight, outputWidth: outputWidth)
        ? PhaseSplitInput(shape: shape, height: height, width: width) : nil
    // Every element of these buffers is written before it is read: no zero-fill needed.
    let columns = allocateAlignedFloats(phases == nil ? plan.unfoldedCount : 0)   // [C/G·kh·kw, columns]
    let products = allocateAlignedFloats(plan.groupedCount)                        // [O, items·oh·ow]
    defer {
        columns.deallocate()
        products.deallocate()
        phases?.deallocate()
    }

    let biasValues = bias?.storage ?? []
    return makeTensor(shape: [batch, outChannels, outputHeight, outputWidth]) { output in
        let out = output.baseAddress!                                 // [N, O, oh, ow]
        input.storage.withUnsafeBufferPointer { inputBuffer in
        weight.storage.withUnsafeBufferPointer { weightBuffer in
        biasValues.withUnsafeBufferPointer { biasBuffer in
            let x = inputBuffer.baseAddress!, w = weightBuffer.baseAddress!  // [N, C, H, W], [O, C·kh·kw]
            let b = bias == nil ? nil : biasBuffer.baseAddress                // [O]
            if plan.itemsPerGroup > 1 {
                fillChannels(out, batch: batch, channels: outChannels, planeSize: planeSize, bias: bias)
                for first in stride(from: 0, to: batch, by: plan.itemsPerGroup) {
                    let items = min(plan.itemsPerGroup, batch - first), groupColumns = items * planeSize
                    for group in 0 ..< groups {
                        for i in 0 ..< items {
                            im2col(x + at.input(first + i, group), height: height, width: width,
                                   shape: shape, outputRows: 0 ..< outputHeight, outputWidth: outputWidth,
                                   rowStride: groupColumns, into: columns + i * planeSize)
                        }
                        gemmBlocked(m: groupOut, n: groupColumns, k: rows, a: w + at.weight(group), lda: rows,
                                    transA: false, prepackedA: packedWeight, b: columns, ldb: groupColumns, transB: false,
                                    c: products + group * groupOut * groupColumns, ldc: groupColumns, accumulate: false)
                    }
                    // y[first + i, o] = bias[o] + products[o, plane i]
                    forEachSlice(items: items * outChannels, totalWork: groupColumns * outChannels) { planes in
                        for plane in planes {
                            let (i, o) = plane.quotientAndRemainder(dividingBy: outChannels)
                            addScaled(products + o * groupColumns + i * planeSize, scale: 1,
                                      into: out + ((first + i) * outChannels + o) * planeSize, count: planeSize)
                        }
                    }
                }
                if let clamp { clampInPlace(output, to: clamp) }
                return
            }
            // Each GEMM writes its outputs whole: bias and clamp in its write-back, no fill before.
            for item in 0 ..< batch {
                for group in 0 ..< groups {
                    let itemInput = x + at.input(item, group), itemOutput = out + at.output(item, group)
                    let groupWeight = w + at.weight(group), groupBias = b.map { $0 + group * groupOut }
                    if shape.isPointwise {
                        gemmBlocked(m: groupOut, n: planeSize, k: rows, a: groupWeight, lda: rows, transA: false,
                                    prepackedA: packedWeight, b: itemInput, ldb: planeSize, transB: false,
                                    c: itemOutput, ldc: planeSize, accumulate: false, rowBias: groupBias, clamp: clamp)
                        continue
                    }
                    if let phases {
                        phases.fill(from: itemInput)
                        conv2dFromPhases(phases, weight: groupWeight, packedWeight: packedWeight, bias: groupBias, clamp: clamp,
                                         outputHeight: outputHeight, outputWidth: outputWidth, output: itemOutput)
                        continue
                    }
                    for firstRow in stride(from: 0, to: outputHeight, by: plan.bandRows) {
                        let band = firstRow ..< min(outputHeight, firstRow + plan.bandRows)
                        let bandColumns = band.count * outputWidth
                        im2col(itemInput, height: height, width: width, shape: shape,
                               outputRows: band, outputWidth: outputWidth, rowStride: bandColumns, into: columns)
                        gemmBlocked(m: groupOut, n: bandColumns, k: rows, a: groupWeight, lda: rows, transA: false,
                                    prepackedA: packedWeight, b: columns, ldb: bandColumns, transB: false,
                                    c: itemOutput + firstRow * outputWidth, ldc: planeSize, accumulate: false,
                                    rowBias: groupBias, clamp: clamp)
                    }
                }
            }
        }}}
    }
}

/// Gradient of conv2d with respect to its input: the transpose of conv2d as a linear map,
/// dx[n,c,i,j] = Σ_{o,u,v} w[o,c',u,v] · dy[n,o,(i+p-u·d)/s,(j+p-v·d)/s] over the integral quotients and
/// the outputs o of c's group (c' = c's index within it).
///
/// gradOutput `[N, O, oh, ow]`, weight `[O, C/G, kh, kw]` → `[N, C, H, W]`. Used for the chain rule and,
/// unchanged, for DeepLIFT-Rescale multipliers (a linear layer's multiplier is its transpose).
/// Depthwise convolutions run `conv2dDepthwiseBackwardInput`. Otherwise, group by group,
/// `weightᵀ[C/G·kh·kw, O/G] · dy[O/G, columns]` fills an unfolded buffer, then col2im adds every
/// unfolded element back to the input position it was read from; columns are grouped as in `conv2d`.
public func conv2dBackwardInput(_ gradOutput: Tensor, weight: Tensor, shape: Conv2dShape,
                                inputHeight: Int, inputWidth: Int) -> Tensor {
    if shape.isDepthwise {
        return conv2dDepthwiseBackwardInput(gradOutput, weight: weight, shape: shape,
                                            inputHeight: inputHeight, inputWidth: inputWidth)
    }
    let (batch, outputHeight, outputWidth) =
        checkConvolutionBackward(gradOutput.shape, weight: weight, shape: shape, inputHeight: inputHeight, inputWidth: inputWidth)
    let outChannels = shape.outChannels, rows = shape.unfoldedRows
    let planeSize = outputHeight * outputWidth
    let groups = shape.groups, groupOut = shape.outChannelsPerGroup
    let at = ConvolutionGroupOffsets(shape, inputPlane: inputHeight * inputWidth, outputPlane: planeSize)
    let plan = ConvolutionPlan(shape: shape, batch: batch, outputHeight: outputHeight, outputWidth: outputWidth)
    // Every element of both buffers is written before it is read: no zero-fill needed.
    let columns = allocateAlignedFloats(plan.unfoldedCount)            // [C/G·kh·kw, columns]
    let gathered = allocateAlignedFloats(plan.groupedCount)            // [O, items·oh·ow]
    defer {
        columns.deallocate()
        gathered.deallocate()
    }
    var gradInput = Tensor(shape: [batch, shape.inChannels, inputHeight, inputWidth])

    gradInput.storage.withUnsafeMutableBufferPointer { gradInputBuffer in
    gradOutput.storage.withUnsafeBufferPointer { gradOutputBuffer in
    weight.storage.withUnsafeBufferPointer { weightBuffer in
        let dx = gradInputBuffer.baseAddress!, dy = gradOutputBuffer.baseAddress!  // [N,C,H,W], [N,O,oh,ow]
        let w = weightBuffer.baseAddress!                                            // [O, C·kh·kw]
        if plan.itemsPerGroup > 1 {
            for first in stride(from: 0, to: batch, by: plan.itemsPerGroup) {
                let items = min(plan.itemsPerGroup, batch - first), groupColumns = items * planeSize
                // gathered[o, plane i] = dy[first + i, o]
                forEachSlice(items: items * outChannels, totalWork: groupColumns * outChannels) { planes in
                    for plane in planes {
                        let (i, o) = plane.quotientAndRemainder(dividingBy: outChannels)
                        (gathered + o * groupColumns + i * planeSize)
                            .update(from: dy + ((first + i) * outChannels + o) * planeSize, count: planeSize)
                    }
                }
                for group in 0 ..< groups {
                    gemm(m: rows, n: groupColumns, k: groupOut, a: w + at.weight(group), lda: rows, transA: true,
                         b: gathered + group * groupOut * groupColumns, ldb: groupColumns, transB: false,
                         c: columns, ldc: groupColumns, accumulate: false)
                    for i in 0 ..< items {
                        col2im(columns + i * planeSize, outputRows: 0 ..< outputHeight, outputWidth: outputWidth,
                               rowStride: groupColumns, shape: shape, height: inputHeight, width: inputWidth,
                               addingInto: dx + at.input(first + i, group))
                    }
                }
            }
            return
        }
        for item in 0 ..< batch {
            for group in 0 ..< groups {
                let itemGradInput = dx + at.input(item, group), itemGradOutput = dy + at.output(item, group)
                let groupWeight = w + at.weight(group)
                if shape.isPointwise {
                    gemm(m: rows, n: planeSize, k: groupOut, a: groupWeight, lda: rows, transA: true,
                         b: itemGradOutput, ldb: planeSize, transB: false, c: itemGradInput, ldc: planeSize, accumulate: false)
                    continue
                }
                for firstRow in stride(from: 0, to: outputHeight, by: plan.bandRows) {
                    let band = firstRow ..< min(outputHeight, firstRow + plan.bandRows)
                    let bandColumns = band.count * outputWidth
                    gemm(m: rows, n: bandColumns, k: groupOut, a: groupWeight, lda: rows, transA: true,
                         b: itemGradOutput + firstRow * outputWidth, ldb: planeSize, transB: false,
                         c: columns, ldc: bandColumns, accumulate: false)
                    col2im(columns, outputRows: band, outputWidth: outputWidth, rowStride: bandColumns, shape: shape,
                           height: inputHeight, width: inputWidth, addingInto: itemGradInput)
                }
            }
        }
    }}}
    return gradInput
}

/// Where group g of item n starts: in the input `[N, C, H, W]`, in the output `[N, O, oh, ow]`, and in
/// the weight `[O, C/G·kh·kw]` (group g's rows).
struct ConvolutionGroupOffsets {
    let inputItem, inputGroup, outputItem, outputGroup, weightGroup: Int

    init(_ shape: Conv2dShape, inputPlane: Int, outputPlane: Int) {
        (inputItem, inputGroup) = (shape.inChannels * inputPlane, shape.inChannelsPerGroup * inputPlane)
        (outputItem, outputGroup) = (shape.outChannels * outputPlane, shape.outChannelsPerGroup * outputPlane)
        weightGroup = shape.outChannelsPerGroup * shape.unfoldedRows
    }

    func input(_ item: Int, _ group: Int) -> Int { item * inputItem + group * inputGroup }
    func output(_ item: Int, _ group: Int) -> Int { item * outputItem + group * outputGroup }
    func weight(_ group: Int) -> Int { group * weightGroup }
}

/// Writes bias[o] (or zero) into every element of each output plane `[N, O, planeSize]`.
func fillChannels(_ out: UnsafeMutablePointer<Float>, batch: Int, channels: Int, planeSize: Int, bias: Tensor?) {
    if let bias {
        bias.storage.withUnsafeBufferPointer { b in
            for item in 0 ..< batch {
                for channel in 0 ..< channels {
                    (out + (item * channels + channel) * planeSize).initialize(repeating: b[channel], count: planeSize)
                }
            }
        }
    } else {
        out.initialize(repeating: 0, count: batch * channels * planeSize)
    }
}

/// x = min(max(x, lower), upper) element by element, in place: the clamp of `conv2d`'s grouped-items
/// path, whose output is summed from the GEMM's products after it.
func clampInPlace(_ buffer: UnsafeMutableBufferPointer<Float>, to range: ClosedRange<Float>) {
    for i in buffer.indices { buffer[i] = min(max(buffer[i], range.lowerBound), range.upperBound) }
}

/// The seven plain loops of `conv2d`: y[n,o,i,j] = b[o] + Σ_{c,u,v} w[o,c,u,v] · x[n, g·C/G + c, y, x]
/// with y = i·s − p + u·d, x = j·s − p + v·d (top and left padding p), c over the C/G input channels of
/// o's group g; terms in the padding skipped.
///
/// Reference implementation: literal mode, tests and benchmarks (ARCHITECTURE.md, "Naive twins").
public func conv2dNaive(_ input: Tensor, weight: Tensor, bias: Tensor?, shape: Conv2dShape) -> Tensor {
    let (batch, height, width, outputHeight, outputWidth) =
        checkConvolution(inputShape: input.shape, weight: weight, shape: shape)
    precondition(bias == nil || bias!.count == shape.outChannels, "conv2d: bias does not match \(shape)")
    let (inChannels, outChannels) = (shape.inChannels, shape.outChannels)
    let (groupIn, groupOut) = (shape.inChannelsPerGroup, shape.outChannelsPerGroup)
    let (kernelHeight, kernelWidth) = (shape.kernelHeight, shape.kernelWidth)
    var output = [Float](repeating: 0, count: batch * outChannels * outputHeight * outputWidth)
    for n in 0 ..< batch {
        for o in 0 ..< outChannels {
            let firstChannel = o / groupOut * groupIn
            for i in 0 ..< outputHeight {
                for j in 0 ..< outputWidth {
                    var sum: Float = bias?.storage[o] ?? 0
                    for c in 0 ..< groupIn {
                        for u in 0 ..< kernelHeight {
                            for v in 0 ..< kernelWidth {
                                let y = i * shape.strideHeight - shape.paddingHeight + u * shape.dilationHeight
                                let x = j * shape.strideWidth - shape.paddingWidth + v * shape.dilationWidth
                                if y < 0 || y >= height || x < 0 || x >= width { continue }
                                sum += weight.storage[((o * groupIn + c) * kernelHeight + u) * kernelWidth + v]
                                    * input.storage[((n * inChannels + firstChannel + c) * height + y) * width + x]
                            }
                        }
                    }
                    output[((n * outChannels + o) * outputHeight + i) * outputWidth + j] = sum
                }
            }
        }
    }
    return Tensor(shape: [batch, outChannels, outputHeight, outputWidth], storage: output)
}

/// The plain loops of `conv2dBackwardInput`, written as the transpose they are: every product
/// w[o,c,u,v] · x[n, g·C/G + c, y, x] that conv2d adds into y[n,o,i,j] sends dy[n,o,i,j] · w[o,c,u,v]
/// back to dx[n, g·C/G + c, y, x].
///
/// Reference implementation: literal mode, tests and benchmarks (ARCHITECTURE.md, "Naive twins").
public func conv2dBackwardInputNaive(_ gradOutput: Tensor, weight: Tensor, shape: Conv2dShape,
                                     inputHeight: Int, inputWidth: Int) -> Tensor {
    let (batch, outputHeight, outputWidth) =
        checkConvolutionBackward(gradOutput.shape, weight: weight, shape: shape, inputHeight: inputHeight, inputWidth: inputWidth)
    let (inChannels, outChannels) = (shape.inChannels, shape.outChannels)
    let (groupIn, groupOut) = (shape.inChannelsPerGroup, shape.outChannelsPerGroup)
    let (kernelHeight, kernelWidth) = (shape.kernelHeight, shape.kernelWidth)
    var gradInput = [Float](repeating: 0, count: batch * inChannels * inputHeight * inputWidth)
    for n in 0 ..< batch {
        for o in 0 ..< outChannels {
            let firstChannel = o / groupOut * groupIn
            for i in 0 ..< outputHeight {
                for j in 0 ..< outputWidth {
                    let g = gradOutput.storage[((n * outChannels + o) * outputHeight + i) * outputWidth + j]
                    for c in 0 ..< groupIn {
                        for u in 0 ..< kernelHeight {
                            for v in 0 ..< kernelWidth {
                                let y = i * shape.strideHeight - shape.paddingHeight + u * shape.dilationHeight
                                let x = j * shape.strideWidth - shape.paddingWidth + v * shape.dilationWidth
                                if y < 0 || y >= inputHeight || x < 0 || x >= inputWidth { continue }
                                gradInput[((n * inChannels + firstChannel + c) * inputHeight + y) * inputWidth + x] +=
                                    g * weight.storage[((o * groupIn + c) * kernelHeight + u) * kernelWidth + v]
                            }
                        }
                    }
                }
            }
        }
    }
    return Tensor(shape: [batch, inChannels, inputHeight, inputWidth], storage: gradInput)
}
