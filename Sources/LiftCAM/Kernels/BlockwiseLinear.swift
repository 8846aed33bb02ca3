// A Linear layer's output split into one term per block of its inputs: the per-map contributions
// P[k, o] = Σ_j W[o, k·B + j] · x[k·B + j] that make a CAM head's first Linear layer a sum over the
// activation maps (MapGame, HeadDecomposition). One pass over W, the largest matrix of a VGG head.

/// P `[blocks, O]` with P[k, o] = Σ_{j < B} W[o, k·B + j] · x[k·B + j], for weight `[O, blocks·B]`
/// and input `x` `[blocks·B]`. Σ_k P[k, o] is (W·x)[o].
///
/// Each row of W is read once, in order, in SIMD16 steps within each block; rows are split over the
/// cores. The per-row results are written as `[O, blocks]` and transposed at the end, so the writes
/// of the hot loop are contiguous.
public func blockwiseLinear(weight: Tensor, input: Tensor, blocks: Int) -> Tensor {
    let outputs = weight.shape[0], inputs = weight.shape[1]
    precondition(weight.rank == 2 && input.count == inputs && blocks >= 1 && inputs % blocks == 0,
                 "blockwiseLinear: weight \(weight.shape), input \(input.shape), \(blocks) blocks")
    let block = inputs / blocks
    let byRow = allocateAlignedFloats(outputs * blocks)            // [O, blocks]
    defer { byRow.deallocate() }
    weight.storage.withUnsafeBufferPointer { w in
        input.storage.withUnsafeBufferPointer { x in
            let weights = SendableConstPointer(w.baseAddress!), values = SendableConstPointer(x.baseAddress!)
            let out = SendablePointer(byRow)
            let chunks = min(outputs, workerCount * 8)
            parallelFor(chunks) { chunk in
                for o in (chunk * outputs / chunks) ..< ((chunk + 1) * outputs / chunks) {
                    blockDots(row: weights.base + o * inputs, input: values.base, blocks: blocks, block: block,
                              into: out.base + o * blocks)
                }
            }
        }
    }
    return makeTensor(shape: [blocks, outputs]) { result in
        let p = result.baseAddress!
        for o in 0..<outputs {
            for k in 0..<blocks { p[k * outputs + o] = byRow[o * blocks + k] }
        }
    }
}

/// out[k] = Σ_{j < block} row[k·block + j] · input[k·block + j] for every block k.
@inline(__always)
private func blockDots(row: UnsafePointer<Float>, input: UnsafePointer<Float>, blocks: Int, block: Int,
                       into out: UnsafeMutablePointer<Float>) {
    let vectorEnd = block - block % 16
    let rawRow = UnsafeRawPointer(row), rawInput = UnsafeRawPointer(input)
    for k in 0..<blocks {
        let start = k * block
        var accumulator = SIMD16<Float>()
        var j = 0
        while j < vectorEnd {
            let offset = (start + j) * MemoryLayout<Float>.stride
            accumulator = accumulator.addingProduct(rawRow.loadUnaligned(fromByteOffset: offset, as: SIMD16<Float>.self),
                                                    rawInput.loadUnaligned(fromByteOffset: offset, as: SIMD16<Float>.self))
            j += 16
        }
        var sum = accumulator.sum()
        while j < block {
            sum += row[start + j] * input[start + j]
            j += 1
        }
        out[k] = sum
    }
}

/// The naive twin of `blockwiseLinear`: the definition, one product at a time.
public func blockwiseLinearNaive(weight: Tensor, input: Tensor, blocks: Int) -> Tensor {
    let outputs = weight.shape[0], inputs = weight.shape[1], block = inputs / blocks
    var result = Tensor(shape: [blocks, outputs])
    for k in 0..<blocks {
        for o in 0..<outputs {
            var sum: Float = 0
            for j in 0..<block { sum += weight.storage[o * inputs + k * block + j] * input.storage[k * block + j] }
            result.storage[k * outputs + o] = sum
        }
    }
    return result
}
