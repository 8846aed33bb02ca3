// The GEMM path for wide products (a 1×1 or unfolded convolution on a large plane: N = 196 … 12544
// output positions, M = 64 … 2048 channels): each task packs its own columns of B just before it
// multiplies them, so the packed panels are still in the core's cache, and the whole product takes
// one hand-off to the workers. `gemmBlocked` packs all of B first in a pass of its own, which for
// ResNet's layer1 (B is 3 MB) writes the panels out to the shared cache and reads them back.

/// Column panels one task of the streamed path packs and multiplies at most: 8 × 16 columns × 256
/// deep is 128 KiB of packed B, which stays in the core's own cache on every machine seen here
/// (L2 of 512 KiB and more) while the task sweeps all rows of A over it.
let streamedChunkPanelLimit = 8

/// Whether `gemmBlocked` streams B: enough column panels for several tasks per worker.
@inline(__always)
func gemmStreamsB(columnPanels: Int) -> Bool { columnPanels >= 4 * workerCount }

/// C = op(A) · op(B) as `gemmBlocked`, for products with at least `4 · workers` column panels: op(A)
/// is packed once whole (or taken prepacked), then tasks of up to `streamedChunkPanelLimit` column
/// panels each pack their slab of op(B) (or take it from `prepackedB`, packed with this `slabDepth`)
/// and run the micro-kernel over it for every row of A, slab after slab. The sums are added up in
/// the same order as `gemmBlocked`'s: the two agree bit for bit. With `bPhases`, B (not transposed)
/// is the unfolded input read from stride phases: row p at `b + rowOffsets[p]`, columns in runs of
/// `width` floats `pitch` apart (`conv2dFromPhases`); `ldb` is then unused.
func gemmStreamingB(m: Int, n: Int, k: Int, slabDepth: Int,
                    a: UnsafePointer<Float>, lda: Int, transA: Bool, prepackedA: PackedMatrix?,
                    b: UnsafePointer<Float>, ldb: Int, transB: Bool, prepackedB: PackedMatrix? = nil,
                    bPhases: (rowOffsets: UnsafePointer<Int>, width: Int, pitch: Int)? = nil,
                    c: UnsafeMutablePointer<Float>, ldc: Int, writeBack: GEMMWriteBack) {
    precondition(bPhases == nil || !transB, "gemm: phases need B not transposed")
    precondition(prepackedA == nil || (prepackedA!.extent == m && prepackedA!.depth == k), "gemm: packed A does not match")
    precondition(k > 0, "gemm: a streamed product needs K > 0 (gemmBlocked writes empty sums)")
    if m == 0 || n == 0 { return }
    precondition(prepackedB == nil || (prepackedB!.extent == n && prepackedB!.depth == k
                                       && prepackedB!.slabDepth == slabDepth), "gemm: packed B does not match")
    let rowPanels = (m + gemmTileRows - 1) / gemmTileRows
    let columnPanels = (n + gemmTileColumns - 1) / gemmTileColumns
    let slabCount = (k + slabDepth - 1) / slabDepth
    // op(A) packed whole; the chunks hold on to it (its panels are freed with it).
    let matrixA = prepackedA ?? PackedMatrix(a, lda: lda, transA: transA, rows: m, depth: k)
    let chunkPanels = min(streamedChunkPanelLimit, max(1, columnPanels / (4 * workerCount)))
    let chunks = (columnPanels + chunkPanels - 1) / chunkPanels
    let panelsPerRowBlock = gemmRowBlock / gemmTileRows

    let computeChunk = { (chunk: Int) in
        let firstPanel = chunk * chunkPanels, panels = min(chunkPanels, columnPanels - firstPanel)
        let ownPanels = prepackedB == nil ? allocateAlignedFloats(panels * gemmTileColumns * min(slabDepth, k)) : nil
        defer { ownPanels?.deallocate() }
        for slab in 0 ..< slabCount {
            let depth0 = slab * slabDepth, depth = min(slabDepth, k - depth0)
            let packedB: UnsafePointer<Float>   // the chunk's panels of this slab, [panels, depth, 16]
            if let prepackedB {
                packedB = UnsafePointer(prepackedB.panels) + (columnPanels * depth0 + firstPanel * depth) * gemmTileColumns
            } else {
                for local in 0 ..< panels {
                    let column0 = (firstPanel + local) * gemmTileColumns, target = ownPanels! + local * gemmTileColumns * depth
                    if let bPhases {
                        packPanelOfB(b, rowOffsets: bPhases.rowOffsets + depth0, runs: (bPhases.width, bPhases.pitch),
                                     column0: column0, columns: min(gemmTileColumns, n - column0), depth: depth, into: target)
                    } else {
                        packPanelOfB(b, ldb: ldb, transB: transB, column0: column0, columns: min(gemmTileColumns, n - column0),
                                     depth0: depth0, depth: depth, into: target)
                    }
                }
                packedB = UnsafePointer(ownPanels!)
            }
            let slabA = UnsafePointer(matrixA.panels) + rowPanels * gemmTileRows * depth0
            let slabWriteBack = writeBack.forSlab(depth0: depth0, depth: depth, of: k)
            // Rows in blocks of `gemmRowBlock`, so the block's panels of A stay in L2 across the chunk.
            for rowPanel0 in stride(from: 0, to: rowPanels, by: panelsPerRowBlock) {
                for local in 0 ..< panels {
                    let column0 = (firstPanel + local) * gemmTileColumns
                    for rowPanel in rowPanel0 ..< min(rowPanels, rowPanel0 + panelsPerRowBlock) {
                        let row0 = rowPanel * gemmTileRows
                        gemmTile(depth: depth, packedA: slabA + row0 * depth, packedB: packedB + local * gemmTileColumns * depth,
                                 c: c + row0 * ldc + column0, ldc: ldc, rows: min(gemmTileRows, m - row0),
                                 columns: min(gemmTileColumns, n - column0), writeBack: slabWriteBack.startingAt(row: row0))
                    }
                }
            }
        }
    }
    if chunks == 1 || 2 * m * n * k < minimumParallelWork {
        for chunk in 0 ..< chunks { computeChunk(chunk) }
    } else {
        parallelFor(chunks, computeChunk)
    }
}

/// One tile of C: the micro-kernel when it is a whole tile (`gemmTileRows` × 16), the edge path otherwise.
@inline(__always)
func gemmTile(depth: Int, packedA: UnsafePointer<Float>, packedB: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>,
              ldc: Int, rows: Int, columns: Int, writeBack: GEMMWriteBack) {
    if rows == gemmTileRows && columns == gemmTileColumns {
        gemmMicroKernel(depth: depth, packedA: packedA, packedB: packedB, c: c, ldc: ldc, writeBack: writeBack)
    } else {
        gemmEdgeTile(depth: depth, packedA: packedA, packedB: packedB, c: c, ldc: ldc,
                     rows: rows, columns: columns, writeBack: writeBack)
    }
}
