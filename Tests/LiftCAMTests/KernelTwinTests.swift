// Fast kernels against their naive twins (and the twins against hand-computed values):
// GEMM and the fully connected layer. Shared test helpers live here too.
import LiftCAM
import XCTest

/// The library's seeded SplitMix64 with the draws these tests need, so every random shape and value
/// in them is the same on every run.
struct KernelTestRandom {
    var source: SplitMix64
    init(seed: UInt64) { source = SplitMix64(seed: seed) }

    mutating func next() -> UInt64 { source.next() }

    /// Uniform in [-1, 1).
    mutating func uniform() -> Float { Float(next() >> 40) / Float(1 << 23) - 1 }
    /// Uniform in the closed range.
    mutating func int(_ range: ClosedRange<Int>) -> Int { range.lowerBound + Int(next() % UInt64(range.count)) }
    mutating func pick<T>(_ choices: [T]) -> T { choices[int(0 ... choices.count - 1)] }
    mutating func bool() -> Bool { next() & 1 == 1 }
    mutating func floats(_ count: Int) -> [Float] { (0 ..< count).map { _ in uniform() } }
    mutating func tensor(_ shape: [Int]) -> Tensor { Tensor(shape: shape, storage: floats(shape.product)) }
}

/// Asserts max |actual − expected| ≤ relativeTolerance · (1 + max |expected|): the error of a sum of
/// many rounded products grows with the size of the values summed.
func assertClose(_ actual: [Float], _ expected: [Float], relativeTolerance: Float, _ what: String,
                 file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.count, expected.count, "\(what): element counts", file: file, line: line)
    let scale = 1 + (expected.map { abs($0) }.max() ?? 0)
    let difference = zip(actual, expected).map { abs($0 - $1) }.max() ?? 0
    XCTAssertLessThanOrEqual(difference, relativeTolerance * scale, "\(what): max |Δ| \(difference)", file: file, line: line)
    XCTAssertFalse(actual.contains { $0.isNaN }, "\(what): NaN in the result", file: file, line: line)
}

/// Asserts the same bits element by element (also NaN against NaN).
func assertBitwiseEqual(_ actual: [Float], _ expected: [Float], _ what: String,
                        file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.count, expected.count, "\(what): element counts", file: file, line: line)
    var mismatch: Int?
    for i in 0 ..< min(actual.count, expected.count) where mismatch == nil {
        let same = actual[i].bitPattern == expected[i].bitPattern || (actual[i] == 0 && expected[i] == 0)
        if !same { mismatch = i }
    }
    XCTAssertNil(mismatch, "\(what): first difference at \(mismatch ?? -1)", file: file, line: line)
}

/// Σ a[i] · b[i] in Double: the two sides of an adjoint identity ⟨A x, g⟩ = ⟨x, Aᵀ g⟩.
func innerProduct(_ a: [Float], _ b: [Float]) -> Double {
    zip(a, b).reduce(0) { $0 + Double($1.0) * Double($1.1) }
}

final class KernelTwinTests: PlatformTestCase {
    /// Runs `gemm` or `gemmNaive` on row-major buffers with leading dimensions.
    private func multiply(_ fast: Bool, m: Int, n: Int, k: Int, a: [Float], lda: Int, transA: Bool,
                          b: [Float], ldb: Int, transB: Bool, c: [Float], ldc: Int, accumulate: Bool,
                          rowBias: [Float]? = nil, clamp: ClosedRange<Float>? = nil) -> [Float] {
        var c = c
        let biasValues = rowBias ?? []
        a.withUnsafeBufferPointer { a in
        b.withUnsafeBufferPointer { b in
        biasValues.withUnsafeBufferPointer { bias in
        c.withUnsafeMutableBufferPointer { c in
            let (pa, pb, pc) = (a.baseAddress!, b.baseAddress!, c.baseAddress!)
            let pbias = rowBias == nil ? nil : bias.baseAddress
            if fast {
                gemm(m: m, n: n, k: k, a: pa, lda: lda, transA: transA, b: pb, ldb: ldb, transB: transB,
                     c: pc, ldc: ldc, accumulate: accumulate, rowBias: pbias, clamp: clamp)
            } else {
                gemmNaive(m: m, n: n, k: k, a: pa, lda: lda, transA: transA, b: pb, ldb: ldb, transB: transB,
                          c: pc, ldc: ldc, accumulate: accumulate, rowBias: pbias, clamp: clamp)
            }
        }}}}
        return c
    }

    /// The naive twin itself, on a product small enough to do by hand, in all four transpose forms.
    func testGEMMNaiveMatchesHandProduct() {
        // A = [[1, 2, 3], [4, 5, 6]], B = [[1, -1], [0, 2], [3, 1]]: A·B = [[10, 6], [22, 12]].
        let a: [Float] = [1, 2, 3, 4, 5, 6], aT: [Float] = [1, 4, 2, 5, 3, 6]
        let b: [Float] = [1, -1, 0, 2, 3, 1], bT: [Float] = [1, 0, 3, -1, 2, 1]
        for fast in [false, true] {
            for (transA, transB) in [(false, false), (true, false), (false, true), (true, true)] {
                let c = multiply(fast, m: 2, n: 2, k: 3, a: transA ? aT : a, lda: transA ? 2 : 3, transA: transA,
                                 b: transB ? bT : b, ldb: transB ? 3 : 2, transB: transB,
                                 c: [100, 200, 300, 400], ldc: 2, accumulate: false)
                XCTAssertEqual(c, [10, 6, 22, 12], "fast \(fast) transA \(transA) transB \(transB)")
            }
            let added = multiply(fast, m: 2, n: 2, k: 3, a: a, lda: 3, transA: false, b: b, ldb: 2, transB: false,
                                 c: [100, 200, 300, 400], ldc: 2, accumulate: true)
            XCTAssertEqual(added, [110, 206, 322, 412], "accumulate, fast \(fast)")
            // The write-back: bias [−15, −20] per row, then clamped to 0…6 (ReLU6).
            let clamped = multiply(fast, m: 2, n: 2, k: 3, a: a, lda: 3, transA: false, b: b, ldb: 2, transB: false,
                                   c: [100, 200, 300, 400], ldc: 2, accumulate: false, rowBias: [-15, -20], clamp: 0 ... 6)
            XCTAssertEqual(clamped, [0, 0, 2, 0], "bias and clamp, fast \(fast)")
        }
    }

    /// 48 random shapes over all transpose forms, accumulate on and off, with and without a row bias
    /// and a clamp (the write-back a convolution's bias and ReLU take), leading dimensions wider than
    /// the rows; sizes cross the 6×16 tile, the 96-row block and the 256-deep slab edges.
    /// Tolerance: max |Δ| ≤ 1e-5 · (1 + max |reference|) (two summation orders of K products in [-1, 1]).
    /// C's padding columns (beyond n) must come back untouched, bit for bit.
    func testGEMMMatchesNaiveOnRandomShapes() {
        var random = KernelTestRandom(seed: 0x6E33)
        let sizes = [1, 2, 3, 5, 6, 7, 15, 16, 17, 31, 33, 64, 97, 100, 130, 257]
        for trial in 0 ..< 48 {
            let m = random.pick(sizes), n = random.pick(sizes)
            let k = trial % 6 == 5 ? random.pick([255, 256, 257, 300, 600]) : random.pick(sizes)
            let transA = trial % 2 == 1, transB = (trial / 2) % 2 == 1, accumulate = random.bool()
            let lda = (transA ? m : k) + random.int(0 ... 3), ldb = (transB ? k : n) + random.int(0 ... 3)
            let ldc = n + random.int(0 ... 3)
            let a = random.floats((transA ? k : m) * lda), b = random.floats((transB ? n : k) * ldb)
            let c = random.floats(m * ldc)
            let rowBias = trial % 3 == 0 ? nil : random.floats(m)
            let clamp: ClosedRange<Float>? = random.pick([nil, 0 ... .infinity, -0.5 ... 0.75])
            let fast = multiply(true, m: m, n: n, k: k, a: a, lda: lda, transA: transA, b: b, ldb: ldb, transB: transB,
                                c: c, ldc: ldc, accumulate: accumulate, rowBias: rowBias, clamp: clamp)
            let naive = multiply(false, m: m, n: n, k: k, a: a, lda: lda, transA: transA, b: b, ldb: ldb, transB: transB,
                                 c: c, ldc: ldc, accumulate: accumulate, rowBias: rowBias, clamp: clamp)
            let what = "trial \(trial): m \(m) n \(n) k \(k) transA \(transA) transB \(transB) accumulate \(accumulate)"
                + " bias \(rowBias != nil) clamp \(clamp.map { "\($0)" } ?? "none")"
            let inside = (0 ..< m * ldc).filter { $0 % ldc < n }, outside = (0 ..< m * ldc).filter { $0 % ldc >= n }
            assertClose(inside.map { fast[$0] }, inside.map { naive[$0] }, relativeTolerance: 1e-5, what)
            assertBitwiseEqual(outside.map { fast[$0] }, outside.map { c[$0] }, "\(what): padding")
        }
    }

    /// Edges the random shapes rarely reach: K = 0 (an empty sum), more than 4096 columns (two
    /// column blocks), a single row or column, a product large enough to run on all cores, and one
    /// whose packed slabs exceed `gemmPackedFloatLimit` together (7 × 2100 × 1030: packed and
    /// multiplied one slab at a time, where the others take all their slabs in one pass).
    func testGEMMEdgeShapes() {
        var random = KernelTestRandom(seed: 0xED6E)
        for (m, n, k) in [(3, 4, 0), (2, 4100, 5), (1, 1, 700), (1, 300, 40), (300, 1, 40), (130, 4099, 33), (200, 200, 520),
                          (7, 2100, 1030)] {
            for (transA, transB) in [(false, false), (true, true)] {
                let a = random.floats(m * k), b = random.floats(k * n), c = random.floats(m * n)
                for accumulate in [false, true] {
                    let fast = multiply(true, m: m, n: n, k: k, a: a, lda: max(1, transA ? m : k), transA: transA,
                                        b: b, ldb: max(1, transB ? k : n), transB: transB, c: c, ldc: n, accumulate: accumulate)
                    let naive = multiply(false, m: m, n: n, k: k, a: a, lda: max(1, transA ? m : k), transA: transA,
                                         b: b, ldb: max(1, transB ? k : n), transB: transB, c: c, ldc: n, accumulate: accumulate)
                    assertClose(fast, naive, relativeTolerance: 1e-5, "m \(m) n \(n) k \(k) accumulate \(accumulate)")
                    if k == 0 { XCTAssertEqual(fast, accumulate ? c : [Float](repeating: 0, count: m * n)) }
                }
            }
        }
    }

    /// A bottom panel of every height below the tile's (1 … 5 rows past the last whole panel, 1 … 7 with
    /// AVX-512's 8-row tiles: the few-rows kernel up to 4 rows, the whole tile's edge path above), with partial and
    /// whole column panels, two depth slabs, accumulating and not, with a bias and a ReLU: against
    /// `gemmNaive` within 1e-5 · (1 + max |reference|), C's padding columns untouched.
    func testGEMMBottomPanelsOfEveryHeight() {
        var random = KernelTestRandom(seed: 0xB07)
        for m in [1, 2, 3, 4, 5, 7, 9, 10, 11, 12, 13, 15, 49] {
            for (n, k) in [(19, 300), (64, 7), (40, 513)] {
                let ldc = n + 2
                let a = random.floats(m * k), b = random.floats(k * n), c = random.floats(m * ldc), bias = random.floats(m)
                for accumulate in [false, true] {
                    let fast = multiply(true, m: m, n: n, k: k, a: a, lda: k, transA: false, b: b, ldb: n, transB: false,
                                        c: c, ldc: ldc, accumulate: accumulate, rowBias: bias, clamp: 0 ... .infinity)
                    let naive = multiply(false, m: m, n: n, k: k, a: a, lda: k, transA: false, b: b, ldb: n, transB: false,
                                         c: c, ldc: ldc, accumulate: accumulate, rowBias: bias, clamp: 0 ... .infinity)
                    let what = "m \(m) n \(n) k \(k) accumulate \(accumulate)"
                    let inside = (0 ..< m * ldc).filter { $0 % ldc < n }, outside = (0 ..< m * ldc).filter { $0 % ldc >= n }
                    assertClose(inside.map { fast[$0] }, inside.map { naive[$0] }, relativeTolerance: 1e-5, what)
                    assertBitwiseEqual(outside.map { fast[$0] }, outside.map { c[$0] }, "\(what): padding")
                }
            }
        }
    }

    /// nn.Linear on a hand-sized case: x = [1, 2], W = [[1, 0], [2, -1], [0.5, 0.5]], b = [0, 1, -1]
    /// gives y = [1, 1, 0.5]; its backward with dy = [1, 1, 2] gives dx = dy · W = [4, 0].
    func testLinearMatchesHandValues() {
        let x = Tensor(shape: [1, 2], storage: [1, 2])
        let weight = Tensor(shape: [3, 2], storage: [1, 0, 2, -1, 0.5, 0.5])
        let bias = Tensor(shape: [3], storage: [0, 1, -1])
        for y in [linear(x, weight: weight, bias: bias), linearNaive(x, weight: weight, bias: bias)] {
            XCTAssertEqual(y, Tensor(shape: [1, 3], storage: [1, 1, 0.5]))
        }
        let dy = Tensor(shape: [1, 3], storage: [1, 1, 2])
        for dx in [linearBackwardInput(dy, weight: weight), linearBackwardInputNaive(dy, weight: weight)] {
            XCTAssertEqual(dx, Tensor(shape: [1, 2], storage: [4, 0]))
        }
    }

    /// 24 random layers, one item (the matrix-vector path) and batches (the GEMM path), bias or none.
    /// Tolerance: max |Δ| ≤ 1e-5 · (1 + max |reference|). Also ⟨linear(x), g⟩ = ⟨x, linearBackwardInput(g)⟩
    /// without bias (the backward is the transpose), to 1e-5 of Σ|terms|.
    func testLinearMatchesNaiveOnRandomShapes() {
        var random = KernelTestRandom(seed: 0x11E4)
        for trial in 0 ..< 24 {
            let batch = trial % 3 == 0 ? 1 : random.pick([1, 2, 3, 7, 64])
            let inFeatures = random.pick([1, 3, 15, 16, 17, 63, 64, 100, 1000, 2049, 5000])
            let outFeatures = random.pick([1, 2, 7, 10, 33, 100, 257])
            let x = random.tensor([batch, inFeatures]), weight = random.tensor([outFeatures, inFeatures])
            let bias = random.bool() ? random.tensor([outFeatures]) : nil
            let what = "trial \(trial): [\(batch), \(inFeatures)] → \(outFeatures)"
            assertClose(linear(x, weight: weight, bias: bias).storage, linearNaive(x, weight: weight, bias: bias).storage,
                        relativeTolerance: 1e-5, what)
            let g = random.tensor([batch, outFeatures])
            let dx = linearBackwardInput(g, weight: weight)
            assertClose(dx.storage, linearBackwardInputNaive(g, weight: weight).storage, relativeTolerance: 1e-5, "\(what) backward")
            let forward = innerProduct(linearNaive(x, weight: weight, bias: nil).storage, g.storage)
            let backward = innerProduct(x.storage, dx.storage)
            let magnitude = Double(batch * inFeatures * outFeatures)
            XCTAssertEqual(forward, backward, accuracy: 1e-5 * magnitude, "\(what): adjoint")
        }
    }
}
