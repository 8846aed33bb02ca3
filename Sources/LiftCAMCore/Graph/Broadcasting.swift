// NumPy broadcasting for the binary operations of a graph (ONNX Add and Mul follow it): shapes are
// aligned at their last dimension, and a dimension of 1 stretches to the other's size. A
// squeeze-and-excitation block multiplies `[N, C, H, W]` maps by `[N, C, 1, 1]` channel weights.

/// The broadcast shape of `a` and `b`, or nil when a pair of aligned dimensions differs and
/// neither is 1.
public func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int]? {
    let rank = max(a.count, b.count)
    var shape = [Int](repeating: 1, count: rank)
    for i in 0..<rank {
        let x = i < rank - a.count ? 1 : a[i - (rank - a.count)]
        let y = i < rank - b.count ? 1 : b[i - (rank - b.count)]
        guard x == y || x == 1 || y == 1 else { return nil }
        shape[i] = x == 1 ? y : x
    }
    return shape
}

/// The element strides of `shape` read as `outputShape` (right-aligned), with 0 where it is
/// broadcast.
private func broadcastStrides(_ shape: [Int], to outputShape: [Int]) -> [Int] {
    let offset = outputShape.count - shape.count
    var strides = [Int](repeating: 0, count: outputShape.count)
    var step = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) {
        strides[i + offset] = shape[i] == 1 ? 0 : step
        step *= shape[i]
    }
    return strides
}

/// `outputShape` with neighbouring dimensions merged where both operands step through them alike
/// (each reads both contiguously, or each repeats across both), so the loops below run long
/// innermost rows: `[N, C, H, W]` × `[N, C, 1, 1]` becomes `[N·C, H·W]` × `[N·C, 1]`.
private func mergedLoops(_ outputShape: [Int], _ a: [Int], _ b: [Int]) -> (shape: [Int], a: [Int], b: [Int]) {
    var shape: [Int] = [], sa: [Int] = [], sb: [Int] = []
    for i in outputShape.indices where outputShape[i] != 1 {
        if let last = shape.last, (sa.last! == 0) == (a[i] == 0), (sb.last! == 0) == (b[i] == 0),
           sa.last! == 0 || sa.last! == a[i] * outputShape[i], sb.last! == 0 || sb.last! == b[i] * outputShape[i] {
            shape[shape.count - 1] = last * outputShape[i]
            sa[sa.count - 1] = a[i]
            sb[sb.count - 1] = b[i]
        } else {
            shape.append(outputShape[i])
            sa.append(a[i])
            sb.append(b[i])
        }
    }
    if shape.isEmpty { return ([1], [0], [0]) }
    return (shape, sa, sb)
}

/// c = op(a, b) elementwise under broadcasting (`outputShape` from `broadcastShape`). Inlined into
/// each caller, so `op` is inlined too and the rows below (both operands contiguous, or one repeated)
/// vectorise: squeeze-and-excitation scales whole planes by one number each.
@inline(__always)
func broadcastBinary(_ a: Tensor, _ b: Tensor, outputShape: [Int], _ op: (Float, Float) -> Float) -> Tensor {
    let loops = mergedLoops(outputShape, broadcastStrides(a.shape, to: outputShape), broadcastStrides(b.shape, to: outputShape))
    var output = Tensor(shape: outputShape)
    let rank = loops.shape.count
    let inner = loops.shape[rank - 1], innerA = loops.a[rank - 1], innerB = loops.b[rank - 1]
    let rows = output.count / inner
    output.storage.withUnsafeMutableBufferPointer { c in
        a.storage.withUnsafeBufferPointer { x in
            b.storage.withUnsafeBufferPointer { y in
                var index = [Int](repeating: 0, count: rank)
                var offsetA = 0, offsetB = 0
                for row in 0..<rows {
                    let base = row * inner
                    if innerA == 1 && innerB == 1 {
                        for j in 0..<inner { c[base + j] = op(x[offsetA + j], y[offsetB + j]) }
                    } else if innerA == 1 && innerB == 0 {
                        let value = y[offsetB]
                        for j in 0..<inner { c[base + j] = op(x[offsetA + j], value) }
                    } else if innerA == 0 && innerB == 1 {
                        let value = x[offsetA]
                        for j in 0..<inner { c[base + j] = op(value, y[offsetB + j]) }
                    } else {
                        for j in 0..<inner { c[base + j] = op(x[offsetA + j * innerA], y[offsetB + j * innerB]) }
                    }
                    // Advance the outer index like an odometer, keeping both offsets.
                    var d = rank - 2
                    while d >= 0 {
                        index[d] += 1
                        offsetA += loops.a[d]
                        offsetB += loops.b[d]
                        if index[d] < loops.shape[d] { break }
                        offsetA -= loops.a[d] * loops.shape[d]
                        offsetB -= loops.b[d] * loops.shape[d]
                        index[d] = 0
                        d -= 1
                    }
                }
            }
        }
    }
    return output
}

/// Σ of `tensor` over the dimensions that broadcasting stretched `shape` along: the transpose of
/// broadcasting, which is how a multiplier flows back to a broadcast operand.
func sumBroadcast(_ tensor: Tensor, to shape: [Int]) -> Tensor {
    if tensor.shape == shape { return tensor }
    if shape.reduce(1, *) == tensor.count { return tensor.reshaped(shape) }
    var result = Tensor(shape: shape)
    let strides = broadcastStrides(shape, to: tensor.shape)
    let rank = tensor.shape.count
    result.storage.withUnsafeMutableBufferPointer { r in
        tensor.storage.withUnsafeBufferPointer { t in
            var index = [Int](repeating: 0, count: rank)
            var offset = 0
            for i in 0..<t.count {
                r[offset] += t[i]
                var d = rank - 1
                while d >= 0 {
                    index[d] += 1
                    offset += strides[d]
                    if index[d] < tensor.shape[d] { break }
                    offset -= strides[d] * tensor.shape[d]
                    index[d] = 0
                    d -= 1
                }
            }
        }
    }
    return result
}
