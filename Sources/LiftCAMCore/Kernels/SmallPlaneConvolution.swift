// Convolution on a small output plane (ResNet's 7×7 stage) as the transposed product: output
// positions are the GEMM's rows and output channels its columns, Yᵀ[positions, O] = Xᵀ · Wᵀ.
//
// The direct product W[O, K] · X[K, positions] puts the positions across the micro-kernel's 16
// lanes: a 7×7 plane's 49 columns fill 3 panels and a strip of 8, so a quarter of the arithmetic
// is padding. Transposed, 49 positions pad to 54 rows of 6 (56 of 8 in the AVX-512 build) and the
// channels (512, 2048) fill their 16-lane panels exactly. The weight is packed once as Wᵀ's column panels (`PackedMatrix(columnsOf:…)`) and
// every call streams it once; the small result is turned back to `[O, positions]` at the end, with
// the bias and the clamp.

/// Whether `conv2dSmallPlane` runs this call: one item, one group, not depthwise, an output plane of
/// under 128 positions, and at least 10 % less padded arithmetic than the direct product (positions
/// padded to 16 and channels to the tile's rows there, positions to the tile's rows and channels to
/// 16 here).
public func convolutionRunsTransposed(_ shape: Conv2dShape, batch: Int, outputPlane: Int) -> Bool {
    guard batch == 1, shape.groups == 1, !shape.runsDirect, outputPlane < 128 else { return false }
    func padded(_ count: Int, to multiple: Int) -> Int { (count + multiple - 1) / multiple * multiple }
    let direct = padded(outputPlane, to: gemmTileColumns) * padded(shape.outChannels, to: gemmTileRows)
    let transposed = padded(outputPlane, to: gemmTileRows) * padded(shape.outChannels, to: gemmTileColumns)
    return 10 * transposed <= 9 * direct
}

/// Wᵀ for `conv2dSmallPlane`: the weight `[O, C·kh·kw]` packed as the column panels of the product's
/// right operand `[C·kh·kw, O]`.
func packedTransposedWeight(_ weight: Tensor, shape: Conv2dShape) -> PackedMatrix {
    weight.storage.withUnsafeBufferPointer { w in
        PackedMatrix(columnsOf: w.baseAddress!, ldb: shape.unfoldedRows, transB: true, columns: shape.outChannels, depth: shape.unfoldedRows)
    }
}

/// `conv2d` for one item and one group, computed as Yᵀ = Xᵀ · Wᵀ with Wᵀ packed beforehand
/// (`packedTransposedWeight`): input `[1, C, H, W]` → `[1, O, oh, ow]`, plus the bias, clamped to
/// `clamp` when given. Each output adds the same products in the same order as `conv2d`'s; the bias
/// comes last instead of first. Xᵀ is packed from a zero-padded copy of the input, never unfolded.
func conv2dSmallPlane(_ input: Tensor, weight: Tensor, packedWeight: PackedMatrix, bias: Tensor?, shape: Conv2dShape,
                      clamp: ClosedRange<Float>? = nil) -> Tensor {
    let (batch, height, width, outputHeight, outputWidth) = checkConvolution(inputShape: input.shape, weight: weight, shape: shape)
    precondition(batch == 1 && shape.groups == 1, "conv2dSmallPlane: one item and one group only, not \(input.shape), \(shape)")
    precondition(bias == nil || bias!.count == shape.outChannels, "conv2d: bias does not match \(shape)")
    let positions = outputHeight * outputWidth, depth = shape.unfoldedRows, outChannels = shape.outChannels
    let transposed = allocateAlignedFloats(positions * outChannels)   // Yᵀ [positions, O]
    defer { transposed.deallocate() }
    let biasValues = bias?.storage ?? []
    return makeTensor(shape: [1, outChannels, outputHeight, outputWidth]) { output in
        input.storage.withUnsafeBufferPointer { inputBuffer in
        weight.storage.withUnsafeBufferPointer { weightBuffer in
        biasValues.withUnsafeBufferPointer { biasBuffer in
            let x = inputBuffer.baseAddress!
            // op(A) = Xᵀ: the input itself (1×1, stride 1: stored [depth, positions]), or its unfolding
            // packed from a zero-padded copy of the input; op(B) = Wᵀ, packed.
            let unfolded = shape.isPointwise ? nil : PackedMatrix(
                unfoldedPositionsOf: PaddedInput(x, height: height, width: width, shape: shape),
                shape: shape, outputWidth: outputWidth, positions: positions)
            gemmStreamingB(m: positions, n: outChannels, k: depth, slabDepth: packedWeight.slabDepth,
                           a: x, lda: positions, transA: true, prepackedA: unfolded,
                           b: weightBuffer.baseAddress!, ldb: depth, transB: true, prepackedB: packedWeight,
                           c: transposed, ldc: outChannels, writeBack: .overwrite)
            let writeBack = GEMMWriteBack(accumulate: false, rowBias: bias == nil ? nil : biasBuffer.baseAddress, clamp: clamp)
            transposeWithWriteBack(transposed, rows: positions, columns: outChannels, writeBack: writeBack,
                                   into: output.baseAddress!)
        }}}
    }
}

/// One item's input `[C, H, W]` copied with its zero padding around each plane, `[C, H + pt + pb,
/// W + pl + pr]`: every value a window reads is then inside, and packing needs no bounds tests. For a
/// 7×7 plane with padding 1, 81 floats per channel against 49.
final class PaddedInput {
    let values: UnsafeMutablePointer<Float>
    let height, width: Int   // padded

    init(_ input: UnsafePointer<Float>, height inputHeight: Int, width inputWidth: Int, shape: Conv2dShape) {
        let (top, left) = (shape.paddingHeight, shape.paddingWidth)
        (height, width) = (inputHeight + top + shape.paddingBottom, inputWidth + left + shape.paddingRight)
        let channels = shape.inChannels, (plane, paddedPlane) = (inputHeight * inputWidth, height * width)
        values = allocateAlignedFloats(channels * paddedPlane)
        let (target, paddedWidth) = (values, width)
        forEachSlice(items: channels, totalWork: channels * paddedPlane) { channelRange in
            for channel in channelRange {
                let destination = target + channel * paddedPlane
                destination.update(repeating: 0, count: paddedPlane)
                for row in 0 ..< inputHeight {
                    (destination + (top + row) * paddedWidth + left)
                        .update(from: input + channel * plane + row * inputWidth, count: inputWidth)
                }
            }
        }
    }

    deinit { values.deallocate() }
}

extension PackedMatrix {
    /// Xᵀ `[positions, C·kh·kw]` packed as op(A) panels from the padded input: row n is output
    /// position n = oy · ow + ox, column (c, u, v) the value at (c, oy · sh + u · dh, ox · sw + v · dw)
    /// of `input`. What `im2col` and packing its transpose give, without the unfolded copy (0.9 MB for
    /// ResNet's 3×3 layers on 7×7, whose short rows made `im2col` a sixth of the layer's time).
    convenience init(unfoldedPositionsOf input: PaddedInput, shape: Conv2dShape, outputWidth: Int, positions: Int) {
        let (kernelHeight, kernelWidth) = (shape.kernelHeight, shape.kernelWidth)
        let (paddedWidth, paddedPlane) = (input.width, input.height * input.width)
        let (rowStep, columnStep) = (shape.dilationHeight * paddedWidth, shape.dilationWidth)
        self.init(extent: positions, depth: shape.unfoldedRows, panelWidth: gemmTileRows) { depth0, slabRows, row0, target in
            withUnsafeTemporaryAllocation(of: Int.self, capacity: gemmTileRows) { corners in
                // Each lane's window corner. Lanes past the last position repeat it: their rows of the
                // product are never stored.
                for lane in 0 ..< gemmTileRows {
                    let (oy, ox) = min(row0 + lane, positions - 1).quotientAndRemainder(dividingBy: outputWidth)
                    corners[lane] = oy * shape.strideHeight * paddedWidth + ox * shape.strideWidth
                }
                // Depth row depth0 + p is (channel, u, v): offset channel · plane + u · rowStep + v · columnStep.
                let (firstChannel, offset) = depth0.quotientAndRemainder(dividingBy: kernelHeight * kernelWidth)
                var channel = firstChannel
                var (u, v) = offset.quotientAndRemainder(dividingBy: kernelWidth)
                for p in 0 ..< slabRows {
                    let source = UnsafePointer(input.values) + channel * paddedPlane + u * rowStep + v * columnStep
                    for lane in 0 ..< gemmTileRows { target[p * gemmTileRows + lane] = source[corners[lane]] }
                    v += 1
                    if v == kernelWidth { (u, v) = (u + 1, 0) }
                    if u == kernelHeight { (channel, u) = (channel + 1, 0) }
                }
            }
        }
    }
}

/// target[j · rows + i] = writeBack(source[i · columns + j]), the bias indexed by j: Yᵀ back to Y.
/// Sixteen columns at a time: each source row's sixteen values are read, biased and clamped as one
/// vector, then stored to their sixteen target rows; the next source row fills the next float of
/// each, so the writes stay within sixteen cache lines.
func transposeWithWriteBack(_ source: UnsafePointer<Float>, rows: Int, columns: Int, writeBack: GEMMWriteBack,
                            into target: UnsafeMutablePointer<Float>) {
    precondition(!writeBack.accumulate, "transposeWithWriteBack: writes Y whole, adds to nothing")
    let blocks = (columns + 15) / 16
    forEachSlice(items: blocks, totalWork: rows * columns) { blockRange in
        for block in blockRange {
            let firstColumn = block * 16
            guard firstColumn + 16 <= columns else {
                for j in firstColumn ..< columns {
                    for i in 0 ..< rows { target[j * rows + i] = writeBack.finished(source[i * columns + j], previous: 0, row: j) }
                }
                continue
            }
            let bias = writeBack.rowBias.map { loadLanes($0 + firstColumn) } ?? Float32x16()
            for i in 0 ..< rows {
                var values = loadLanes(source + i * columns + firstColumn) + bias
                if let clamp = writeBack.clamp { values = values.clamped(clamp.lowerBound, clamp.upperBound) }
                for lane in 0 ..< 16 { target[(firstColumn + lane) * rows + i] = values[lane] }
            }
        }
    }
}
