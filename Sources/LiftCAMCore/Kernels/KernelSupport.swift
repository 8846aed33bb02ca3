// Small helpers shared by the kernels: output allocation, work splitting, SIMD loads and stores.

/// Sixteen 32-bit floats (not half precision): two AVX2 registers, the unit every fast kernel works in.
typealias Float32x16 = SIMD16<Float>

/// Whether this build fuses multiply-adds (one instruction, one rounding). It does unless the build
/// defines LIFTCAM_SEPARATE_MULTIPLY_ADD, which Package.swift does where the compiler may not assume
/// an FMA unit: this package as a dependency on x86-64 (SwiftPM refuses CPU flags there), or built
/// with LIFTCAM_PORTABLE. There `addingProduct` would become one call of the C library's fmaf per
/// lane, about 100× slower than a multiply and an add (PortableBuildTests checks none is left). A
/// consumer that builds everything with FMA turns fusion back on with -DLIFTCAM_FUSED_MULTIPLY_ADD,
/// which wins (README, "As a library").
@inline(__always)
var buildFusesMultiplyAdd: Bool {
    #if LIFTCAM_SEPARATE_MULTIPLY_ADD && !LIFTCAM_FUSED_MULTIPLY_ADD
    return false
    #else
    return true
    #endif
}

/// accumulator + a · b lane by lane: fused where the build fuses (`buildFusesMultiplyAdd`), else a
/// multiply then an add (one more rounding per step, far below the tolerances the tests hold).
@inline(__always)
func multiplyAdd<Lanes: SIMD>(_ accumulator: Lanes, _ a: Lanes, _ b: Lanes) -> Lanes where Lanes.Scalar == Float {
    buildFusesMultiplyAdd ? accumulator.addingProduct(a, b) : accumulator + a * b
}

/// accumulator + a · b with a scalar `a` broadcast to every lane.
@inline(__always)
func multiplyAdd<Lanes: SIMD>(_ accumulator: Lanes, _ a: Float, _ b: Lanes) -> Lanes where Lanes.Scalar == Float {
    buildFusesMultiplyAdd ? accumulator.addingProduct(a, b) : accumulator + a * b
}

/// Float vectors of 16 and 8 lanes (the GEMM micro-kernel's with FMA and without), with a clamp written
/// for each concrete type: in code generic over `SIMD`, `.<` compiles to one comparison per lane, and
/// `pointwiseMin`/`pointwiseMax` did too. The elementwise kernels clamp through it as well.
protocol FloatLanes: SIMD where Scalar == Float {
    /// Each lane raised to `lower` when below it, lowered to `upper` when above it.
    func clamped(_ lower: Float, _ upper: Float) -> Self
}

extension SIMD16: FloatLanes where Scalar == Float {
    @inline(__always)
    func clamped(_ lower: Float, _ upper: Float) -> SIMD16<Float> {
        // Masked replacement: min/max with bounds known only at run time compile to slow code.
        let raised = replacing(with: lower, where: self .< lower)
        return raised.replacing(with: upper, where: raised .> upper)
    }
}

extension SIMD8: FloatLanes where Scalar == Float {
    @inline(__always)
    func clamped(_ lower: Float, _ upper: Float) -> SIMD8<Float> {
        let raised = replacing(with: lower, where: self .< lower)
        return raised.replacing(with: upper, where: raised .> upper)
    }
}

/// Below this many elementary operations a kernel runs on the calling thread: handing work to
/// Dispatch workers costs a few microseconds, more than such a job takes.
let minimumParallelWork = 1 << 16

/// Loads sixteen floats from a possibly unaligned address.
@inline(__always)
func loadLanes(_ pointer: UnsafePointer<Float>) -> Float32x16 {
    UnsafeRawPointer(pointer).loadUnaligned(as: Float32x16.self)
}

/// Stores sixteen floats to a possibly unaligned address.
@inline(__always)
func storeLanes(_ value: Float32x16, _ pointer: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: Float32x16.self)
}

/// Uninitialized floats starting on a cache line (64 bytes), released with `deallocate()`.
@inline(__always)
func allocateAlignedFloats(_ count: Int) -> UnsafeMutablePointer<Float> {
    UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<Float>.stride, alignment: 64)
        .bindMemory(to: Float.self, capacity: count)
}

/// The `index`-th of `parts` contiguous, nearly equal slices of `0..<total`.
@inline(__always)
func evenSlice(_ index: Int, of parts: Int, total: Int) -> Range<Int> {
    let base = total / parts, extra = total % parts
    let start = index * base + min(index, extra)
    return start ..< start + base + (index < extra ? 1 : 0)
}

/// How many chunks to split `items` independent pieces of work into, given the total work in
/// elementary operations: one when it is too small to share, otherwise a few per core so that a
/// core slowed by another process does not hold the others up.
@inline(__always)
func chunkCount(items: Int, totalWork: Int) -> Int {
    if items <= 1 || totalWork < minimumParallelWork || workerCount == 1 { return 1 }
    return min(items, 4 * workerCount)
}

/// Runs `body(slice)` over `0..<items` split into `chunkCount(items:totalWork:)` slices, in parallel
/// when there is more than one.
@inline(__always)
func forEachSlice(items: Int, totalWork: Int, _ body: (Range<Int>) -> Void) {
    let chunks = chunkCount(items: items, totalWork: totalWork)
    if chunks == 1 {
        if items > 0 { body(0 ..< items) }
        return
    }
    parallelFor(chunks) { chunk in body(evenSlice(chunk, of: chunks, total: items)) }
}

/// A tensor whose every element `fill` writes through the buffer it is given (no zero-fill first).
@inline(__always)
func makeTensor(shape: [Int], _ fill: (UnsafeMutableBufferPointer<Float>) -> Void) -> Tensor {
    let count = shape.product
    let storage = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
        fill(buffer)
        initialized = count
    }
    return Tensor(shape: shape, storage: storage)
}

/// Floor division, also for negative numerators (as PyTorch's `div_rtn`).
@inline(__always)
func floorDivide(_ numerator: Int, _ denominator: Int) -> Int {
    let quotient = numerator / denominator
    return (numerator % denominator != 0 && (numerator < 0) != (denominator < 0)) ? quotient - 1 : quotient
}

/// Σ values[0..<count], in SIMD16 steps (vectorised, so the order of the additions differs from a
/// plain loop's).
func sumOfFloats(_ values: UnsafePointer<Float>, count: Int) -> Float {
    var accumulator = Float32x16()
    var i = 0
    while i + 16 <= count {
        accumulator += loadLanes(values + i)
        i += 16
    }
    var sum = horizontalSum(accumulator)
    while i < count {
        sum += values[i]
        i += 1
    }
    return sum
}

/// The sum of the 16 lanes as a tree of vector adds (`sum()` adds them one after another).
@inline(__always)
func horizontalSum(_ vector: Float32x16) -> Float {
    let eight = vector.lowHalf + vector.highHalf
    let four = eight.lowHalf + eight.highHalf
    let two = four.lowHalf + four.highHalf
    return two[0] + two[1]
}
