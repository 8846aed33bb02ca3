// The three small linear maps of Winograd's minimal filtering F(m×m, 3×3) (Lavin & Gray, "Fast
// Algorithms for Convolutional Neural Networks", 2016), for m = 4 (interpolation points 0, ±1, ±2, ∞)
// and m = 2 (points 0, ±1, ∞):
//
//   y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A      for an (m+2)×(m+2) input tile d, a 3×3 kernel g, an m×m output y.
//
// F(4×4, 3×3):
//   Bᵀ = [ 4  0 −5  0  1  0 ]      G = [  1/4     0     0  ]     Aᵀ = [ 1  1  1  1  1  0 ]
//        [ 0 −4 −4  1  1  0 ]          [ −1/6  −1/6  −1/6 ]          [ 0  1 −1  2 −2  0 ]
//        [ 0  4 −4 −1  1  0 ]          [ −1/6   1/6  −1/6 ]          [ 0  1  1  4  4  0 ]
//        [ 0 −2 −1  2  1  0 ]          [ 1/24  1/12   1/6 ]          [ 0  1 −1  8 −8  1 ]
//        [ 0  2 −1 −2  1  0 ]          [ 1/24 −1/12   1/6 ]
//        [ 0  4  0 −5  0  1 ]          [   0     0     1  ]
//
// F(2×2, 3×3):
//   Bᵀ = [ 1  0 −1  0 ]      G = [  1    0    0  ]     Aᵀ = [ 1  1  1  0 ]
//        [ 0  1  1  0 ]          [ 1/2  1/2  1/2 ]          [ 0  1 −1 −1 ]
//        [ 0 −1  1  0 ]          [ 1/2 −1/2  1/2 ]
//        [ 0  1  0 −1 ]          [  0    0    1  ]
//
// Each map is applied to columns, then to rows. The input and output maps work on SIMD16 vectors
// whose lanes are 16 different tiles, so every step is a vector operation.

/// One of the two minimal filterings F(m×m, 3×3) the engine runs. F(4×4) multiplies 4× less than the
/// direct convolution; F(2×2) only 2.25× less, but its tiles are small enough to fill the 16 lanes of
/// a panel on a 7×7 plane (16 tiles, where F(4×4) has 4).
public struct WinogradTile: Equatable, Sendable {
    /// m: the side of the output square one tile produces.
    public let outputSide: Int
    /// m + 2: the side of the input square it reads.
    public var inputSide: Int { outputSide + 2 }
    /// (m + 2)²: values per transformed tile, one GEMM each.
    public var positions: Int { inputSide * inputSide }

    /// F(4×4, 3×3).
    public static let f4 = WinogradTile(outputSide: 4)
    /// F(2×2, 3×3).
    public static let f2 = WinogradTile(outputSide: 2)

    private init(outputSide: Int) { self.outputSide = outputSide }
}

/// Values per transformed tile of F(4×4, 3×3), the most either filtering has (scratch sizes).
let winogradPositions = WinogradTile.f4.positions

/// Bᵀ applied to one line of six values (a column, then a row, of the input tile).
@inline(__always)
func winogradInputLine(_ d0: Float32x16, _ d1: Float32x16, _ d2: Float32x16, _ d3: Float32x16,
                       _ d4: Float32x16, _ d5: Float32x16)
    -> (Float32x16, Float32x16, Float32x16, Float32x16, Float32x16, Float32x16) {
    let fourth = d4 - 4 * d2, third = d3 - 4 * d1      // shared by rows 1 and 2
    let evenDiff = d4 - d2, oddDiff = 2 * (d3 - d1)    // shared by rows 3 and 4
    return (4 * d0 - 5 * d2 + d4, fourth + third, fourth - third,
            evenDiff + oddDiff, evenDiff - oddDiff, 4 * d1 - 5 * d3 + d5)
}

/// Aᵀ applied to one line of six values (a column, then a row, of the transformed product).
@inline(__always)
func winogradOutputLine(_ m0: Float32x16, _ m1: Float32x16, _ m2: Float32x16, _ m3: Float32x16,
                        _ m4: Float32x16, _ m5: Float32x16)
    -> (Float32x16, Float32x16, Float32x16, Float32x16) {
    let sum12 = m1 + m2, diff12 = m1 - m2, sum34 = m3 + m4, diff34 = m3 - m4
    return (m0 + sum12 + sum34, diff12 + 2 * diff34, sum12 + 4 * sum34, diff12 + 8 * diff34 + m5)
}

/// Bᵀ d B for 16 tiles at once: `tile[s²]` holds d[i][j] at index s·i + j (lane = tile, s = the
/// input side), and the result V[ξ][ν] goes to `transformed[(s·ξ + ν) · positionStride]`.
@inline(__always)
func winogradTransformInputTiles(_ tile: UnsafePointer<Float>, into transformed: UnsafeMutablePointer<Float>,
                                 positionStride: Int, filtering: WinogradTile) {
    if filtering == .f4 {
        winogradTransformInputTiles4(tile, into: transformed, positionStride: positionStride)
    } else {
        winogradTransformInputTiles2(tile, into: transformed, positionStride: positionStride)
    }
}

/// `winogradTransformInputTiles` for F(4×4, 3×3): 6×6 tiles.
@inline(__always)
func winogradTransformInputTiles4(_ tile: UnsafePointer<Float>, into transformed: UnsafeMutablePointer<Float>,
                                  positionStride: Int) {
    withUnsafeTemporaryAllocation(of: Float32x16.self, capacity: winogradPositions) { scratch in
        let columns = scratch.baseAddress!                    // (Bᵀ d)[k][j] at 6k + j
        @inline(__always) func d(_ index: Int) -> Float32x16 { loadLanes(tile + index * 16) }
        for j in 0 ..< 6 {
            let t = winogradInputLine(d(j), d(6 + j), d(12 + j), d(18 + j), d(24 + j), d(30 + j))
            columns[j] = t.0; columns[6 + j] = t.1; columns[12 + j] = t.2
            columns[18 + j] = t.3; columns[24 + j] = t.4; columns[30 + j] = t.5
        }
        for k in 0 ..< 6 {
            let row = columns + 6 * k
            let v = winogradInputLine(row[0], row[1], row[2], row[3], row[4], row[5])
            let target = transformed + 6 * k * positionStride
            storeLanes(v.0, target)
            storeLanes(v.1, target + positionStride)
            storeLanes(v.2, target + 2 * positionStride)
            storeLanes(v.3, target + 3 * positionStride)
            storeLanes(v.4, target + 4 * positionStride)
            storeLanes(v.5, target + 5 * positionStride)
        }
    }
}

/// Aᵀ M A for 16 tiles at once: M[ξ][ν] is read from `products[(s·ξ + ν) · positionStride]`, and the
/// m×m result, plus `bias` (and clamped at zero when `applyReLU`), goes to `tile[(m·i + j) · 16 + lane]`.
@inline(__always)
func winogradTransformOutputTiles(_ products: UnsafePointer<Float>, positionStride: Int, bias: Float,
                                  applyReLU: Bool, filtering: WinogradTile, into tile: UnsafeMutablePointer<Float>) {
    if filtering == .f4 {
        winogradTransformOutputTiles4(products, positionStride: positionStride, bias: bias, applyReLU: applyReLU, into: tile)
    } else {
        winogradTransformOutputTiles2(products, positionStride: positionStride, bias: bias, applyReLU: applyReLU, into: tile)
    }
}

/// `winogradTransformOutputTiles` for F(4×4, 3×3).
@inline(__always)
func winogradTransformOutputTiles4(_ products: UnsafePointer<Float>, positionStride: Int, bias: Float,
                                   applyReLU: Bool, into tile: UnsafeMutablePointer<Float>) {
    withUnsafeTemporaryAllocation(of: Float32x16.self, capacity: 24) { scratch in
        let columns = scratch.baseAddress!                    // (Aᵀ M)[k][ν] at 6k + ν
        @inline(__always) func m(_ index: Int) -> Float32x16 { loadLanes(products + index * positionStride) }
        for v in 0 ..< 6 {
            let t = winogradOutputLine(m(v), m(6 + v), m(12 + v), m(18 + v), m(24 + v), m(30 + v))
            columns[v] = t.0; columns[6 + v] = t.1; columns[12 + v] = t.2; columns[18 + v] = t.3
        }
        let zero = Float32x16(), shift = Float32x16(repeating: bias)
        for k in 0 ..< 4 {
            let row = columns + 6 * k
            let y = winogradOutputLine(row[0], row[1], row[2], row[3], row[4], row[5])
            var values = (y.0 + shift, y.1 + shift, y.2 + shift, y.3 + shift)
            if applyReLU {
                values = (values.0.replacing(with: zero, where: values.0 .< zero),
                          values.1.replacing(with: zero, where: values.1 .< zero),
                          values.2.replacing(with: zero, where: values.2 .< zero),
                          values.3.replacing(with: zero, where: values.3 .< zero))
            }
            let target = tile + 64 * k
            storeLanes(values.0, target); storeLanes(values.1, target + 16)
            storeLanes(values.2, target + 32); storeLanes(values.3, target + 48)
        }
    }
}

/// Eight lanes: the six rows of one micro-kernel panel (two lanes spare).
typealias PanelLanes = SIMD8<Float>

/// G g Gᵀ for the 3×3 kernels of one 6-row panel at one input channel: lane r of `g[k]` is element k
/// (row-major) of row r's kernel. U[ξ][ν] goes, as 8 lanes, to `u + (s·ξ + ν) · stride`: the
/// spare lanes are written too, past the panel's six floats (see `winogradPackPanel`).
@inline(__always)
func winogradTransformKernels(_ g: UnsafePointer<PanelLanes>, into u: UnsafeMutablePointer<Float>, stride: Int,
                              filtering: WinogradTile) {
    if filtering == .f4 {
        winogradTransformKernels4(g, into: u, stride: stride)
    } else {
        winogradTransformKernels2(g, into: u, stride: stride)
    }
}

/// `winogradTransformKernels` for F(4×4, 3×3).
@inline(__always)
func winogradTransformKernels4(_ g: UnsafePointer<PanelLanes>, into u: UnsafeMutablePointer<Float>, stride: Int) {
    @inline(__always) func apply(_ g0: PanelLanes, _ g1: PanelLanes, _ g2: PanelLanes)
        -> (PanelLanes, PanelLanes, PanelLanes, PanelLanes, PanelLanes, PanelLanes) {
        let outer = g0 + g2, quarter = g0 * 0.25, sixth = PanelLanes(repeating: 1.0 / 6)
        let mixed = g0 * (1.0 / 24) + g2 * (1.0 / 6), middle = g1 * (1.0 / 12)
        return (quarter, -(outer + g1) * sixth, -(outer - g1) * sixth, mixed + middle, mixed - middle, g2)
    }
    @inline(__always) func store(_ value: PanelLanes, _ index: Int) {
        UnsafeMutableRawPointer(u + index * stride).storeBytes(of: value, as: PanelLanes.self)
    }
    // Columns first: (G g)[ξ][j] for j = 0, 1, 2; then each of the six rows through G again.
    let c0 = apply(g[0], g[3], g[6]), c1 = apply(g[1], g[4], g[7]), c2 = apply(g[2], g[5], g[8])
    @inline(__always) func row(_ xi: Int, _ g0: PanelLanes, _ g1: PanelLanes, _ g2: PanelLanes) {
        let r = apply(g0, g1, g2)
        store(r.0, 6 * xi); store(r.1, 6 * xi + 1); store(r.2, 6 * xi + 2)
        store(r.3, 6 * xi + 3); store(r.4, 6 * xi + 4); store(r.5, 6 * xi + 5)
    }
    row(0, c0.0, c1.0, c2.0); row(1, c0.1, c1.1, c2.1); row(2, c0.2, c1.2, c2.2)
    row(3, c0.3, c1.3, c2.3); row(4, c0.4, c1.4, c2.4); row(5, c0.5, c1.5, c2.5)
}

/// Transforms the kernels of rows `firstRow ..< firstRow + 6` (zero past `outChannels`) and input
/// channels `channels` of the raw weight `[O, C, 3, 3]` into a packed A panel: channel c's (m+2)² values
/// at `panel + (c − channels.lowerBound) · 6 + ξν · positionStride`. Nothing outside those floats is
/// written: the spare lanes of each store land on the next channel's slot, which is written after
/// it, and the last channel goes through a scratch (the floats after it may belong to another
/// worker's panel).
@inline(__always)
func winogradPackPanel(_ weight: UnsafePointer<Float>, inChannels: Int, outChannels: Int, firstRow: Int,
                       channels: Range<Int>, filtering: WinogradTile, into panel: UnsafeMutablePointer<Float>,
                       positionStride: Int) {
    withUnsafeTemporaryAllocation(of: PanelLanes.self, capacity: 9 + winogradPositions) { buffer in
        let g = buffer.baseAddress!, last = g + 9
        let rows = max(0, min(gemmTileRows, outChannels - firstRow))
        for channel in channels {
            for k in 0 ..< 9 { g[k] = PanelLanes() }
            for lane in 0 ..< rows {
                let source = weight + ((firstRow + lane) * inChannels + channel) * 9
                for k in 0 ..< 9 { g[k][lane] = source[k] }
            }
            let target = panel + (channel - channels.lowerBound) * gemmTileRows
            if channel + 1 < channels.upperBound {
                winogradTransformKernels(g, into: target, stride: positionStride, filtering: filtering)
                continue
            }
            let scratch = UnsafeMutableRawPointer(last).assumingMemoryBound(to: Float.self)
            winogradTransformKernels(g, into: scratch, stride: 8, filtering: filtering)
            for xi in 0 ..< filtering.positions {
                for lane in 0 ..< gemmTileRows { target[xi * positionStride + lane] = scratch[xi * 8 + lane] }
            }
        }
    }
}

// F(2×2, 3×3): the same three maps on 4×4 input tiles and 2×2 output squares.

/// Bᵀ applied to one line of four values.
@inline(__always)
func winogradInputLine2(_ d0: Float32x16, _ d1: Float32x16, _ d2: Float32x16, _ d3: Float32x16)
    -> (Float32x16, Float32x16, Float32x16, Float32x16) {
    (d0 - d2, d1 + d2, d2 - d1, d1 - d3)
}

/// Aᵀ applied to one line of four values.
@inline(__always)
func winogradOutputLine2(_ m0: Float32x16, _ m1: Float32x16, _ m2: Float32x16, _ m3: Float32x16) -> (Float32x16, Float32x16) {
    (m0 + m1 + m2, m1 - m2 - m3)
}

/// `winogradTransformInputTiles` for F(2×2, 3×3): 4×4 tiles.
@inline(__always)
func winogradTransformInputTiles2(_ tile: UnsafePointer<Float>, into transformed: UnsafeMutablePointer<Float>,
                                  positionStride: Int) {
    withUnsafeTemporaryAllocation(of: Float32x16.self, capacity: 16) { scratch in
        let columns = scratch.baseAddress!                    // (Bᵀ d)[k][j] at 4k + j
        @inline(__always) func d(_ index: Int) -> Float32x16 { loadLanes(tile + index * 16) }
        for j in 0 ..< 4 {
            let t = winogradInputLine2(d(j), d(4 + j), d(8 + j), d(12 + j))
            columns[j] = t.0; columns[4 + j] = t.1; columns[8 + j] = t.2; columns[12 + j] = t.3
        }
        for k in 0 ..< 4 {
            let row = columns + 4 * k
            let v = winogradInputLine2(row[0], row[1], row[2], row[3])
            let target = transformed + 4 * k * positionStride
            storeLanes(v.0, target)
            storeLanes(v.1, target + positionStride)
            storeLanes(v.2, target + 2 * positionStride)
            storeLanes(v.3, target + 3 * positionStride)
        }
    }
}

/// `winogradTransformOutputTiles` for F(2×2, 3×3).
@inline(__always)
func winogradTransformOutputTiles2(_ products: UnsafePointer<Float>, positionStride: Int, bias: Float,
                                   applyReLU: Bool, into tile: UnsafeMutablePointer<Float>) {
    @inline(__always) func m(_ index: Int) -> Float32x16 { loadLanes(products + index * positionStride) }
    var columns = (Float32x16(), Float32x16(), Float32x16(), Float32x16(), Float32x16(), Float32x16(), Float32x16(), Float32x16())
    // (Aᵀ M)[k][ν] for k = 0, 1 and ν = 0 … 3.
    (columns.0, columns.4) = winogradOutputLine2(m(0), m(4), m(8), m(12))
    (columns.1, columns.5) = winogradOutputLine2(m(1), m(5), m(9), m(13))
    (columns.2, columns.6) = winogradOutputLine2(m(2), m(6), m(10), m(14))
    (columns.3, columns.7) = winogradOutputLine2(m(3), m(7), m(11), m(15))
    let top = winogradOutputLine2(columns.0, columns.1, columns.2, columns.3)
    let bottom = winogradOutputLine2(columns.4, columns.5, columns.6, columns.7)
    let zero = Float32x16(), shift = Float32x16(repeating: bias)
    var values = (top.0 + shift, top.1 + shift, bottom.0 + shift, bottom.1 + shift)
    if applyReLU {
        values = (values.0.replacing(with: zero, where: values.0 .< zero), values.1.replacing(with: zero, where: values.1 .< zero),
                  values.2.replacing(with: zero, where: values.2 .< zero), values.3.replacing(with: zero, where: values.3 .< zero))
    }
    storeLanes(values.0, tile); storeLanes(values.1, tile + 16)
    storeLanes(values.2, tile + 32); storeLanes(values.3, tile + 48)
}

/// `winogradTransformKernels` for F(2×2, 3×3).
@inline(__always)
func winogradTransformKernels2(_ g: UnsafePointer<PanelLanes>, into u: UnsafeMutablePointer<Float>, stride: Int) {
    @inline(__always) func apply(_ g0: PanelLanes, _ g1: PanelLanes, _ g2: PanelLanes)
        -> (PanelLanes, PanelLanes, PanelLanes, PanelLanes) {
        let outer = g0 + g2
        return (g0, (outer + g1) * 0.5, (outer - g1) * 0.5, g2)
    }
    @inline(__always) func store(_ value: PanelLanes, _ index: Int) {
        UnsafeMutableRawPointer(u + index * stride).storeBytes(of: value, as: PanelLanes.self)
    }
    // Columns first: (G g)[ξ][j] for j = 0, 1, 2; then each of the four rows through G again.
    let c0 = apply(g[0], g[3], g[6]), c1 = apply(g[1], g[4], g[7]), c2 = apply(g[2], g[5], g[8])
    @inline(__always) func row(_ xi: Int, _ g0: PanelLanes, _ g1: PanelLanes, _ g2: PanelLanes) {
        let r = apply(g0, g1, g2)
        store(r.0, 4 * xi); store(r.1, 4 * xi + 1); store(r.2, 4 * xi + 2); store(r.3, 4 * xi + 3)
    }
    row(0, c0.0, c1.0, c2.0); row(1, c0.1, c1.1, c2.1); row(2, c0.2, c1.2, c2.2); row(3, c0.3, c1.3, c2.3)
}
