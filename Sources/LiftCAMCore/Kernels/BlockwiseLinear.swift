// A Linear layer's output split into one term per block of its inputs: the per-map contributions
// P[k, o] = Σ_j W[o, k·B + j] · x[k·B + j] that make a CAM head's first Linear layer a sum over the
// activation maps (MapGame, HeadDecomposition). One pass over W, the largest matrix of a VGG head.

/// Pᵀ `[O, blocks]` with Pᵀ[o, k] = Σ_{j < B} W[o, k·B + j] · x[k·B + j], for weight `[O, blocks·B]`
/// and input `x` `[blocks·B]`. Σ_k Pᵀ[o, k] is (W·x)[o].
///
/// Each row of W is read once, in order, in SIMD16 steps within each block; rows are split over the
/// cores, and each row's K results are written side by side. (Writing P by map instead would scatter
/// every row's results a page apart: a transpose, when wanted, is cheaper done once afterwards.)
public func blockwiseLinear(weight: Tensor, input: Tensor, blocks: Int) -> Tensor {
    let outputs = weight.shape[0], inputs = weight.shape[1]
    precondition(weight.rank == 2 && input.count == inputs && blocks >= 1 && inputs % blocks == 0,
                 "blockwiseLinear: weight \(weight.shape), input \(input.shape), \(blocks) blocks")
    let block = inputs / blocks
    return makeTensor(shape: [outputs, blocks]) { result in
        weight.storage.withUnsafeBufferPointer { w in
            input.storage.withUnsafeBufferPointer { x in
                let weights = SendableConstPointer(w.baseAddress!), values = SendableConstPointer(x.baseAddress!)
                let out = SendablePointer(result.baseAddress!)
                let chunks = min(outputs, workerCount * 8)
                parallelFor(chunks) { chunk in
                    var o = chunk * outputs / chunks
                    let end = (chunk + 1) * outputs / chunks
                    // Two rows at a time when the blocks are long: each input vector is loaded once
                    // for both, and the two horizontal sums overlap.
                    while block >= 16 && o + 2 <= end {
                        blockDotsOfTwoRows(weights.base + o * inputs, inputs: inputs, input: values.base, blocks: blocks,
                                           block: block, into: out.base + o * blocks)
                        o += 2
                    }
                    while o < end {
                        blockDots(row: weights.base + o * inputs, input: values.base, blocks: blocks, block: block,
                                  into: out.base + o * blocks)
                        o += 1
                    }
                }
            }
        }
    }
}

/// The transpose of a matrix `[rows, columns]`.
public func transposed(_ matrix: Tensor) -> Tensor {
    precondition(matrix.rank == 2, "transposed: \(matrix.shape) is not a matrix")
    let rows = matrix.shape[0], columns = matrix.shape[1]
    return makeTensor(shape: [columns, rows]) { out in
        matrix.storage.withUnsafeBufferPointer { m in
            transposeBlocked(m.baseAddress!, rows: rows, columns: columns, into: out.baseAddress!)
        }
    }
}

/// out `[columns, rows]` = transpose of `matrix` `[rows, columns]`, in 32×32 tiles so both the reads
/// and the writes stay within a few cache lines per row of the tile.
private func transposeBlocked(_ matrix: UnsafePointer<Float>, rows: Int, columns: Int, into out: UnsafeMutablePointer<Float>) {
    let tile = 32
    for rowStart in stride(from: 0, to: rows, by: tile) {
        let rowEnd = min(rows, rowStart + tile)
        for columnStart in stride(from: 0, to: columns, by: tile) {
            let columnEnd = min(columns, columnStart + tile)
            for row in rowStart..<rowEnd {
                for column in columnStart..<columnEnd { out[column * rows + row] = matrix[row * columns + column] }
            }
        }
    }
}

/// out[k] = Σ_{j < block} row[k·block + j] · input[k·block + j] for every block k.
@inline(__always)
private func blockDots(row: UnsafePointer<Float>, input: UnsafePointer<Float>, blocks: Int, block: Int,
                       into out: UnsafeMutablePointer<Float>) {
    if block < 16 {
        // Short blocks (a ResNet head pools each map to one value): plain products, no vector sums.
        for k in 0..<blocks {
            var sum: Float = 0
            for j in k * block ..< (k + 1) * block { sum += row[j] * input[j] }
            out[k] = sum
        }
        return
    }
    let vectorEnd = block - block % 16
    for k in 0..<blocks {
        let start = k * block
        var accumulator = Float32x16()
        var j = 0
        while j < vectorEnd {
            accumulator = multiplyAdd(accumulator, loadLanes(row + start + j), loadLanes(input + start + j))
            j += 16
        }
        var sum = horizontalSum(accumulator)
        while j < block {
            sum += row[start + j] * input[start + j]
            j += 1
        }
        out[k] = sum
    }
}

/// `blockDots` for rows `rows` and `rows + inputs` at once, into `out` and `out + blocks`
/// (block ≥ 16).
@inline(__always)
private func blockDotsOfTwoRows(_ rows: UnsafePointer<Float>, inputs: Int, input: UnsafePointer<Float>, blocks: Int,
                                block: Int, into out: UnsafeMutablePointer<Float>) {
    let vectorEnd = block - block % 16
    let second = rows + inputs
    for k in 0..<blocks {
        let start = k * block
        var sum0 = Float32x16(), sum1 = Float32x16()
        var j = 0
        while j < vectorEnd {
            let x = loadLanes(input + start + j)
            sum0 = multiplyAdd(sum0, loadLanes(rows + start + j), x)
            sum1 = multiplyAdd(sum1, loadLanes(second + start + j), x)
            j += 16
        }
        var total0 = horizontalSum(sum0), total1 = horizontalSum(sum1)
        while j < block {
            total0 += rows[start + j] * input[start + j]
            total1 += rows[inputs + start + j] * input[start + j]
            j += 1
        }
        out[k] = total0
        out[blocks + k] = total1
    }
}

/// The naive twin of `blockwiseLinear`: the definition, one product at a time.
///
/// Reference implementation, for tests and benchmarks: literal mode has no head decomposition
/// (ARCHITECTURE.md, "Naive twins").
public func blockwiseLinearNaive(weight: Tensor, input: Tensor, blocks: Int) -> Tensor {
    let outputs = weight.shape[0], inputs = weight.shape[1], block = inputs / blocks
    var result = Tensor(shape: [outputs, blocks])
    for k in 0..<blocks {
        for o in 0..<outputs {
            var sum: Float = 0
            for j in 0..<block { sum += weight.storage[o * inputs + k * block + j] * input.storage[k * block + j] }
            result.storage[o * blocks + k] = sum
        }
    }
    return result
}
