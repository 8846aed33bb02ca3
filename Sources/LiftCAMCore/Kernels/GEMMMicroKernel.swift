// The inner pieces of `gemm`: panel packing and the register-blocked micro-kernel.
//
// Layout (the usual one of Goto & van de Geijn, "Anatomy of high-performance matrix multiplication",
// 2008): a depth slab of op(A) is cut into panels of `gemmTileRows` rows, stored depth-major so the
// micro-kernel reads `gemmTileRows` consecutive floats per step; a slab of op(B) is cut into panels
// of `gemmTileColumns` columns, stored depth-major so it reads one SIMD16 per step. Panels are
// zero-padded past the matrix edge, so the micro-kernel never branches on size.

#if LIFTCAM_AVX512
/// Rows of C one micro-kernel call produces. With AVX-512 (32 registers, a SIMD16 in one of them),
/// eight rows: eight accumulators, one load of B per eight FMAs, and the channel counts of the
/// networks here (64 … 2048) fill every panel, so no output row is computed in vain or goes through
/// the edge path (with six rows, 64 channels end in a panel of 4 and 512 in a panel of 2).
let gemmTileRows = 8
#else
/// Rows of C one micro-kernel call produces. Six rows × one SIMD16 (two AVX2 registers) keeps 12 of
/// the 16 ymm registers as accumulators: measured here 115 GFLOP/s on one core, against 65-71 for
/// 8×16, 4×32 and 8×32, which run out of registers under AVX2 and spill.
let gemmTileRows = 6
#endif
/// Columns of C one micro-kernel call produces: one SIMD16.
let gemmTileColumns = 16

/// Packs rows `row0 ..< row0 + rows` and depths `depth0 ..< depth0 + depth` of op(A) into `packed`,
/// as `depth` groups of `gemmTileRows` floats; rows past `rows` are zero.
@inline(__always)
func packPanelOfA(_ a: UnsafePointer<Float>, lda: Int, transA: Bool,
                  row0: Int, rows: Int, depth0: Int, depth: Int,
                  into packed: UnsafeMutablePointer<Float>) {
    if transA {
        // A is stored [K, M]: each depth step's rows are contiguous, one vector copy for a whole panel.
        if rows == gemmTileRows {
            for p in 0 ..< depth { copyPanelRow(a + (depth0 + p) * lda + row0, to: packed + p * gemmTileRows) }
            return
        }
        for p in 0 ..< depth {
            let source = a + (depth0 + p) * lda + row0
            let target = packed + p * gemmTileRows
            for i in 0 ..< rows { target[i] = source[i] }
            for i in rows ..< gemmTileRows { target[i] = 0 }
        }
    } else {
        // A is stored [M, K]: a transpose.
        transposeRowsIntoPanel(a + row0 * lda + depth0, rowStride: lda, rows: rows, depth: depth,
                               into: packed, panelWidth: gemmTileRows)
        if rows < gemmTileRows {
            for p in 0 ..< depth {
                for i in rows ..< gemmTileRows { packed[p * gemmTileRows + i] = 0 }
            }
        }
    }
}

/// target[0 ..< gemmTileRows] = source[0 ..< gemmTileRows], as one SIMD8 (eight rows) or a SIMD4 and
/// a SIMD2 (six), never touching a float past the panel's rows.
@inline(__always)
func copyPanelRow(_ source: UnsafePointer<Float>, to target: UnsafeMutablePointer<Float>) {
    let from = UnsafeRawPointer(source), to = UnsafeMutableRawPointer(target)
    if gemmTileRows == 8 {
        to.storeBytes(of: from.loadUnaligned(as: SIMD8<Float>.self), as: SIMD8<Float>.self)
    } else {
        to.storeBytes(of: from.loadUnaligned(as: SIMD4<Float>.self), as: SIMD4<Float>.self)
        (to + 16).storeBytes(of: (from + 16).loadUnaligned(as: SIMD2<Float>.self), as: SIMD2<Float>.self)
    }
}

/// Packs columns `column0 ..< column0 + columns` and depths `depth0 ..< depth0 + depth` of op(B)
/// into `packed`, as `depth` groups of `gemmTileColumns` floats; columns past `columns` are zero.
@inline(__always)
func packPanelOfB(_ b: UnsafePointer<Float>, ldb: Int, transB: Bool,
                  column0: Int, columns: Int, depth0: Int, depth: Int,
                  into packed: UnsafeMutablePointer<Float>) {
    if !transB {
        // B is stored [K, N]: each depth step is sixteen contiguous floats, one SIMD16 copy.
        if columns == gemmTileColumns {
            for p in 0 ..< depth {
                storeLanes(loadLanes(b + (depth0 + p) * ldb + column0), packed + p * gemmTileColumns)
            }
        } else {
            for p in 0 ..< depth {
                let source = b + (depth0 + p) * ldb + column0
                let target = packed + p * gemmTileColumns
                for j in 0 ..< columns { target[j] = source[j] }
                for j in columns ..< gemmTileColumns { target[j] = 0 }
            }
        }
    } else {
        // B is stored [N, K]: a transpose.
        transposeRowsIntoPanel(b + column0 * ldb + depth0, rowStride: ldb, rows: columns, depth: depth,
                               into: packed, panelWidth: gemmTileColumns)
        if columns < gemmTileColumns {
            for p in 0 ..< depth {
                for j in columns ..< gemmTileColumns { packed[p * gemmTileColumns + j] = 0 }
            }
        }
    }
}

/// `packPanelOfB` for the unfolded input read from stride phases (`conv2dFromPhases`): row p of B
/// starts at `b + rowOffsets[p]` (`depth` rows from the first offset given), and its columns come in
/// runs of `runs.width` floats `runs.pitch` apart (output rows in the phase planes), so column n is at
/// n / width · pitch + n mod width. A whole panel is one load per depth step when it lies in one run,
/// else one load per run it touches (at most three: runs of at least 8), blended by lane.
@inline(__always)
func packPanelOfB(_ b: UnsafePointer<Float>, rowOffsets: UnsafePointer<Int>, runs: (width: Int, pitch: Int),
                  column0: Int, columns: Int, depth: Int, into packed: UnsafeMutablePointer<Float>) {
    let (run, within) = column0.quotientAndRemainder(dividingBy: runs.width)
    let first = run * runs.pitch + within
    if columns == gemmTileColumns {
        if within + gemmTileColumns <= runs.width {
            for p in 0 ..< depth { storeLanes(loadLanes(b + rowOffsets[p] + first), packed + p * gemmTileColumns) }
            return
        }
        // Lanes from `next` on read the next run, from `next + width` on the one after.
        let next = runs.width - within
        let lanes = Float32x16(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
        let inSecond = lanes .>= Float32x16(repeating: Float(next))
        let inThird = lanes .>= Float32x16(repeating: Float(next + runs.width))
        let second = (run + 1) * runs.pitch - next, third = (run + 2) * runs.pitch - next - runs.width
        for p in 0 ..< depth {
            let row = b + rowOffsets[p]
            let values = loadLanes(row + first).replacing(with: loadLanes(row + second), where: inSecond)
            storeLanes(values.replacing(with: loadLanes(row + third), where: inThird), packed + p * gemmTileColumns)
        }
        return
    }
    for p in 0 ..< depth {
        let row = b + rowOffsets[p], target = packed + p * gemmTileColumns
        for j in 0 ..< columns {
            let (lineRun, lineWithin) = (column0 + j).quotientAndRemainder(dividingBy: runs.width)
            target[j] = row[lineRun * runs.pitch + lineWithin]
        }
        for j in columns ..< gemmTileColumns { target[j] = 0 }
    }
}

/// packed[p · panelWidth + r] = source[r · rowStride + p] for r < rows, p < depth: `rows` rows of a
/// row-major matrix become the lanes of a depth-major panel. Eight depths of every row are read
/// before moving on, so all rows stream at once and each group of panel lines is finished while it
/// is in L1: measured 3× faster than transposing one row at a time (66 against 197 ms on one core
/// for VGG's [4096, 25088] weight, whose plain reading takes 35 ms in the same slab order).
@inline(__always)
func transposeRowsIntoPanel(_ source: UnsafePointer<Float>, rowStride: Int, rows: Int, depth: Int,
                            into packed: UnsafeMutablePointer<Float>, panelWidth: Int) {
    var p = 0
    while p + 8 <= depth {
        for r in 0 ..< rows {
            let eight = UnsafeRawPointer(source + r * rowStride + p).loadUnaligned(as: SIMD8<Float>.self)
            let target = packed + p * panelWidth + r
            target[0] = eight[0]
            target[panelWidth] = eight[1]
            target[2 * panelWidth] = eight[2]
            target[3 * panelWidth] = eight[3]
            target[4 * panelWidth] = eight[4]
            target[5 * panelWidth] = eight[5]
            target[6 * panelWidth] = eight[6]
            target[7 * panelWidth] = eight[7]
        }
        p += 8
    }
    while p < depth {
        for r in 0 ..< rows { packed[p * panelWidth + r] = source[r * rowStride + p] }
        p += 1
    }
}

/// What the micro-kernel does with its finished sums as it writes them to C: adds C's values (a later
/// depth slab, or the caller's `accumulate`), adds the row's bias, clamps. A convolution's bias and
/// ReLU thus cost no pass of their own over its output.
struct GEMMWriteBack {
    /// Add the sums to C's values instead of overwriting them.
    var accumulate: Bool
    /// One value per row of C, from the first row the writer covers; nil for none.
    var rowBias: UnsafePointer<Float>?
    /// The range results are clamped to (ReLU: 0…∞, ReLU6: 0…6); nil for none.
    var clamp: ClosedRange<Float>?

    /// Sums written as they are.
    static let overwrite = GEMMWriteBack(accumulate: false, rowBias: nil, clamp: nil)
    /// Sums added to C's values.
    static let adding = GEMMWriteBack(accumulate: true, rowBias: nil, clamp: nil)

    /// The write-back of the depth slab `depth0 ..< depth0 + depth` of a product `k` deep whose own
    /// write-back this is: the first slab writes C (adding the bias) unless the caller asked to add to
    /// it, later slabs add, the last one clamps.
    @inline(__always)
    func forSlab(depth0: Int, depth: Int, of k: Int) -> GEMMWriteBack {
        GEMMWriteBack(accumulate: depth0 > 0 || accumulate, rowBias: depth0 == 0 ? rowBias : nil,
                      clamp: depth0 + depth == k ? clamp : nil)
    }

    /// The same write-back for a tile whose first row is `row`.
    @inline(__always)
    func startingAt(row: Int) -> GEMMWriteBack {
        GEMMWriteBack(accumulate: accumulate, rowBias: rowBias.map { $0 + row }, clamp: clamp)
    }

    /// The value stored for `sum` in row `row` where C held `previous`, lane by lane.
    @inline(__always)
    func finished<Lanes: FloatLanes>(_ sum: Lanes, previous: @autoclosure () -> Lanes, row: Int) -> Lanes {
        var value = accumulate ? sum + previous() : sum
        if let rowBias { value += Lanes(repeating: rowBias[row]) }
        if let clamp { value = value.clamped(clamp.lowerBound, clamp.upperBound) }
        return value
    }

    /// `finished` for one element.
    @inline(__always)
    func finished(_ sum: Float, previous: Float, row: Int) -> Float {
        var value = accumulate ? sum + previous : sum
        if let rowBias { value += rowBias[row] }
        if let clamp { value = min(max(value, clamp.lowerBound), clamp.upperBound) }
        return value
    }
}

/// C[R, 16] (+)= packedA[depth, R]ᵀ · packedB[depth, 16], R = `gemmTileRows` (6, or 8 with AVX-512),
/// written through `writeBack`: the only place
/// where the FLOPs happen. Kept out of line so its register allocation does not mix with the loops
/// around it.
///
/// With FMA (the root build on x86-64 with AVX2, arm64) it is one strip of R SIMD16 accumulators,
/// one vfmadd231ps per register per step. A build without FMA on x86-64 (this package as a
/// dependency, see `buildFusesMultiplyAdd`) has no AVX either: sixteen 4-lane registers, and six
/// SIMD16 accumulators alone would take 24 of them: the compiled loop then spills to the stack on
/// every step. It runs two strips of 6×8 instead (12 registers each, no spills): GEMM 512³ in that
/// build measured 45–58 GFLOP/s against 34–46 for the single 6×16 strip, in alternating runs.
@inline(never)
func gemmMicroKernel(depth: Int, packedA: UnsafePointer<Float>, packedB: UnsafePointer<Float>,
                     c: UnsafeMutablePointer<Float>, ldc: Int, writeBack: GEMMWriteBack) {
    if buildFusesMultiplyAdd {
        gemmMicroKernelStrip(Float32x16.self, columnOffset: 0, depth: depth, packedA: packedA, packedB: packedB,
                             c: c, ldc: ldc, writeBack: writeBack)
    } else {
        gemmMicroKernelStrip(SIMD8<Float>.self, columnOffset: 0, depth: depth, packedA: packedA, packedB: packedB,
                             c: c, ldc: ldc, writeBack: writeBack)
        gemmMicroKernelStrip(SIMD8<Float>.self, columnOffset: 8, depth: depth, packedA: packedA, packedB: packedB,
                             c: c, ldc: ldc, writeBack: writeBack)
    }
}

/// Columns `columnOffset ..< columnOffset + Lanes.scalarCount` of the micro-kernel's R×16 tile:
/// each step broadcasts six values of A and multiplies them with one `Lanes` of B into six
/// accumulators.
@inline(__always)
func gemmMicroKernelStrip<Lanes: FloatLanes>(_: Lanes.Type, columnOffset: Int, depth: Int, packedA: UnsafePointer<Float>,
                                            packedB: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int,
                                            writeBack: GEMMWriteBack) {
    @inline(__always) func load(_ pointer: UnsafePointer<Float>) -> Lanes {
        UnsafeRawPointer(pointer).loadUnaligned(as: Lanes.self)
    }
    let corner = c + columnOffset
    @inline(__always) func store(_ sum: Lanes, row: Int) {
        let pointer = corner + row * ldc
        UnsafeMutableRawPointer(pointer).storeBytes(of: writeBack.finished(sum, previous: load(pointer), row: row), as: Lanes.self)
    }
    // Rows 6 and 7 exist in the AVX-512 build only (`gemmTileRows` is a constant: the other build
    // compiles without them).
    var c0 = Lanes(), c1 = Lanes(), c2 = Lanes(), c3 = Lanes(), c4 = Lanes(), c5 = Lanes(), c6 = Lanes(), c7 = Lanes()
    var a = packedA, b = packedB + columnOffset
    for _ in 0 ..< depth {
        let row = load(b)
        c0 = multiplyAdd(c0, a[0], row)
        c1 = multiplyAdd(c1, a[1], row)
        c2 = multiplyAdd(c2, a[2], row)
        c3 = multiplyAdd(c3, a[3], row)
        c4 = multiplyAdd(c4, a[4], row)
        c5 = multiplyAdd(c5, a[5], row)
        if gemmTileRows == 8 {
            c6 = multiplyAdd(c6, a[6], row)
            c7 = multiplyAdd(c7, a[7], row)
        }
        a += gemmTileRows
        b += gemmTileColumns
    }
    store(c0, row: 0)
    store(c1, row: 1)
    store(c2, row: 2)
    store(c3, row: 3)
    store(c4, row: 4)
    store(c5, row: 5)
    if gemmTileRows == 8 {
        store(c6, row: 6)
        store(c7, row: 7)
    }
}

/// A tile at the bottom or right edge of C: the micro-kernel writes an R×16 scratch tile (R×8 when
/// at most 8 columns are wanted; the packed panels are zero-padded), and only its `rows × columns`
/// corner goes to C, through `writeBack`. At most four rows take a kernel of that many rows.
@inline(__always)
func gemmEdgeTile(depth: Int, packedA: UnsafePointer<Float>, packedB: UnsafePointer<Float>,
                  c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, columns: Int, writeBack: GEMMWriteBack) {
    withUnsafeTemporaryAllocation(of: Float.self, capacity: gemmTileRows * gemmTileColumns) { scratch in
        let tile = scratch.baseAddress!
        if rows <= 4 {
            gemmMicroKernelFewRows(rows, depth: depth, packedA: packedA, packedB: packedB, tile: tile)
        } else if columns <= 8 {
            // Half a tile is enough: a 7×7 plane (49 columns) ends in a panel of one column, and a
            // whole R×16 tile there would be a quarter of the product's arithmetic.
            gemmMicroKernelStrip(SIMD8<Float>.self, columnOffset: 0, depth: depth, packedA: packedA, packedB: packedB,
                                 c: tile, ldc: gemmTileColumns, writeBack: .overwrite)
        } else {
            gemmMicroKernel(depth: depth, packedA: packedA, packedB: packedB,
                            c: tile, ldc: gemmTileColumns, writeBack: .overwrite)
        }
        for i in 0 ..< rows {
            let source = tile + i * gemmTileColumns, target = c + i * ldc
            for j in 0 ..< columns { target[j] = writeBack.finished(source[j], previous: target[j], row: i) }
        }
    }
}

/// The first `rows` (1 … 4) rows of the micro-kernel's tile, written to `tile` (16 floats a row): the
/// bottom panel of a product whose rows are not a multiple of the tile's, which the whole kernel
/// would compute in full. ResNet's 7×7 planes as the transposed product have 49 = 8 · 6 + 1 rows:
/// one of their nine panels holds one row. The row count is a constant in each case, so the unused
/// accumulators and their FMAs are compiled out.
@inline(never)
func gemmMicroKernelFewRows(_ rows: Int, depth: Int, packedA: UnsafePointer<Float>, packedB: UnsafePointer<Float>,
                            tile: UnsafeMutablePointer<Float>) {
    @inline(__always) func strips(_ rowCount: Int) {
        if buildFusesMultiplyAdd {
            gemmFewRowsStrip(Float32x16.self, rowCount: rowCount, columnOffset: 0, depth: depth, packedA: packedA, packedB: packedB, tile: tile)
        } else {
            gemmFewRowsStrip(SIMD8<Float>.self, rowCount: rowCount, columnOffset: 0, depth: depth, packedA: packedA, packedB: packedB, tile: tile)
            gemmFewRowsStrip(SIMD8<Float>.self, rowCount: rowCount, columnOffset: 8, depth: depth, packedA: packedA, packedB: packedB, tile: tile)
        }
    }
    switch rows {
    case 1: strips(1)
    case 2: strips(2)
    case 3: strips(3)
    default: strips(4)
    }
}

/// Columns `columnOffset ..< columnOffset + Lanes.scalarCount` of `gemmMicroKernelFewRows`.
@inline(__always)
func gemmFewRowsStrip<Lanes: FloatLanes>(_: Lanes.Type, rowCount: Int, columnOffset: Int, depth: Int,
                                        packedA: UnsafePointer<Float>, packedB: UnsafePointer<Float>,
                                        tile: UnsafeMutablePointer<Float>) {
    var c0 = Lanes(), c1 = Lanes(), c2 = Lanes(), c3 = Lanes()
    var a = packedA, b = packedB + columnOffset
    for _ in 0 ..< depth {
        let row = UnsafeRawPointer(b).loadUnaligned(as: Lanes.self)
        c0 = multiplyAdd(c0, a[0], row)
        if rowCount > 1 { c1 = multiplyAdd(c1, a[1], row) }
        if rowCount > 2 { c2 = multiplyAdd(c2, a[2], row) }
        if rowCount > 3 { c3 = multiplyAdd(c3, a[3], row) }
        a += gemmTileRows
        b += gemmTileColumns
    }
    @inline(__always) func store(_ sum: Lanes, row: Int) {
        UnsafeMutableRawPointer(tile + row * gemmTileColumns + columnOffset).storeBytes(of: sum, as: Lanes.self)
    }
    store(c0, row: 0)
    if rowCount > 1 { store(c1, row: 1) }
    if rowCount > 2 { store(c2, row: 2) }
    if rowCount > 3 { store(c3, row: 3) }
}
