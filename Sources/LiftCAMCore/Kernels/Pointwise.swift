// Element-wise kernels: ReLU, residual addition, the per-channel affine map of an eval-mode
// batch norm, and folding that map into the convolution before it.

/// Elements per parallel block of an element-wise kernel (a multiple of 16, 64 KiB of floats).
let pointwiseBlock = 16_384

/// Runs `body(range)` over `0..<count` in blocks of `pointwiseBlock` elements, spread over the cores.
@inline(__always)
func forEachBlock(count: Int, _ body: (Range<Int>) -> Void) {
    let blocks = (count + pointwiseBlock - 1) / pointwiseBlock
    forEachSlice(items: blocks, totalWork: count) { blockRange in
        body(blockRange.lowerBound * pointwiseBlock ..< min(count, blockRange.upperBound * pointwiseBlock))
    }
}

/// y = max(x, 0), as PyTorch's ReLU: a NaN stays NaN (only values below zero become zero).
/// Any shape; SIMD16 over blocks spread over the cores.
public func relu(_ x: Tensor) -> Tensor {
    makeTensor(shape: x.shape) { output in
        x.storage.withUnsafeBufferPointer { input in
            zeroNegatives(input.baseAddress!, into: output.baseAddress!, count: x.count)
        }
    }
}

/// target[i] = max(source[i], 0), NaN kept; `target` may be `source` (each element is read before
/// it is written, and by the same iteration).
@inline(__always)
private func zeroNegatives(_ source: UnsafePointer<Float>, into target: UnsafeMutablePointer<Float>, count: Int) {
    forEachBlock(count: count) { range in
        var i = range.lowerBound
        while i + 16 <= range.upperBound {
            let value = loadLanes(source + i)
            storeLanes(value.replacing(with: 0, where: value .< 0), target + i)
            i += 16
        }
        while i < range.upperBound {
            target[i] = source[i] < 0 ? 0 : source[i]
            i += 1
        }
    }
}

/// The plain loop of `relu`.
///
/// Reference implementation: literal mode, tests and benchmarks (ARCHITECTURE.md, "Naive twins").
public func reluNaive(_ x: Tensor) -> Tensor {
    Tensor(shape: x.shape, storage: x.storage.map { $0 < 0 ? 0 : $0 })
}

/// a + b element by element (the residual addition of a ResNet block); equal shapes.
public func add(_ a: Tensor, _ b: Tensor) -> Tensor { elementwiseSum(a, b, clampingAtZero: false) }

/// max(a + b, 0) element by element in one pass: the end of a ResNet block, relu(branch + shortcut).
public func addReLU(_ a: Tensor, _ b: Tensor) -> Tensor { elementwiseSum(a, b, clampingAtZero: true) }

/// `addReLU` written over `a`: a block's forward pass sums into its branch's output, which it holds
/// alone and has just written (still in cache), instead of into a new buffer, whose first writes
/// would each fetch a line from memory.
public func addReLU(into a: inout Tensor, _ b: Tensor) {
    precondition(a.shape == b.shape, "addReLU: shapes \(a.shape) and \(b.shape) differ")
    let count = a.count
    a.storage.withUnsafeMutableBufferPointer { target in
        b.storage.withUnsafeBufferPointer { right in
            sumElements(target.baseAddress!, right.baseAddress!, into: target.baseAddress!, count: count, clampingAtZero: true)
        }
    }
}

/// a + b, or max(a + b, 0) when `clampingAtZero`, into a new tensor.
@inline(__always)
private func elementwiseSum(_ a: Tensor, _ b: Tensor, clampingAtZero: Bool) -> Tensor {
    precondition(a.shape == b.shape, "\(clampingAtZero ? "addReLU" : "add"): shapes \(a.shape) and \(b.shape) differ")
    return makeTensor(shape: a.shape) { output in
        a.storage.withUnsafeBufferPointer { left in
        b.storage.withUnsafeBufferPointer { right in
            sumElements(left.baseAddress!, right.baseAddress!, into: output.baseAddress!, count: a.count, clampingAtZero: clampingAtZero)
        }}
    }
}

/// target[i] = first[i] + second[i], or max(…, 0) when `clampingAtZero` (NaN kept); `target` may be
/// `first`. Inlined into its callers with the flag a constant, so no loop tests it per element.
@inline(__always)
private func sumElements(_ first: UnsafePointer<Float>, _ second: UnsafePointer<Float>, into target: UnsafeMutablePointer<Float>,
                         count: Int, clampingAtZero: Bool) {
    forEachBlock(count: count) { range in
        var i = range.lowerBound
        while i + 16 <= range.upperBound {
            let sum = loadLanes(first + i) + loadLanes(second + i)
            storeLanes(clampingAtZero ? sum.replacing(with: 0, where: sum .< 0) : sum, target + i)
            i += 16
        }
        while i < range.upperBound {
            let sum = first[i] + second[i]
            target[i] = clampingAtZero && sum < 0 ? 0 : sum
            i += 1
        }
    }
}

/// The plain loop of `add`.
///
/// Reference implementation: literal mode, tests and benchmarks (ARCHITECTURE.md, "Naive twins").
public func addNaive(_ a: Tensor, _ b: Tensor) -> Tensor {
    precondition(a.shape == b.shape, "add: shapes \(a.shape) and \(b.shape) differ")
    return Tensor(shape: a.shape, storage: zip(a.storage, b.storage).map { $0 + $1 })
}

/// y[n,c,…] = x[n,c,…] · scale[c] + shift[c]: an eval-mode batch norm once folded to one affine map
/// per channel. x is `[N, C, …]` (any trailing dimensions). The product is rounded before the sum
/// (no fused multiply-add), so the fast and naive twins agree bit for bit.
public func channelAffine(_ x: Tensor, scale: [Float], shift: [Float]) -> Tensor {
    let (planes, channels, planeSize) = checkChannelAffine(x.shape, scale: scale, shift: shift)
    return makeTensor(shape: x.shape) { output in
        x.storage.withUnsafeBufferPointer { input in
        scale.withUnsafeBufferPointer { scale in
        shift.withUnsafeBufferPointer { shift in
            let source = input.baseAddress!, target = output.baseAddress!
            forEachSlice(items: planes, totalWork: x.count) { planeRange in
                for plane in planeRange {
                    let factor = scale[plane % channels], offset = shift[plane % channels]
                    let from = source + plane * planeSize, to = target + plane * planeSize
                    let factors = Float32x16(repeating: factor), offsets = Float32x16(repeating: offset)
                    var i = 0
                    while i + 16 <= planeSize {
                        storeLanes(loadLanes(from + i) * factors + offsets, to + i)
                        i += 16
                    }
                    while i < planeSize {
                        to[i] = from[i] * factor + offset
                        i += 1
                    }
                }
            }
        }}}
    }
}

/// The plain loop of `channelAffine`.
///
/// Reference implementation: literal mode, tests and benchmarks (ARCHITECTURE.md, "Naive twins").
public func channelAffineNaive(_ x: Tensor, scale: [Float], shift: [Float]) -> Tensor {
    let (_, channels, planeSize) = checkChannelAffine(x.shape, scale: scale, shift: shift)
    var output = x.storage
    for i in 0 ..< output.count {
        let channel = (i / planeSize) % channels
        output[i] = x.storage[i] * scale[channel] + shift[channel]
    }
    return Tensor(shape: x.shape, storage: output)
}

/// x is `[N, C, …]` with C scales and shifts. Returns (planes N·C, C, elements per plane).
func checkChannelAffine(_ shape: [Int], scale: [Float], shift: [Float]) -> (planes: Int, channels: Int, planeSize: Int) {
    precondition(shape.count >= 2 && scale.count == shape[1] && shift.count == shape[1],
                 "channelAffine: \(scale.count) scales and \(shift.count) shifts for shape \(shape)")
    return (shape[0] * shape[1], shape[1], shape.dropFirst(2).reduce(1, *))
}

/// An eval-mode BatchNorm2d as the per-channel affine map y = x · scale + shift, with
/// scale = weight / √(runningVar + ε) and shift = bias − runningMean · scale (PyTorch's formula
/// (x − mean) / √(var + ε) · weight + bias, regrouped). All four tensors hold one value per channel.
public func batchNormAffine(weight: Tensor, bias: Tensor, runningMean: Tensor, runningVariance: Tensor,
                            epsilon: Float) -> (scale: [Float], shift: [Float]) {
    let channels = weight.count
    precondition(bias.count == channels && runningMean.count == channels && runningVariance.count == channels,
                 "batchNormAffine: parameter counts \(weight.count), \(bias.count), \(runningMean.count), \(runningVariance.count) differ")
    var scale = [Float](repeating: 0, count: channels), shift = scale
    for c in 0 ..< channels {
        scale[c] = weight.storage[c] / (runningVariance.storage[c] + epsilon).squareRoot()
        shift[c] = bias.storage[c] - runningMean.storage[c] * scale[c]
    }
    return (scale, shift)
}

/// Folds a per-channel affine map that follows a convolution (or linear layer) into it:
/// scale[o] · (W[o] ⋆ x + b[o]) + shift[o] = (scale[o] · W[o]) ⋆ x + (scale[o] · b[o] + shift[o]).
/// weight `[O, …]`, bias `[O]` or nil (zero) → the folded weight `[O, …]` and bias `[O]`.
public func foldChannelAffine(intoWeight weight: Tensor, bias: Tensor?, scale: [Float], shift: [Float])
    -> (weight: Tensor, bias: Tensor) {
    let outChannels = weight.shape.first ?? 0
    precondition(weight.rank >= 1 && scale.count == outChannels && shift.count == outChannels
                     && (bias == nil || bias!.count == outChannels),
                 "foldChannelAffine: \(scale.count) scales, \(shift.count) shifts for weight \(weight.shape)")
    let rowSize = outChannels == 0 ? 0 : weight.count / outChannels
    var foldedWeight = weight.storage
    var foldedBias = [Float](repeating: 0, count: outChannels)
    for o in 0 ..< outChannels {
        for i in o * rowSize ..< (o + 1) * rowSize { foldedWeight[i] *= scale[o] }
        foldedBias[o] = (bias?.storage[o] ?? 0) * scale[o] + shift[o]
    }
    return (Tensor(shape: weight.shape, storage: foldedWeight), Tensor(shape: [outChannels], storage: foldedBias))
}
