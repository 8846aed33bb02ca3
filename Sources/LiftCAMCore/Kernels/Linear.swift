// Fully connected layer (PyTorch nn.Linear: y = x Wᵀ + b) and its transpose.

/// Batches up to this size stream W once instead of calling `gemm`: a GEMM packs all of W (for
/// VGG's first FC layer, 411 MB rearranged), which only pays off over several items' arithmetic.
let linearStreamingBatchLimit = 4

/// y[n, o] = b[o] + Σ_i x[n, i] · W[o, i], as PyTorch's nn.Linear.
///
/// input `[N, I]`, weight `[O, I]`, bias `[O]` → `[N, O]`. Up to `linearStreamingBatchLimit` items,
/// or with fewer than 16 outputs, it is bound by reading W once: rows of W are split over the cores
/// and each row is dotted with every item in SIMD16. Otherwise a GEMM `x · Wᵀ` added onto the bias.
public func linear(_ input: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
    let (batch, inFeatures, outFeatures) = checkLinear(input.shape, weight: weight, bias: bias)
    return makeTensor(shape: [batch, outFeatures]) { output in
        let y = output.baseAddress!                                  // [N, O]
        fillChannels(y, batch: batch, channels: outFeatures, planeSize: 1, bias: bias)
        input.storage.withUnsafeBufferPointer { inputBuffer in
        weight.storage.withUnsafeBufferPointer { weightBuffer in
            let x = inputBuffer.baseAddress!, w = weightBuffer.baseAddress!  // [N, I], [O, I]
            // Few items, or few outputs (a head cut to one class): dot products. A GEMM would pad
            // the outputs to its 16-wide panels and pack every item for a handful of products each.
            if batch <= linearStreamingBatchLimit || outFeatures < gemmTileColumns {
                forEachSlice(items: outFeatures, totalWork: batch * outFeatures * inFeatures) { rows in
                    for o in rows {
                        let row = w + o * inFeatures
                        for n in 0 ..< batch { y[n * outFeatures + o] += dotProduct(row, x + n * inFeatures, count: inFeatures) }
                    }
                }
            } else {
                gemm(m: batch, n: outFeatures, k: inFeatures, a: x, lda: inFeatures, transA: false,
                     b: w, ldb: inFeatures, transB: true, c: y, ldc: outFeatures, accumulate: true)
            }
        }}
    }
}

/// The plain loops of `linear`: y[n, o] = b[o] + Σ_i x[n, i] · W[o, i], summed in order of i.
///
/// Reference implementation: literal mode, tests and benchmarks (ARCHITECTURE.md, "Naive twins").
public func linearNaive(_ input: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
    let (batch, inFeatures, outFeatures) = checkLinear(input.shape, weight: weight, bias: bias)
    var output = [Float](repeating: 0, count: batch * outFeatures)
    for n in 0 ..< batch {
        for o in 0 ..< outFeatures {
            var sum: Float = 0
            for i in 0 ..< inFeatures {
                sum += input.storage[n * inFeatures + i] * weight.storage[o * inFeatures + i]
            }
            output[n * outFeatures + o] = sum + (bias?.storage[o] ?? 0)
        }
    }
    return Tensor(shape: [batch, outFeatures], storage: output)
}

/// Gradient of `linear` with respect to its input, dx[n, i] = Σ_o dy[n, o] · W[o, i] (dx = dy · W);
/// being linear, the same map carries DeepLIFT-Rescale multipliers.
///
/// gradOutput `[N, O]`, weight `[O, I]` → `[N, I]`. Up to `linearStreamingBatchLimit` items: the
/// rows of W are split over the cores, each adding dy[n, o] · W[o, :] into partial sums in SIMD16
/// (W is read once, in order). A larger batch is a GEMM `dy · W`.
public func linearBackwardInput(_ gradOutput: Tensor, weight: Tensor) -> Tensor {
    let (batch, inFeatures, outFeatures) = checkLinearBackward(gradOutput.shape, weight: weight)
    return makeTensor(shape: [batch, inFeatures]) { output in
        let dx = output.baseAddress!                                 // [N, I]
        gradOutput.storage.withUnsafeBufferPointer { gradBuffer in
        weight.storage.withUnsafeBufferPointer { weightBuffer in
            let dy = gradBuffer.baseAddress!, w = weightBuffer.baseAddress!  // [N, O], [O, I]
            if batch <= linearStreamingBatchLimit {
                // Rows of W are split over the cores; each slice adds dy[n, o] · W[o, :] into its own
                // partial dx[n] (100 KB per item for VGG's 25088 inputs: they stay in L2) while W
                // streams past once, in order. The partials are then summed in slice order.
                let slices = chunkCount(items: outFeatures, totalWork: batch * outFeatures * inFeatures)
                let itemsSize = batch * inFeatures
                let partials = UnsafeMutablePointer<Float>.allocate(capacity: slices * itemsSize)  // [slices, N, I]
                defer { partials.deallocate() }
                partials.initialize(repeating: 0, count: slices * itemsSize)
                let accumulateSlice = { (slice: Int) in
                    let partial = partials + slice * itemsSize
                    for o in evenSlice(slice, of: slices, total: outFeatures) {
                        for n in 0 ..< batch {
                            addScaled(w + o * inFeatures, scale: dy[n * outFeatures + o], into: partial + n * inFeatures, count: inFeatures)
                        }
                    }
                }
                if slices == 1 { accumulateSlice(0) } else { parallelFor(slices, accumulateSlice) }
                dx.initialize(from: partials, count: itemsSize)
                for slice in 1 ..< slices {
                    addScaled(partials + slice * itemsSize, scale: 1, into: dx, count: itemsSize)
                }
            } else {
                gemm(m: batch, n: inFeatures, k: outFeatures, a: dy, lda: outFeatures, transA: false,
                     b: w, ldb: inFeatures, transB: false, c: dx, ldc: inFeatures, accumulate: false)
            }
        }}
    }
}

/// The plain loops of `linearBackwardInput`: dx[n, i] = Σ_o dy[n, o] · W[o, i], summed in order of o.
///
/// Reference implementation: literal mode, tests and benchmarks (ARCHITECTURE.md, "Naive twins").
public func linearBackwardInputNaive(_ gradOutput: Tensor, weight: Tensor) -> Tensor {
    let (batch, inFeatures, outFeatures) = checkLinearBackward(gradOutput.shape, weight: weight)
    var gradInput = [Float](repeating: 0, count: batch * inFeatures)
    for n in 0 ..< batch {
        for i in 0 ..< inFeatures {
            var sum: Float = 0
            for o in 0 ..< outFeatures {
                sum += gradOutput.storage[n * outFeatures + o] * weight.storage[o * inFeatures + i]
            }
            gradInput[n * inFeatures + i] = sum
        }
    }
    return Tensor(shape: [batch, inFeatures], storage: gradInput)
}

/// Σ a[i] · b[i] over `count` elements in four SIMD16 accumulators (independent FMA chains).
@inline(__always)
func dotProduct(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
    var sum0 = Float32x16(), sum1 = Float32x16(), sum2 = Float32x16(), sum3 = Float32x16()
    var i = 0
    while i + 64 <= count {
        sum0 = multiplyAdd(sum0, loadLanes(a + i), loadLanes(b + i))
        sum1 = multiplyAdd(sum1, loadLanes(a + i + 16), loadLanes(b + i + 16))
        sum2 = multiplyAdd(sum2, loadLanes(a + i + 32), loadLanes(b + i + 32))
        sum3 = multiplyAdd(sum3, loadLanes(a + i + 48), loadLanes(b + i + 48))
        i += 64
    }
    while i + 16 <= count {
        sum0 = multiplyAdd(sum0, loadLanes(a + i), loadLanes(b + i))
        i += 16
    }
    var sum = ((sum0 + sum1) + (sum2 + sum3)).sum()
    while i < count {
        sum += a[i] * b[i]
        i += 1
    }
    return sum
}

/// target[i] += scale · source[i] over `count` elements (axpy) in SIMD16.
@inline(__always)
func addScaled(_ source: UnsafePointer<Float>, scale: Float, into target: UnsafeMutablePointer<Float>, count: Int) {
    var i = 0
    while i + 16 <= count {
        storeLanes(multiplyAdd(loadLanes(target + i), scale, loadLanes(source + i)), target + i)
        i += 16
    }
    while i < count {
        target[i] += scale * source[i]
        i += 1
    }
}

/// input `[N, I]` and weight `[O, I]`, bias `[O]` when present. Returns (N, I, O).
func checkLinear(_ inputShape: [Int], weight: Tensor, bias: Tensor?) -> (batch: Int, inFeatures: Int, outFeatures: Int) {
    precondition(inputShape.count == 2 && weight.rank == 2 && weight.shape[1] == inputShape[1],
                 "linear: input \(inputShape) does not fit weight \(weight.shape)")
    precondition(bias == nil || bias!.count == weight.shape[0], "linear: bias does not fit weight \(weight.shape)")
    return (inputShape[0], inputShape[1], weight.shape[0])
}

/// gradOutput `[N, O]` and weight `[O, I]`. Returns (N, I, O).
func checkLinearBackward(_ gradOutputShape: [Int], weight: Tensor) -> (batch: Int, inFeatures: Int, outFeatures: Int) {
    precondition(gradOutputShape.count == 2 && weight.rank == 2 && weight.shape[0] == gradOutputShape[1],
                 "linearBackwardInput: gradOutput \(gradOutputShape) does not fit weight \(weight.shape)")
    return (gradOutputShape[0], weight.shape[1], weight.shape[0])
}
