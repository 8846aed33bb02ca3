// Convolution on a small output plane (ResNet's 7×7 stage) as the transposed product: output
// positions are the GEMM's rows and output channels its columns, Yᵀ[positions, O] = Xᵀ · Wᵀ.
//
// The direct product W[O, K] · X[K, positions] puts the positions across the micro-kernel's 16
// lanes: a 7×7 plane's 49 columns fill 3 panels and a strip of 8, so a quarter of the arithmetic
// is padding. Transposed, 49 positions pad to 54 rows of 6 and the channels (512, 2048) fill their
// 16-lane panels exactly. The weight is packed once as Wᵀ's column panels (`PackedMatrix(columnsOf:…)`) and
// every call streams it once; the small result is turned back to `[O, positions]` at the end, with
// the bias and the clamp.

/// Whether `conv2dSmallPlane` runs this call: one item, one group, not depthwise, an output plane of
/// under 128 positions, and at least 10 % less padded arithmetic than the direct product (positions
/// padded to 16 and channels to 6 there, positions to 6 and channels to 16 here).
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
/// comes last instead of first.
func conv2dSmallPlane(_ input: Tensor, weight: Tensor, packedWeight: PackedMatrix, bias: Tensor?, shape: Conv2dShape,
                      clamp: ClosedRange<Float>? = nil) -> Tensor {
    let (batch, height, width, outputHeight, outputWidth) = checkConvolution(inputShape: input.shape, weight: weight, shape: shape)
    precondition(batch == 1 && shape.groups == 1, "conv2dSmallPlane: one item and one group only, not \(input.shape), \(shape)")
    precondition(bias == nil || bias!.count == shape.outChannels, "conv2d: bias does not match \(shape)")
    let positions = outputHeight * outputWidth, depth = shape.unfoldedRows, outChannels = shape.outChannels
    let unfolded = shape.isPointwise ? nil : allocateAlignedFloats(depth * positions)   // [C·kh·kw, positions]
    let transposed = allocateAlignedFloats(positions * outChannels)                     // Yᵀ [positions, O]
    defer {
        unfolded?.deallocate()
        transposed.deallocate()
    }
    let biasValues = bias?.storage ?? []
    return makeTensor(shape: [1, outChannels, outputHeight, outputWidth]) { output in
        input.storage.withUnsafeBufferPointer { inputBuffer in
        weight.storage.withUnsafeBufferPointer { weightBuffer in
        biasValues.withUnsafeBufferPointer { biasBuffer in
            let x = inputBuffer.baseAddress!
            if let unfolded {
                im2col(x, height: height, width: width, shape: shape, outputRows: 0 ..< outputHeight,
                       outputWidth: outputWidth, rowStride: positions, into: unfolded)
            }
            // op(A) = Xᵀ: X stored [depth, positions]; op(B) = Wᵀ, packed.
            gemmStreamingB(m: positions, n: outChannels, k: depth, slabDepth: packedWeight.slabDepth,
                           a: UnsafePointer(unfolded) ?? x, lda: positions, transA: true, prepackedA: nil,
                           b: weightBuffer.baseAddress!, ldb: depth, transB: true, prepackedB: packedWeight,
                           c: transposed, ldc: outChannels, writeBack: .overwrite)
            let writeBack = GEMMWriteBack(accumulate: false, rowBias: bias == nil ? nil : biasBuffer.baseAddress, clamp: clamp)
            transposeWithWriteBack(transposed, rows: positions, columns: outChannels, writeBack: writeBack,
                                   into: output.baseAddress!)
        }}}
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
