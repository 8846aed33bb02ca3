// Convolutions with a kernel larger than 1×1 (the stem, the strided 3×3 layers), one item at a time,
// with the GEMM's right operand read from the input split into stride phases instead of from an
// unfolded (im2col) copy of it.
//
// With strides (sh, sw), padded row r belongs to row phase r mod sh at index ⌊r / sh⌋, and likewise
// for columns. Output (oy, ox) reads padded (oy·sh + u·dh, ox·sw + v·dw): phase
// ((u·dh) mod sh, (v·dw) mod sw), at (oy + ⌊u·dh / sh⌋, ox + ⌊v·dw / sw⌋). Numbering the output
// positions over the phase planes' width PW, row (c, u, v) of the unfolded input is read from one
// phase plane, each output row a contiguous run of it:
//
//     unfolded[(c, u, v), oy·ow + ox] = phases[offset(c, u, v) + oy·PW + ox].
//
// The GEMM packs its panels straight from those runs (`packPanelOfB(_:rowOffsets:runs:…)`), a panel
// of 16 positions that spans two or three output rows from as many runs, and writes the output
// directly. The phases hold the padded input about once (sh·sw·C·PH·PW floats: the padded plane
// rounded up to whole strides) where the unfolded copy holds it kh·kw / (sh·sw) times: 12× for
// ResNet's 7×7 stride-2 stem, 2.25× for a 3×3 stride-2 layer. The product
// adds the same terms in the same order as im2col + GEMM: the two agree bit for bit.

/// One item's input, zero-padded and split into its sh · sw stride phases: `[sh, sw, C, PH, PW]`,
/// followed by enough zeros that the last run's extra positions stay inside.
struct PhaseSplitInput {
    let phaseHeight, phaseWidth: Int
    /// Floats of one channel's phase plane, PH · PW.
    var phasePlane: Int { phaseHeight * phaseWidth }
    let values: UnsafeMutablePointer<Float>
    /// Where unfolded row (c·kh + u)·kw + v starts in `values`.
    let rowOffsets: UnsafeMutablePointer<Int>
    let shape: Conv2dShape
    let height, width: Int

    init(shape: Conv2dShape, height: Int, width: Int) {
        (self.shape, self.height, self.width) = (shape, height, width)
        let (strideHeight, strideWidth) = (shape.strideHeight, shape.strideWidth)
        phaseHeight = (height + shape.paddingHeight + shape.paddingBottom + strideHeight - 1) / strideHeight
        phaseWidth = (width + shape.paddingWidth + shape.paddingRight + strideWidth - 1) / strideWidth
        let channels = shape.inChannels
        let tail = strideHeight * strideWidth * channels * phaseHeight * phaseWidth, slack = phaseWidth + 2 * gemmTileColumns
        values = allocateAlignedFloats(tail + slack)
        (values + tail).update(repeating: 0, count: slack)
        rowOffsets = .allocate(capacity: shape.unfoldedRows)
        let plane = phaseHeight * phaseWidth
        for channel in 0 ..< channels {
            for u in 0 ..< shape.kernelHeight {
                for v in 0 ..< shape.kernelWidth {
                    let (rowShift, rowPhase) = (u * shape.dilationHeight).quotientAndRemainder(dividingBy: strideHeight)
                    let (columnShift, columnPhase) = (v * shape.dilationWidth).quotientAndRemainder(dividingBy: strideWidth)
                    let phase = (rowPhase * strideWidth + columnPhase) * channels + channel
                    rowOffsets[(channel * shape.kernelHeight + u) * shape.kernelWidth + v] =
                        phase * plane + rowShift * phaseWidth + columnShift
                }
            }
        }
    }

    func deallocate() {
        values.deallocate()
        rowOffsets.deallocate()
    }

    /// Writes the phases of `input` `[C, H, W]`, channels split over the cores.
    func fill(from input: UnsafePointer<Float>) {
        let (strideHeight, strideWidth, channels) = (shape.strideHeight, shape.strideWidth, shape.inChannels)
        let (top, left, plane) = (shape.paddingHeight, shape.paddingWidth, phasePlane)
        let (height, width, phaseHeight, phaseWidth, values) = (self.height, self.width, self.phaseHeight, self.phaseWidth, self.values)
        forEachSlice(items: channels, totalWork: channels * height * width) { channelRange in
            for channel in channelRange {
                let source = input + channel * height * width
                for rowPhase in 0 ..< strideHeight {
                    for row in 0 ..< phaseHeight {
                        let inputRow = row * strideHeight + rowPhase - top
                        let inside = inputRow >= 0 && inputRow < height
                        for columnPhase in 0 ..< strideWidth {
                            let target = values + ((rowPhase * strideWidth + columnPhase) * channels + channel) * plane + row * phaseWidth
                            guard inside else {
                                target.update(repeating: 0, count: phaseWidth)
                                continue
                            }
                            // Phase column j reads input column j·sw + columnPhase − left: inside for
                            // first ≤ j < end (floored: a phase may start past the input's last column).
                            let first = max(0, (left - columnPhase + strideWidth - 1) / strideWidth)
                            let end = min(phaseWidth, max(first, floorDivide(width - 1 + left - columnPhase, strideWidth) + 1))
                            target.update(repeating: 0, count: first)
                            (target + end).update(repeating: 0, count: phaseWidth - end)
                            let line = source + inputRow * width + columnPhase - left
                            copyEveryNth(from: line, stride: strideWidth, columns: first ..< end, into: target)
                        }
                    }
                }
            }
        }
    }
}

/// Whether `conv2d` reads this convolution's unfolded input from stride phases (one group, a kernel
/// larger than 1×1, items one at a time, output rows of at least 8, so that a panel of 16 positions
/// touches at most three of them). A strided 1×1 kernel reads one phase of sh · sw: its unfolded
/// copy is smaller than the phases.
public func convolutionReadsPhases(_ shape: Conv2dShape, batch: Int, outputHeight: Int, outputWidth: Int) -> Bool {
    guard shape.groups == 1, shape.kernelHeight * shape.kernelWidth > 1, outputWidth >= 8 else { return false }
    return ConvolutionPlan(shape: shape, batch: batch, outputHeight: outputHeight, outputWidth: outputWidth).itemsPerGroup == 1
}

/// One item of `conv2d` through the phases, once the caller has filled `phases` from the item's input:
/// the product `weight · unfolded` straight into `output` `[O, oh · ow]`, with bias and clamp in its
/// write-back. Always the streamed GEMM, whatever the width: a plane of few 16-position panels
/// (8×8: four) runs as that many tasks, which is correct, only less parallel.
func conv2dFromPhases(_ phases: PhaseSplitInput, weight: UnsafePointer<Float>, packedWeight: PackedMatrix?,
                      bias: UnsafePointer<Float>?, clamp: ClosedRange<Float>?, outputHeight: Int, outputWidth: Int,
                      output: UnsafeMutablePointer<Float>) {
    let rows = phases.shape.unfoldedRows, planeSize = outputHeight * outputWidth
    gemmStreamingB(m: phases.shape.outChannels, n: planeSize, k: rows, slabDepth: gemmSlabDepth(rows),
                   a: weight, lda: rows, transA: false, prepackedA: packedWeight,
                   b: phases.values, ldb: planeSize, transB: false,
                   bPhases: (UnsafePointer(phases.rowOffsets), outputWidth, phases.phaseWidth),
                   c: output, ldc: planeSize, writeBack: GEMMWriteBack(accumulate: false, rowBias: bias, clamp: clamp))
}
