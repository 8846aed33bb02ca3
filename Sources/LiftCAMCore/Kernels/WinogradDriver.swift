// How a Winograd convolution is cut into blocks of tiles and spread over the cores.

/// Sizes of one Winograd call: tiles are m×m squares of the output, numbered item by item, row by row.
struct WinogradGeometry {
    let filtering: WinogradTile
    let batch, inChannels, outChannels, height, width, paddingHeight, paddingWidth: Int
    let outputHeight, outputWidth, tileRows, tileColumns: Int

    init(shape: Conv2dShape, filtering: WinogradTile, batch: Int, height: Int, width: Int) {
        self.filtering = filtering
        (self.batch, self.height, self.width) = (batch, height, width)
        (inChannels, outChannels) = (shape.inChannels, shape.outChannels)
        (paddingHeight, paddingWidth) = (shape.paddingHeight, shape.paddingWidth)
        (outputHeight, outputWidth) = shape.outputSize(height: height, width: width)
        let side = filtering.outputSide
        tileRows = (outputHeight + side - 1) / side
        tileColumns = (outputWidth + side - 1) / side
    }

    /// (m+2)²: the GEMMs of each block.
    var positions: Int { filtering.positions }

    var tilesPerItem: Int { tileRows * tileColumns }
    var tiles: Int { batch * tilesPerItem }
}

/// Floats of transformed input and products one block may hold when each core runs blocks of its
/// own (2 MiB: both stay in L2 and L3 beside the other core's), and when all cores share one block.
let winogradPrivateBlockBudget = 1 << 19
let winogradSharedBlockBudget = 1 << 22
/// Transformed weights up to this many floats are read once per block without cost (they stay in L3).
let winogradPrivateWeightLimit = 1 << 20

/// Where each of a block's tile slots reads and writes: −1 for slots past the last tile.
struct WinogradTileTable {
    var inputOffset: [Int] = []    // x offset of the tile's top-left input (may be outside the plane)
    var outputOffset: [Int] = []   // y offset of the tile's top-left output, channel 0
    var top: [Int] = []            // first input row (−padding for the first tile row)
    var left: [Int] = []           // first input column

    init(_ g: WinogradGeometry, firstTile: Int, slots: Int) {
        let tiles = g.tiles
        for slot in 0 ..< slots {
            let tile = firstTile + slot
            guard tile < tiles else {
                inputOffset.append(-1); outputOffset.append(-1); top.append(0); left.append(0)
                continue
            }
            let (item, within) = tile.quotientAndRemainder(dividingBy: g.tilesPerItem)
            let (row, column) = within.quotientAndRemainder(dividingBy: g.tileColumns)
            let side = g.filtering.outputSide
            let y0 = side * row - g.paddingHeight, x0 = side * column - g.paddingWidth
            top.append(y0)
            left.append(x0)
            inputOffset.append(item * g.inChannels * g.height * g.width)
            outputOffset.append((item * g.outChannels * g.outputHeight + side * row) * g.outputWidth + side * column)
        }
    }
}

/// Where the GEMMs' A operand comes from: transformed weights made beforehand, or the raw weight
/// `[O, C, 3, 3]`, transformed on the fly, one pair of 6-row panels and depth slab at a time, into a
/// scratch that stays in L2 (used for large weights: no 4× copy is kept, and the 9 raw floats per
/// kernel are read instead of the (m+2)² transformed ones, which is faster when few tiles share them).
enum WinogradKernels {
    case transformed(WinogradWeights)
    case raw(UnsafePointer<Float>)
}

/// Transformed weights up to this many floats (36 · 516 · 512, 38 MB: every VGG layer, whose 512
/// output channels pad to 516 rows of 6-row panels) are kept by layers and used packed; larger ones
/// are transformed on the fly on every call (see `WinogradKernels`). Keeping them costs 4× the raw
/// weight's memory (VGG16's peak for one forward pass: 825 MB instead of 636 MB) and saves the
/// on-the-fly transform: VGG16's forward pass 12–15 % faster (Benchmarks/README.md).
public let winogradCachedWeightLimit = winogradPositions * 516 * 512

/// Runs the three stages on every block of tiles. With small transformed weights and many blocks,
/// each core takes whole blocks (no hand-off between stages); otherwise all cores share each block,
/// stage by stage, so the large weights are read once per block rather than once per core.
func runWinograd(_ g: WinogradGeometry, input: UnsafePointer<Float>, kernels: WinogradKernels,
                 bias: UnsafePointer<Float>, applyReLU: Bool, output: UnsafeMutablePointer<Float>) {
    let rowPanels = (g.outChannels + gemmTileRows - 1) / gemmTileRows, paddedOut = rowPanels * gemmTileRows
    let perTile = g.positions * (g.inChannels + paddedOut)
    let weightFloats = g.positions * paddedOut * g.inChannels
    let privatePanels = max(1, winogradPrivateBlockBudget / (perTile * 16))
    let totalPanels = (g.tiles + 15) / 16
    let privateBlocks = (totalPanels + privatePanels - 1) / privatePanels
    if case .transformed(let weights) = kernels, weightFloats <= winogradPrivateWeightLimit, privateBlocks >= 2 * workerCount {
        let chunks = min(privateBlocks, 4 * workerCount)
        parallelFor(chunks) { chunk in
            let blocks = evenSlice(chunk, of: chunks, total: privateBlocks)
            let block = WinogradBlock(g, panels: privatePanels, paddedOut: paddedOut)
            defer { block.deallocate() }
            for index in blocks {
                let first = index * privatePanels * 16
                let panels = min(privatePanels, totalPanels - index * privatePanels)
                let table = WinogradTileTable(g, firstTile: first, slots: panels * 16)
                block.transformInput(input, table: table, panels: panels, channels: 0 ..< g.inChannels)
                block.multiply(weights, panels: panels, positions: 0 ..< g.positions)
                block.transformOutput(table: table, panels: panels, bias: bias, applyReLU: applyReLU,
                                      outChannels: 0 ..< g.outChannels, into: output)
            }
        }
        return
    }
    let sharedPanels = max(1, min(totalPanels, winogradSharedBlockBudget / (perTile * 16)))
    let block = WinogradBlock(g, panels: sharedPanels, paddedOut: paddedOut)
    defer { block.deallocate() }
    for first in stride(from: 0, to: totalPanels, by: sharedPanels) {
        let panels = min(sharedPanels, totalPanels - first)
        let table = WinogradTileTable(g, firstTile: first * 16, slots: panels * 16)
        let slots = panels * 16
        forEachSlice(items: g.inChannels, totalWork: g.inChannels * slots * g.positions * 4) { channels in
            block.transformInput(input, table: table, panels: panels, channels: channels)
        }
        let gemmWork = g.positions * paddedOut * g.inChannels * slots
        switch kernels {
        case .transformed(let weights):
            forEachSlice(items: g.positions, totalWork: gemmWork) { positions in
                block.multiply(weights, panels: panels, positions: positions)
            }
        case .raw(let weight):
            let panelPairs = (rowPanels + 1) / 2
            forEachSlice(items: panelPairs, totalWork: gemmWork) { pairs in
                block.multiplyTransforming(weight, panels: panels, rowPanels: rowPanels, panelPairs: pairs)
            }
        }
        forEachSlice(items: g.outChannels, totalWork: g.outChannels * slots * g.positions * 4) { outChannels in
            block.transformOutput(table: table, panels: panels, bias: bias, applyReLU: applyReLU,
                                  outChannels: outChannels, into: output)
        }
    }
}

/// The scratch of one block: transformed input V `[(m+2)², panels, C, 16]` and products
/// M `[(m+2)², paddedOut, panels · 16]`.
struct WinogradBlock {
    let g: WinogradGeometry
    let capacityPanels, paddedOut: Int
    let transformed: UnsafeMutablePointer<Float>
    let products: UnsafeMutablePointer<Float>

    init(_ g: WinogradGeometry, panels: Int, paddedOut: Int) {
        self.g = g
        self.capacityPanels = panels
        self.paddedOut = paddedOut
        transformed = allocateAlignedFloats(g.positions * panels * g.inChannels * 16)
        products = allocateAlignedFloats(g.positions * paddedOut * panels * 16)
    }

    func deallocate() {
        transformed.deallocate()
        products.deallocate()
    }

    /// Stage 1 for `channels`: gathers each panel's 16 input tiles (zero outside the plane) and
    /// writes V = Bᵀ d B.
    func transformInput(_ input: UnsafePointer<Float>, table: WinogradTileTable, panels: Int, channels: Range<Int>) {
        let (height, width, planeSize) = (g.height, g.width, g.height * g.width)
        let positionStride = panels * g.inChannels * 16
        let side = g.filtering.inputSide, positions = g.positions
        withUnsafeTemporaryAllocation(of: Float.self, capacity: winogradPositions * 16) { scratch in
            let tile = scratch.baseAddress!                            // [s², 16]: d[i][j] of 16 tiles
            for channel in channels {
                for panel in 0 ..< panels {
                    for lane in 0 ..< 16 {
                        let slot = panel * 16 + lane, offset = table.inputOffset[slot]
                        let y0 = table.top[slot], x0 = table.left[slot]
                        if offset < 0 {
                            for k in 0 ..< positions { tile[k * 16 + lane] = 0 }
                            continue
                        }
                        let plane = input + offset + channel * planeSize
                        if y0 >= 0 && x0 >= 0 && y0 + side <= height && x0 + side <= width {
                            for i in 0 ..< side {
                                let source = plane + (y0 + i) * width + x0
                                for j in 0 ..< side { tile[(side * i + j) * 16 + lane] = source[j] }
                            }
                        } else {
                            for i in 0 ..< side {
                                let y = y0 + i, rowInside = y >= 0 && y < height
                                for j in 0 ..< side {
                                    let x = x0 + j
                                    tile[(side * i + j) * 16 + lane] = rowInside && x >= 0 && x < width ? plane[y * width + x] : 0
                                }
                            }
                        }
                    }
                    winogradTransformInputTiles(tile, into: transformed + (panel * g.inChannels + channel) * 16,
                                                positionStride: positionStride, filtering: g.filtering)
                }
            }
        }
    }

    /// Stage 2 for `positions`: M_ξ = U_ξ · V_ξ, one micro-kernel call per 6 output channels × 16 tiles
    /// and slab of at most 256 input channels.
    func multiply(_ weights: WinogradWeights, panels: Int, positions: Range<Int>) {
        let channels = g.inChannels, rowPanels = weights.rowPanels, columns = panels * 16
        let slabDepth = gemmSlabDepth(channels)
        for xi in positions {
            let u = weights.packed + xi * weights.positionStride
            let v = transformed + xi * panels * channels * 16
            let m = products + xi * paddedOut * columns
            for panel in 0 ..< panels {
                for depth0 in stride(from: 0, to: channels, by: slabDepth) {
                    let depth = min(slabDepth, channels - depth0)
                    let panelB = v + (panel * channels + depth0) * 16
                    for rowPanel in 0 ..< rowPanels {
                        gemmMicroKernel(depth: depth, packedA: u + (rowPanel * channels + depth0) * gemmTileRows,
                                        packedB: panelB, c: m + rowPanel * gemmTileRows * columns + panel * 16,
                                        ldc: columns, writeBack: depth0 == 0 ? .overwrite : .adding)
                    }
                }
            }
        }
    }

    /// Stage 2 from the raw weight `[O, C, 3, 3]`, for the pairs of 6-row panels `panelPairs`: per pair
    /// and depth slab, G g Gᵀ of its 12 × depth kernels goes to a scratch `[(m+2)², 2, depth, 6]` (at most
    /// 432 KiB, in L2), then every position and tile panel runs the micro-kernel on it.
    func multiplyTransforming(_ weight: UnsafePointer<Float>, panels: Int, rowPanels: Int, panelPairs: Range<Int>) {
        let channels = g.inChannels, outChannels = g.outChannels, columns = panels * 16
        let slabDepth = gemmSlabDepth(channels)
        let scratchStride = 2 * slabDepth * gemmTileRows
        let scratch = allocateAlignedFloats(g.positions * scratchStride)
        defer { scratch.deallocate() }
        for pair in panelPairs {
            let firstPanel = 2 * pair, pairPanels = min(2, rowPanels - firstPanel)
            for depth0 in stride(from: 0, to: channels, by: slabDepth) {
                let depth = min(slabDepth, channels - depth0)
                let positionStride = scratchStride
                for local in 0 ..< pairPanels {
                    winogradPackPanel(weight, inChannels: channels, outChannels: outChannels,
                                      firstRow: (firstPanel + local) * gemmTileRows, channels: depth0 ..< depth0 + depth,
                                      filtering: g.filtering, into: scratch + local * depth * gemmTileRows,
                                      positionStride: positionStride)
                }
                for xi in 0 ..< g.positions {
                    let v = transformed + (xi * panels * channels + depth0) * 16
                    let m = products + xi * paddedOut * columns
                    for panel in 0 ..< panels {
                        for local in 0 ..< pairPanels {
                            gemmMicroKernel(depth: depth, packedA: scratch + xi * positionStride + local * depth * gemmTileRows,
                                            packedB: v + panel * channels * 16,
                                            c: m + (firstPanel + local) * gemmTileRows * columns + panel * 16,
                                            ldc: columns, writeBack: depth0 == 0 ? .overwrite : .adding)
                        }
                    }
                }
            }
        }
    }

    /// Stage 3 for `outChannels`: y = Aᵀ M A + bias (ReLU when asked), each m×m tile clipped to the plane.
    func transformOutput(table: WinogradTileTable, panels: Int, bias: UnsafePointer<Float>, applyReLU: Bool,
                         outChannels: Range<Int>, into output: UnsafeMutablePointer<Float>) {
        let columns = panels * 16, positionStride = paddedOut * columns
        let (outputHeight, outputWidth, planeSize) = (g.outputHeight, g.outputWidth, g.outputHeight * g.outputWidth)
        let side = g.filtering.outputSide
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 16 * 16) { scratch in
            let tile = scratch.baseAddress!                            // [m², 16]: y[i][j] of 16 tiles
            for channel in outChannels {
                for panel in 0 ..< panels {
                    winogradTransformOutputTiles(products + channel * columns + panel * 16, positionStride: positionStride,
                                                 bias: bias[channel], applyReLU: applyReLU, filtering: g.filtering, into: tile)
                    for lane in 0 ..< 16 {
                        let slot = panel * 16 + lane, offset = table.outputOffset[slot]
                        if offset < 0 { continue }
                        let target = output + offset + channel * planeSize
                        let y0 = table.top[slot] + g.paddingHeight, x0 = table.left[slot] + g.paddingWidth
                        let rows = min(side, outputHeight - y0), cols = min(side, outputWidth - x0)
                        for i in 0 ..< rows {
                            for j in 0 ..< cols { target[i * outputWidth + j] = tile[(side * i + j) * 16 + lane] }
                        }
                    }
                }
            }
        }
    }
}
