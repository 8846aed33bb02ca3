// im2col and col2im: the data movement that turns a convolution into one GEMM per band of rows.

/// For kernel column `kernelColumn`, the output columns whose input column lies inside the image:
/// ox with 0 ≤ ox·s − p + kernelColumn < W. Outside that range the input is zero padding.
@inline(__always)
func validOutputColumns(kernelColumn: Int, width: Int, outputWidth: Int, stride: Int, padding: Int) -> Range<Int> {
    let offset = padding - kernelColumn
    let low = offset <= 0 ? 0 : (offset + stride - 1) / stride
    let high = min(outputWidth, floorDivide(width - 1 + offset, stride) + 1)
    return min(low, outputWidth) ..< max(high, min(low, outputWidth))
}

/// im2col for one item and a band of output rows: unfolded[(c·kh + u)·kw + v, (oy − band.lower)·ow + ox]
/// = x[c, oy·sh − ph + u·dh, ox·sw − pw + v·dw], zero where that falls in the padding.
///
/// input `[C, H, W]` (the C = C/G channels of one group) → unfolded `[C·kh·kw, band·ow]`, consecutive rows `rowStride` apart (wider than
/// band·ow when several items share the buffer side by side). Unfolded rows are split over the cores
/// (not channels: the first layer of an image network has only 3); with stride 1 each row segment is
/// one contiguous copy.
func im2col(_ input: UnsafePointer<Float>, height: Int, width: Int, shape: Conv2dShape,
            outputRows band: Range<Int>, outputWidth: Int, rowStride: Int, into unfolded: UnsafeMutablePointer<Float>) {
    let kernelHeight = shape.kernelHeight, kernelWidth = shape.kernelWidth
    let strideHeight = shape.strideHeight, strideWidth = shape.strideWidth
    let paddingHeight = shape.paddingHeight, paddingWidth = shape.paddingWidth
    let dilationHeight = shape.dilationHeight, dilationWidth = shape.dilationWidth
    let bandColumns = band.count * outputWidth, kernelSize = kernelHeight * kernelWidth
    forEachSlice(items: shape.unfoldedRows, totalWork: shape.unfoldedRows * bandColumns) { unfoldedRows in
        for unfoldedRow in unfoldedRows {
            let (channel, offset) = unfoldedRow.quotientAndRemainder(dividingBy: kernelSize)
            let (u, v) = offset.quotientAndRemainder(dividingBy: kernelWidth)
            let plane = input + channel * height * width
            let row = unfolded + unfoldedRow * rowStride
            let valid = validOutputColumns(kernelColumn: v * dilationWidth, width: width, outputWidth: outputWidth,
                                           stride: strideWidth, padding: paddingWidth)
            for oy in band {
                let target = row + (oy - band.lowerBound) * outputWidth
                let iy = oy * strideHeight - paddingHeight + u * dilationHeight
                if iy < 0 || iy >= height || valid.isEmpty {
                    target.update(repeating: 0, count: outputWidth)
                    continue
                }
                target.update(repeating: 0, count: valid.lowerBound)
                (target + valid.upperBound).update(repeating: 0, count: outputWidth - valid.upperBound)
                let source = plane + iy * width - paddingWidth + v * dilationWidth
                copyEveryNth(from: source, stride: strideWidth, columns: valid, into: target)
            }
        }
    }
}

/// target[j] = line[j · stride] for j in `columns`: one copy for stride 1; for stride 2 (the stem and
/// every stride-2 layer) sixteen at a time from the even lanes of 32 consecutive floats, while the
/// 32nd lies before the range's end, inside it. A row of `im2col`, or of a stride phase.
@inline(__always)
func copyEveryNth(from line: UnsafePointer<Float>, stride: Int, columns: Range<Int>,
                  into target: UnsafeMutablePointer<Float>) {
    if stride == 1 {
        (target + columns.lowerBound).update(from: line + columns.lowerBound, count: columns.count)
        return
    }
    var j = columns.lowerBound
    if stride == 2 {
        while j + 16 < columns.upperBound {
            let pair = line + 2 * j
            storeLanes(Float32x16(lowHalf: loadLanes(pair).evenHalf, highHalf: loadLanes(pair + 16).evenHalf), target + j)
            j += 16
        }
    }
    while j < columns.upperBound {
        target[j] = line[j * stride]
        j += 1
    }
}

/// col2im, the transpose of `im2col`: adds unfolded[(c·kh + u)·kw + v, (oy − band.lower)·ow + ox] to
/// x[c, oy·sh − ph + u·dh, ox·sw − pw + v·dw] wherever that is inside the image (padding drops out).
///
/// unfolded `[C·kh·kw, band·ow]` (rows `rowStride` apart) → adds into `[C, H, W]` (one group's channels). One channel's rows
/// all land in its own plane, so channels split over the cores without two workers writing the
/// same element.
func col2im(_ unfolded: UnsafePointer<Float>, outputRows band: Range<Int>, outputWidth: Int, rowStride: Int,
            shape: Conv2dShape, height: Int, width: Int, addingInto input: UnsafeMutablePointer<Float>) {
    let kernelHeight = shape.kernelHeight, kernelWidth = shape.kernelWidth
    let strideHeight = shape.strideHeight, strideWidth = shape.strideWidth
    let paddingHeight = shape.paddingHeight, paddingWidth = shape.paddingWidth
    let dilationHeight = shape.dilationHeight, dilationWidth = shape.dilationWidth
    let bandColumns = band.count * outputWidth
    forEachSlice(items: shape.inChannelsPerGroup, totalWork: shape.unfoldedRows * bandColumns) { channels in
        for channel in channels {
            let plane = input + channel * height * width
            for u in 0 ..< kernelHeight {
                for v in 0 ..< kernelWidth {
                    let row = unfolded + ((channel * kernelHeight + u) * kernelWidth + v) * rowStride
                    let valid = validOutputColumns(kernelColumn: v * dilationWidth, width: width, outputWidth: outputWidth,
                                                   stride: strideWidth, padding: paddingWidth)
                    for oy in band {
                        let iy = oy * strideHeight - paddingHeight + u * dilationHeight
                        if iy < 0 || iy >= height { continue }
                        let source = row + (oy - band.lowerBound) * outputWidth
                        let target = plane + iy * width - paddingWidth + v * dilationWidth
                        for ox in valid { target[ox * strideWidth] += source[ox] }
                    }
                }
            }
        }
    }
}
