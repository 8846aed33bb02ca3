// Average pooling (PyTorch nn.AvgPool2d with its defaults) and adaptive average pooling
// (nn.AdaptiveAvgPool2d), with their gradients. Both are linear, so the gradient is also the
// DeepLIFT-Rescale multiplier map.

/// Average pooling as PyTorch's nn.AvgPool2d (count_include_pad = true, no divisor override).
///
/// input `[N, C, H, W]` → `[N, C, oh, ow]`. Each output is the row-major sum of its window's input
/// values divided by the window size counting padding but not the part of a ceil-mode window past
/// the right padding (PyTorch's `pool_size`). Planes are split over the cores; away from the edges
/// 16 outputs of a row are summed at once in SIMD (each lane in the same order as the naive loop).
public func avgPool2d(_ input: Tensor, shape: Pool2dShape) -> Tensor {
    let (planes, height, width, outputHeight, outputWidth) = checkPooling(input.shape, shape: shape)
    let windows = PoolWindows(height: height, width: width, shape: shape)
    let outputPlane = outputHeight * outputWidth
    return makeTensor(shape: [input.shape[0], input.shape[1], outputHeight, outputWidth]) { outputBuffer in
        input.storage.withUnsafeBufferPointer { inputBuffer in
        windows.rows.withUnsafeBufferPointer { rows in
        windows.columns.withUnsafeBufferPointer { columns in
            let x = inputBuffer.baseAddress!, y = outputBuffer.baseAddress!
            let padding = shape.paddingWidth, stride = shape.strideWidth, kernelWidth = shape.kernelWidth
            let interior = interiorOutputColumns(width: width, outputWidth: outputWidth, shape: shape)
            forEachSlice(items: planes, totalWork: input.count + outputPlane * planes) { planeRange in
                for plane in planeRange {
                    let source = x + plane * height * width
                    for (outputRow, row) in rows.enumerated() {
                        let target = y + plane * outputPlane + outputRow * outputWidth
                        var column = 0
                        while column < outputWidth {
                            if column >= interior.lowerBound && column + 16 <= interior.upperBound {
                                // 16 outputs at once, each lane summing its window in the same order.
                                let firstColumn = column * stride - padding
                                let pairsFit = firstColumn + kernelWidth + 30 < width
                                var sum = Float32x16()
                                for h in row.range {
                                    for v in 0 ..< kernelWidth {
                                        sum += loadStridedLanes(source + h * width + firstColumn + v, stride: stride, pairsFit: pairsFit)
                                    }
                                }
                                storeLanes(sum / Float(row.paddedLength * kernelWidth), target + column)
                                column += 16
                            } else {
                                let window = columns[column]
                                var sum: Float = 0
                                for h in row.range {
                                    for w in window.range { sum += source[h * width + w] }
                                }
                                target[column] = sum / Float(row.paddedLength * window.paddedLength)
                                column += 1
                            }
                        }
                    }
                }
            }
        }}}
    }
}

/// The window of output (i, j) of an average pool as the naive loops compute it: the input rows and
/// columns it reads (padding clipped away) and PyTorch's divisor (the window counting padding, but
/// not the part of a ceil-mode window past the right padding).
func averagePoolWindow(_ i: Int, _ j: Int, shape: Pool2dShape, height: Int, width: Int)
    -> (rows: Range<Int>, columns: Range<Int>, divisor: Int) {
    let top = i * shape.strideHeight - shape.paddingHeight
    let left = j * shape.strideWidth - shape.paddingWidth
    let divisor = (min(top + shape.kernelHeight, height + shape.paddingHeight) - top)
        * (min(left + shape.kernelWidth, width + shape.paddingWidth) - left)
    return (max(top, 0) ..< max(min(top + shape.kernelHeight, height), 0),
            max(left, 0) ..< max(min(left + shape.kernelWidth, width), 0), divisor)
}

/// The plain loops of `avgPool2d`, window and divisor recomputed for every output element.
///
/// Reference implementation: literal mode, tests and benchmarks (ARCHITECTURE.md, "Naive twins").
public func avgPool2dNaive(_ input: Tensor, shape: Pool2dShape) -> Tensor {
    let (planes, height, width, outputHeight, outputWidth) = checkPooling(input.shape, shape: shape)
    var output = [Float](repeating: 0, count: planes * outputHeight * outputWidth)
    for plane in 0 ..< planes {
        for i in 0 ..< outputHeight {
            for j in 0 ..< outputWidth {
                let window = averagePoolWindow(i, j, shape: shape, height: height, width: width)
                var sum: Float = 0
                for h in window.rows {
                    for w in window.columns { sum += input.storage[plane * height * width + h * width + w] }
                }
                output[(plane * outputHeight + i) * outputWidth + j] = sum / Float(window.divisor)
            }
        }
    }
    return Tensor(shape: [input.shape[0], input.shape[1], outputHeight, outputWidth], storage: output)
}

/// Gradient of `avgPool2d`: each output gradient, divided by its window's divisor, is added to every
/// input position of the window. gradOutput `[N, C, oh, ow]` → `[N, C, H, W]` (`inputShape`).
public func avgPool2dBackward(_ gradOutput: Tensor, shape: Pool2dShape, inputShape: [Int]) -> Tensor {
    let (planes, height, width, outputHeight, outputWidth) = checkAvgPoolBackward(gradOutput, shape: shape, inputShape: inputShape)
    let windows = PoolWindows(height: height, width: width, shape: shape)
    var gradInput = Tensor(shape: inputShape)
    gradInput.storage.withUnsafeMutableBufferPointer { gradInputBuffer in
    gradOutput.storage.withUnsafeBufferPointer { gradOutputBuffer in
    windows.rows.withUnsafeBufferPointer { rows in
    windows.columns.withUnsafeBufferPointer { columns in
        let dx = gradInputBuffer.baseAddress!, dy = gradOutputBuffer.baseAddress!
        forEachSlice(items: planes, totalWork: inputShape.product + gradOutput.count) { planeRange in
            for plane in planeRange {
                let target = dx + plane * height * width
                var source = dy + plane * outputHeight * outputWidth
                for row in rows {
                    for column in columns {
                        let share = source.pointee / Float(row.paddedLength * column.paddedLength)
                        for h in row.range {
                            for w in column.range { target[h * width + w] += share }
                        }
                        source += 1
                    }
                }
            }
        }
    }}}}
    return gradInput
}

/// The plain loops of `avgPool2dBackward`, the window and its divisor recomputed for every output
/// element as `avgPool2dNaive` computes them.
public func avgPool2dBackwardNaive(_ gradOutput: Tensor, shape: Pool2dShape, inputShape: [Int]) -> Tensor {
    let (planes, height, width, outputHeight, outputWidth) = checkAvgPoolBackward(gradOutput, shape: shape, inputShape: inputShape)
    var gradInput = [Float](repeating: 0, count: inputShape.product)
    for plane in 0 ..< planes {
        for i in 0 ..< outputHeight {
            for j in 0 ..< outputWidth {
                let window = averagePoolWindow(i, j, shape: shape, height: height, width: width)
                let share = gradOutput.storage[(plane * outputHeight + i) * outputWidth + j] / Float(window.divisor)
                for h in window.rows {
                    for w in window.columns { gradInput[plane * height * width + h * width + w] += share }
                }
            }
        }
    }
    return Tensor(shape: inputShape, storage: gradInput)
}

/// Bin `index` of `bins` over `size` positions, as nn.AdaptiveAvgPool2d: [⌊i·H/oh⌋, ⌈(i+1)·H/oh⌉).
/// Neighbouring bins overlap when oh does not divide H.
@inline(__always)
func adaptiveBin(_ index: Int, bins: Int, size: Int) -> Range<Int> {
    (index * size) / bins ..< ((index + 1) * size + bins - 1) / bins
}

/// input `[N, C, H, W]` and a positive output size. Returns (planes N·C, H, W).
func checkAdaptivePooling(_ inputShape: [Int], outputHeight: Int, outputWidth: Int) -> (planes: Int, height: Int, width: Int) {
    precondition(inputShape.count == 4 && inputShape[2] >= 1 && inputShape[3] >= 1 && outputHeight >= 1 && outputWidth >= 1,
                 "adaptiveAvgPool2d: input \(inputShape) to \(outputHeight)×\(outputWidth)")
    return (inputShape[0] * inputShape[1], inputShape[2], inputShape[3])
}

/// Adaptive average pooling as torch.nn.AdaptiveAvgPool2d: output (i, j) is the mean of the input
/// over rows `adaptiveBin(i)` and columns `adaptiveBin(j)`, the row-major sum divided by the bin
/// height and then its width (PyTorch's `sum / kh / kw`). input `[N, C, H, W]` → `[N, C, oh, ow]`.
public func adaptiveAvgPool2d(_ input: Tensor, outputHeight: Int, outputWidth: Int) -> Tensor {
    let (planes, height, width) = checkAdaptivePooling(input.shape, outputHeight: outputHeight, outputWidth: outputWidth)
    let rows = (0 ..< outputHeight).map { adaptiveBin($0, bins: outputHeight, size: height) }
    let columns = (0 ..< outputWidth).map { adaptiveBin($0, bins: outputWidth, size: width) }
    let outputPlane = outputHeight * outputWidth
    return makeTensor(shape: [input.shape[0], input.shape[1], outputHeight, outputWidth]) { outputBuffer in
        input.storage.withUnsafeBufferPointer { inputBuffer in
        rows.withUnsafeBufferPointer { rows in
        columns.withUnsafeBufferPointer { columns in
            let x = inputBuffer.baseAddress!, y = outputBuffer.baseAddress!
            forEachSlice(items: planes, totalWork: input.count + outputPlane * planes) { planeRange in
                for plane in planeRange {
                    let source = x + plane * height * width
                    var target = y + plane * outputPlane
                    for row in rows {
                        for column in columns {
                            var sum: Float = 0
                            for h in row {
                                for w in column { sum += source[h * width + w] }
                            }
                            target.pointee = sum / Float(row.count) / Float(column.count)
                            target += 1
                        }
                    }
                }
            }
        }}}
    }
}

/// The plain loops of `adaptiveAvgPool2d`, bins recomputed for every output element.
///
/// Reference implementation: literal mode, tests and benchmarks (ARCHITECTURE.md, "Naive twins").
public func adaptiveAvgPool2dNaive(_ input: Tensor, outputHeight: Int, outputWidth: Int) -> Tensor {
    let (planes, height, width) = checkAdaptivePooling(input.shape, outputHeight: outputHeight, outputWidth: outputWidth)
    var output = [Float](repeating: 0, count: planes * outputHeight * outputWidth)
    for plane in 0 ..< planes {
        for i in 0 ..< outputHeight {
            for j in 0 ..< outputWidth {
                let top = (i * height) / outputHeight, bottom = ((i + 1) * height + outputHeight - 1) / outputHeight
                let left = (j * width) / outputWidth, right = ((j + 1) * width + outputWidth - 1) / outputWidth
                var sum: Float = 0
                for h in top ..< bottom {
                    for w in left ..< right { sum += input.storage[plane * height * width + h * width + w] }
                }
                output[(plane * outputHeight + i) * outputWidth + j] = sum / Float(bottom - top) / Float(right - left)
            }
        }
    }
    return Tensor(shape: [input.shape[0], input.shape[1], outputHeight, outputWidth], storage: output)
}

/// Gradient of `adaptiveAvgPool2d`: each output gradient divided by its bin height and width is
/// added to every input position of its bin (twice where bins overlap).
/// gradOutput `[N, C, oh, ow]` → `[N, C, H, W]` (`inputShape`).
public func adaptiveAvgPool2dBackward(_ gradOutput: Tensor, inputShape: [Int]) -> Tensor {
    let (planes, height, width, outputHeight, outputWidth) = checkAdaptivePoolingBackward(gradOutput, inputShape: inputShape)
    let rows = (0 ..< outputHeight).map { adaptiveBin($0, bins: outputHeight, size: height) }
    let columns = (0 ..< outputWidth).map { adaptiveBin($0, bins: outputWidth, size: width) }
    var gradInput = Tensor(shape: inputShape)
    gradInput.storage.withUnsafeMutableBufferPointer { gradInputBuffer in
    gradOutput.storage.withUnsafeBufferPointer { gradOutputBuffer in
        let dx = gradInputBuffer.baseAddress!, dy = gradOutputBuffer.baseAddress!
        forEachSlice(items: planes, totalWork: inputShape.product + gradOutput.count) { planeRange in
            for plane in planeRange {
                let target = dx + plane * height * width
                var source = dy + plane * outputHeight * outputWidth
                for row in rows {
                    for column in columns {
                        let share = source.pointee / Float(row.count) / Float(column.count)
                        for h in row {
                            for w in column { target[h * width + w] += share }
                        }
                        source += 1
                    }
                }
            }
        }
    }}
    return gradInput
}

/// The plain loops of `adaptiveAvgPool2dBackward`, bins recomputed for every output element.
public func adaptiveAvgPool2dBackwardNaive(_ gradOutput: Tensor, inputShape: [Int]) -> Tensor {
    let (planes, height, width, outputHeight, outputWidth) = checkAdaptivePoolingBackward(gradOutput, inputShape: inputShape)
    var gradInput = [Float](repeating: 0, count: inputShape.product)
    for plane in 0 ..< planes {
        for i in 0 ..< outputHeight {
            for j in 0 ..< outputWidth {
                let rows = adaptiveBin(i, bins: outputHeight, size: height), columns = adaptiveBin(j, bins: outputWidth, size: width)
                let share = gradOutput.storage[(plane * outputHeight + i) * outputWidth + j] / Float(rows.count) / Float(columns.count)
                for h in rows {
                    for w in columns { gradInput[plane * height * width + h * width + w] += share }
                }
            }
        }
    }
    return Tensor(shape: inputShape, storage: gradInput)
}

/// The checks both twins of `avgPool2dBackward` make: the pooling geometry on `inputShape`
/// (`checkPooling`) and gradOutput `[N, C, oh, ow]` of that pooling's output size.
func checkAvgPoolBackward(_ gradOutput: Tensor, shape: Pool2dShape, inputShape: [Int])
    -> (planes: Int, height: Int, width: Int, outputHeight: Int, outputWidth: Int) {
    let sizes = checkPooling(inputShape, shape: shape)
    precondition(gradOutput.shape == [inputShape[0], inputShape[1], sizes.outputHeight, sizes.outputWidth],
                 "avgPool2dBackward: gradOutput \(gradOutput.shape) does not fit input \(inputShape)")
    return sizes
}

/// The checks both twins of `adaptiveAvgPool2dBackward` make: gradOutput `[N, C, oh, ow]` with the
/// input's N and C, and bins that fit the input (`checkAdaptivePooling`).
func checkAdaptivePoolingBackward(_ gradOutput: Tensor, inputShape: [Int])
    -> (planes: Int, height: Int, width: Int, outputHeight: Int, outputWidth: Int) {
    precondition(gradOutput.rank == 4, "adaptiveAvgPool2dBackward: gradOutput \(gradOutput.shape) is not [N, C, oh, ow]")
    let outputHeight = gradOutput.shape[2], outputWidth = gradOutput.shape[3]
    let (planes, height, width) = checkAdaptivePooling(inputShape, outputHeight: outputHeight, outputWidth: outputWidth)
    precondition(gradOutput.shape[0] == inputShape[0] && gradOutput.shape[1] == inputShape[1],
                 "adaptiveAvgPool2dBackward: gradOutput \(gradOutput.shape) does not fit input \(inputShape)")
    return (planes, height, width, outputHeight, outputWidth)
}
