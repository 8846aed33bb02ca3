// General matrix multiplication, the workhorse under convolution and the fully connected layers.

/// Depth of one packed slab (KC): a 16-column panel of B, 256 × 16 floats = 16 KiB, stays in L1
/// while the micro-kernel sweeps the 6-row panels of A over it.
let gemmDepthBlock = 256
/// Rows of C one parallel task covers (MC): its packed A block, 96 × 256 floats = 96 KiB, stays in L2.
let gemmRowBlock = 96
/// Columns of C packed at once (NC): bounds the packed B slab to 256 × 4096 floats = 4 MiB.
let gemmColumnBlock = 4096
/// Packed floats (8 MiB) up to which all depth slabs of a column block are packed in one pass and
/// multiplied in one (see `gemmBlocked`); above it, one slab at a time.
let gemmPackedFloatLimit = 1 << 21

/// Row-major matrix product C[M,N] = op(A)[M,K] · op(B)[K,N], added to C when `accumulate`; then, as
/// each element is written, `rowBias[i]` added to row i and the result clamped to `clamp` when given
/// (a convolution's bias and its ReLU, ReLU6 or other clip, with no pass of their own over C).
///
/// op(A) is A stored `[M, K]` with leading dimension `lda`, or Aᵀ of A stored `[K, M]` when
/// `transA`; likewise for B (`[K, N]`, or `[N, K]` when `transB`). C is `[M, N]` with leading
/// dimension `ldc`. Leading dimensions may exceed the row width (sub-matrices of larger ones).
///
/// Blocked as in Goto & van de Geijn (2008): for each 4096-column block and 256-deep slab, op(B)
/// and op(A) are packed into panels (in parallel; all slabs at once when they fit in 8 MiB), then
/// the 6×16 SIMD16 micro-kernel runs over all tiles of C, tasks split over row blocks and column
/// chunks on all cores. The sum runs in
/// another order than `gemmNaive`, so results agree to rounding (about K · ε · max|term|).
public func gemm(m: Int, n: Int, k: Int,
                 a: UnsafePointer<Float>, lda: Int, transA: Bool,
                 b: UnsafePointer<Float>, ldb: Int, transB: Bool,
                 c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool,
                 rowBias: UnsafePointer<Float>? = nil, clamp: ClosedRange<Float>? = nil) {
    checkGEMMArguments(m: m, n: n, k: k, lda: lda, transA: transA, ldb: ldb, transB: transB, ldc: ldc)
    gemmBlocked(m: m, n: n, k: k, a: a, lda: lda, transA: transA, prepackedA: nil,
                b: b, ldb: ldb, transB: transB, c: c, ldc: ldc, accumulate: accumulate, rowBias: rowBias, clamp: clamp)
}

/// `gemm` with op(A) optionally packed beforehand (`PackedMatrix`), so that calls with few columns
/// (a convolution on a 7×7 plane) do not re-pack a large weight every time.
func gemmBlocked(m: Int, n: Int, k: Int,
                 a: UnsafePointer<Float>, lda: Int, transA: Bool, prepackedA: PackedMatrix?,
                 b: UnsafePointer<Float>, ldb: Int, transB: Bool,
                 c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool,
                 rowBias: UnsafePointer<Float>? = nil, clamp: ClosedRange<Float>? = nil) {
    precondition(prepackedA == nil || (prepackedA!.extent == m && prepackedA!.depth == k), "gemm: packed A does not match")
    if m == 0 || n == 0 { return }
    if k == 0 {
        // An empty sum: C is zero, or unchanged when accumulating; then the bias and the clamp.
        let writeBack = GEMMWriteBack(accumulate: accumulate, rowBias: rowBias, clamp: clamp)
        for i in 0 ..< m {
            for j in 0 ..< n { c[i * ldc + j] = writeBack.finished(0, previous: c[i * ldc + j], row: i) }
        }
        return
    }
    let rowPanels = (m + gemmTileRows - 1) / gemmTileRows
    // Equal slabs and column blocks, at most the block sizes: K = 576 runs as 3 × 192, not
    // 256 + 256 + 64, whose thin last slab would read and write all of C for little arithmetic.
    let slabDepth = gemmSlabDepth(k)
    let productWriteBack = GEMMWriteBack(accumulate: accumulate, rowBias: rowBias, clamp: clamp)
    if gemmStreamsB(columnPanels: (n + gemmTileColumns - 1) / gemmTileColumns) {
        return gemmStreamingB(m: m, n: n, k: k, slabDepth: slabDepth, a: a, lda: lda, transA: transA, prepackedA: prepackedA,
                              b: b, ldb: ldb, transB: transB, c: c, ldc: ldc, writeBack: productWriteBack)
    }
    let slabCount = (k + slabDepth - 1) / slabDepth
    let blockColumns = evenBlock(n, atMost: gemmColumnBlock, multipleOf: gemmTileColumns)
    let blockColumnPanels = (blockColumns + gemmTileColumns - 1) / gemmTileColumns
    // When every slab's packed panels fit in `gemmPackedFloatLimit`, one pass packs them all and one
    // computes them all: two hand-offs to the workers per column block instead of two per slab, and
    // no wait for the slowest worker at the end of every slab (ResNet's 1×1 convolutions on 14×14,
    // K = 1024, and 3×3 ones on 7×7, K = 4608, have 4–18 slabs). Each task still runs its slabs in
    // order, so every sum is added up exactly as slab by slab.
    let packedRows = prepackedA == nil ? rowPanels * gemmTileRows : 0
    let slabsPerPass = (blockColumnPanels * gemmTileColumns + packedRows) * k <= gemmPackedFloatLimit ? slabCount : 1
    let passDepth = min(k, slabsPerPass * slabDepth)
    let packedA = allocateAlignedFloats(packedRows * passDepth)                              // per slab [panels, depth, 6]
    let packedB = allocateAlignedFloats(blockColumnPanels * gemmTileColumns * passDepth)   // per slab [panels, depth, 16]
    defer {
        packedA.deallocate()
        packedB.deallocate()
    }
    let panelsPerRowBlock = gemmRowBlock / gemmTileRows
    let rowBlocks = (rowPanels + panelsPerRowBlock - 1) / panelsPerRowBlock

    for column0 in stride(from: 0, to: n, by: blockColumns) {
        let columns = min(blockColumns, n - column0)
        let columnPanels = (columns + gemmTileColumns - 1) / gemmTileColumns
        for firstSlab in stride(from: 0, to: slabCount, by: slabsPerPass) {
            let slabs = firstSlab ..< min(slabCount, firstSlab + slabsPerPass)
            let passDepth0 = firstSlab * slabDepth, depthInPass = min(k, slabs.upperBound * slabDepth) - passDepth0
            // A slab's panels start at its depth within the pass times the panels' width in all
            // (the layout of `PackedMatrix`).
            @inline(__always) func slabOfA(_ depth0: Int) -> UnsafePointer<Float> {
                if let prepackedA { return UnsafePointer(prepackedA.panels + rowPanels * gemmTileRows * depth0) }
                return UnsafePointer(packedA + rowPanels * gemmTileRows * (depth0 - passDepth0))
            }
            @inline(__always) func slabOfB(_ depth0: Int) -> UnsafeMutablePointer<Float> {
                packedB + columnPanels * gemmTileColumns * (depth0 - passDepth0)
            }

            // Pack the pass's panels of B, then of A, in one parallel pass (one hand-off, not two).
            let panelsPerSlab = columnPanels + (prepackedA == nil ? rowPanels : 0)
            forEachSlice(items: slabs.count * panelsPerSlab, totalWork: (columns + packedRows) * depthInPass) { items in
                for item in items {
                    let (slabInPass, panel) = item.quotientAndRemainder(dividingBy: panelsPerSlab)
                    let depth0 = (firstSlab + slabInPass) * slabDepth, depth = min(slabDepth, k - depth0)
                    if panel < columnPanels {
                        let first = panel * gemmTileColumns
                        packPanelOfB(b, ldb: ldb, transB: transB,
                                     column0: column0 + first, columns: min(gemmTileColumns, columns - first),
                                     depth0: depth0, depth: depth, into: slabOfB(depth0) + panel * gemmTileColumns * depth)
                    } else {
                        let first = (panel - columnPanels) * gemmTileRows
                        packPanelOfA(a, lda: lda, transA: transA,
                                     row0: first, rows: min(gemmTileRows, m - first), depth0: depth0, depth: depth,
                                     into: packedA + rowPanels * gemmTileRows * (depth0 - passDepth0) + first * depth)
                    }
                }
            }

            // Tasks: row blocks × column chunks, enough of them to keep every core busy.
            let flops = 2 * m * columns * depthInPass
            let wanted = chunkCount(items: rowBlocks * columnPanels, totalWork: flops)
            let columnChunks = min(columnPanels, max(1, (wanted + rowBlocks - 1) / rowBlocks))
            let tasks = rowBlocks * columnChunks
            let computeTask = { (task: Int) in
                let rowPanelRange = evenSlice(task / columnChunks, of: rowBlocks, total: rowPanels)
                let columnPanelRange = evenSlice(task % columnChunks, of: columnChunks, total: columnPanels)
                for slab in slabs {
                    let depth0 = slab * slabDepth, depth = min(slabDepth, k - depth0)
                    let writeBack = productWriteBack.forSlab(depth0: depth0, depth: depth, of: k)
                    let slabA = slabOfA(depth0), slabB = slabOfB(depth0)
                    for columnPanel in columnPanelRange {
                        let firstColumn = columnPanel * gemmTileColumns
                        let tileColumns = min(gemmTileColumns, columns - firstColumn)
                        let panelB = slabB + columnPanel * gemmTileColumns * depth
                        for rowPanel in rowPanelRange {
                            let firstRow = rowPanel * gemmTileRows
                            let tileRows = min(gemmTileRows, m - firstRow)
                            let panelA = slabA + rowPanel * gemmTileRows * depth
                            gemmTile(depth: depth, packedA: panelA, packedB: panelB, c: c + firstRow * ldc + column0 + firstColumn,
                                     ldc: ldc, rows: tileRows, columns: tileColumns, writeBack: writeBack.startingAt(row: firstRow))
                        }
                    }
                }
            }
            if tasks == 1 || flops < minimumParallelWork {
                for task in 0 ..< tasks { computeTask(task) }
            } else {
                parallelFor(tasks, computeTask)
            }
        }
    }
}

/// One operand of a product packed once, the way `gemm` packs it: op(A)'s 6-row panels (a
/// convolution layer's weight `[O, C·kh·kw]`) or op(B)'s 16-column panels (the weight as Wᵀ, for
/// `conv2dSmallPlane`). For each depth slab (at depth0, `slabDepth` deep, the last one shallower),
/// its panels `[slab rows, panel width]` one after another from `panels + panelCount · width · depth0`.
/// 1× the memory of what it packs.
final class PackedMatrix: @unchecked Sendable {
    /// The rows of op(A), or the columns of op(B), the panels hold.
    let extent: Int
    let depth, slabDepth: Int
    let panels: UnsafeMutablePointer<Float>

    /// Packs A stored `[rows, depth]` (row-major, leading dimension `depth`).
    convenience init(_ a: UnsafePointer<Float>, rows: Int, depth: Int) {
        self.init(a, lda: depth, transA: false, rows: rows, depth: depth)
    }

    /// Packs op(A) `[rows, depth]`: A stored `[rows, depth]`, or `[depth, rows]` when `transA`, with
    /// leading dimension `lda`.
    convenience init(_ a: UnsafePointer<Float>, lda: Int, transA: Bool, rows: Int, depth: Int) {
        self.init(extent: rows, depth: depth, panelWidth: gemmTileRows) { depth0, slabRows, row0, target in
            packPanelOfA(a, lda: lda, transA: transA, row0: row0, rows: min(gemmTileRows, rows - row0),
                         depth0: depth0, depth: slabRows, into: target)
        }
    }

    /// Packs op(B) `[depth, columns]`: B stored `[depth, columns]`, or `[columns, depth]` when
    /// `transB`, with leading dimension `ldb`.
    convenience init(columnsOf b: UnsafePointer<Float>, ldb: Int, transB: Bool, columns: Int, depth: Int) {
        self.init(extent: columns, depth: depth, panelWidth: gemmTileColumns) { depth0, slabRows, column0, target in
            packPanelOfB(b, ldb: ldb, transB: transB, column0: column0, columns: min(gemmTileColumns, columns - column0),
                         depth0: depth0, depth: slabRows, into: target)
        }
    }

    /// Every slab's panels in one parallel pass (`packEverySlab`).
    init(extent: Int, depth: Int, panelWidth: Int,
         packPanel: (_ depth0: Int, _ slabRows: Int, _ first: Int, _ target: UnsafeMutablePointer<Float>) -> Void) {
        let panelCount = (extent + panelWidth - 1) / panelWidth
        (self.extent, self.depth) = (extent, depth)
        slabDepth = gemmSlabDepth(depth)
        panels = allocateAlignedFloats(panelCount * panelWidth * depth)
        packEverySlab(depth: depth, slabDepth: slabDepth, panels: panelCount, panelWidth: panelWidth, into: panels, packPanel)
    }

    deinit { panels.deallocate() }
}

/// Packs all depth slabs of an operand in one parallel pass, in the layout `gemm` reads: slab by
/// slab (`slabDepth` deep, the last one shallower), `panels` panels of `panelWidth` lanes each,
/// `[slab rows, panelWidth]`. `packPanel(depth0, slabRows, first, target)` packs the panel whose
/// first row (of A) or column (of B) is `first`.
func packEverySlab(depth: Int, slabDepth: Int, panels: Int, panelWidth: Int, into target: UnsafeMutablePointer<Float>,
                   _ packPanel: (_ depth0: Int, _ slabRows: Int, _ first: Int, _ target: UnsafeMutablePointer<Float>) -> Void) {
    let slabCount = (depth + slabDepth - 1) / slabDepth
    forEachSlice(items: slabCount * panels, totalWork: panels * panelWidth * depth) { items in
        for item in items {
            let (slab, panel) = item.quotientAndRemainder(dividingBy: panels)
            let depth0 = slab * slabDepth, slabRows = min(slabDepth, depth - depth0), first = panel * panelWidth
            packPanel(depth0, slabRows, first, target + panels * panelWidth * depth0 + first * slabRows)
        }
    }
}

/// The depth of every slab of a product `k` deep but the last: equal slabs of at most
/// `gemmDepthBlock`. The drivers and `PackedMatrix` all cut K this way, so packed panels line up.
@inline(__always)
func gemmSlabDepth(_ k: Int) -> Int { evenBlock(k, atMost: gemmDepthBlock, multipleOf: 1) }

/// The size of each of the fewest blocks of at most `limit` that cover `total`, made equal, rounded
/// up to a multiple of `multiple` (16 for column blocks, so only the last panel can be partial).
@inline(__always)
func evenBlock(_ total: Int, atMost limit: Int, multipleOf multiple: Int) -> Int {
    let blocks = (total + limit - 1) / limit
    let size = (total + blocks - 1) / blocks
    return min(limit, (size + multiple - 1) / multiple * multiple)
}

/// The plain triple loop of `gemm`: C[i,j] (+)= Σ_p op(A)[i,p] · op(B)[p,j], summed in order of p,
/// then `rowBias[i]` added and the result clamped to `clamp` when given.
///
/// Reference implementation, for tests and benchmarks: literal mode has no GEMM (ARCHITECTURE.md,
/// "Naive twins").
public func gemmNaive(m: Int, n: Int, k: Int,
                      a: UnsafePointer<Float>, lda: Int, transA: Bool,
                      b: UnsafePointer<Float>, ldb: Int, transB: Bool,
                      c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool,
                      rowBias: UnsafePointer<Float>? = nil, clamp: ClosedRange<Float>? = nil) {
    checkGEMMArguments(m: m, n: n, k: k, lda: lda, transA: transA, ldb: ldb, transB: transB, ldc: ldc)
    for i in 0 ..< m {
        for j in 0 ..< n {
            var sum: Float = 0
            for p in 0 ..< k {
                let left = transA ? a[p * lda + i] : a[i * lda + p]
                let right = transB ? b[j * ldb + p] : b[p * ldb + j]
                sum += left * right
            }
            var value = accumulate ? c[i * ldc + j] + sum : sum
            if let rowBias { value += rowBias[i] }
            if let clamp { value = min(max(value, clamp.lowerBound), clamp.upperBound) }
            c[i * ldc + j] = value
        }
    }
}

/// Sizes must be non-negative and every leading dimension at least the width of its stored rows.
@inline(__always)
func checkGEMMArguments(m: Int, n: Int, k: Int, lda: Int, transA: Bool, ldb: Int, transB: Bool, ldc: Int) {
    precondition(m >= 0 && n >= 0 && k >= 0, "gemm: negative size m \(m), n \(n), k \(k)")
    precondition(lda >= max(1, transA ? m : k), "gemm: lda \(lda) below the row width")
    precondition(ldb >= max(1, transB ? k : n), "gemm: ldb \(ldb) below the row width")
    precondition(ldc >= max(1, n), "gemm: ldc \(ldc) below the row width")
}
