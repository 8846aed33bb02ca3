// 3×3 stride-1 convolution by Winograd's F(4×4, 3×3): 36 GEMMs on transformed tiles instead of one
// GEMM on the unfolded input, 4× fewer multiplications (36 per 4×4 outputs against 16 · 9); on planes
// too small for 4×4 tiles to fill a panel (ResNet's 7×7), F(2×2, 3×3): 16 GEMMs, 2.25× fewer.
//
// For a block of tiles (m×m output squares, any item of the batch; s = m + 2):
//   1. input transform: each s×s input tile d → V = Bᵀ d B, stored as the GEMM's packed B operand
//      V[s²][panel][C][16] (16 tiles to a panel, the micro-kernel's lanes);
//   2. s² GEMMs M_ξ[O, tiles] = U_ξ[O, C] · V_ξ[C, tiles], U = G g Gᵀ already packed as the GEMM's A
//      operand U[s²][O/6][C][6], so neither operand is repacked;
//   3. output transform: y = Aᵀ M A + bias, clipped to the output plane at the bottom and right.
// The sums run in another order than the direct convolution, and the transforms add rounding of
// their own (the largest coefficient is 8): results agree with `conv2dNaive` to about 1e-6 relative.

/// Transformed 3×3 kernels of one convolution, packed for the GEMM micro-kernel: computed once and
/// reused by every call (see `Conv2dLayer`). (m+2)² · O · C floats: 4× the weight they come from for
/// F(4×4), 16/9 of it for F(2×2).
public final class WinogradWeights: @unchecked Sendable {
    /// O, the output channels of the convolution the weights come from.
    public let outChannels: Int
    /// C, its input channels.
    public let inChannels: Int
    /// The filtering they are transformed for.
    public let filtering: WinogradTile
    let rowPanels: Int
    /// Floats from one position's block to the next.
    let positionStride: Int
    let packed: UnsafeMutablePointer<Float>   // [(m+2)², O/6, C, 6], rows past O zero

    /// Transforms `weight` `[O, C, 3, 3]` for `filtering`.
    public init(weight: Tensor, filtering: WinogradTile = .f4) {
        precondition(weight.shape.count == 4 && weight.shape[2] == 3 && weight.shape[3] == 3,
                     "WinogradWeights: weight \(weight.shape) is not [O, C, 3, 3]")
        outChannels = weight.shape[0]
        inChannels = weight.shape[1]
        self.filtering = filtering
        rowPanels = (outChannels + gemmTileRows - 1) / gemmTileRows
        positionStride = rowPanels * inChannels * gemmTileRows
        packed = allocateAlignedFloats(filtering.positions * positionStride)
        let (o, c, panels, target, stride) = (outChannels, inChannels, rowPanels, packed, positionStride)
        weight.storage.withUnsafeBufferPointer { source in
            forEachSlice(items: panels, totalWork: panels * c * 200) { panelRange in
                for panel in panelRange {
                    winogradPackPanel(source.baseAddress!, inChannels: c, outChannels: o, firstRow: panel * gemmTileRows,
                                      channels: 0 ..< c, filtering: filtering, into: target + panel * c * gemmTileRows,
                                      positionStride: stride)
                }
            }
        }
    }

    deinit { packed.deallocate() }

    /// Bytes held by the transformed weights.
    public var byteCount: Int { filtering.positions * positionStride * MemoryLayout<Float>.stride }
}

/// Whether `conv2dWinograd` computes this convolution: 3×3 kernel, stride 1, any padding the same on
/// both sides, one group, no dilation (`Conv2dShape.isPlain`).
public func winogradApplies(to shape: Conv2dShape) -> Bool {
    shape.kernelHeight == 3 && shape.kernelWidth == 3 && shape.strideHeight == 1 && shape.strideWidth == 1 && shape.isPlain
}

/// Whether Winograd pays on this call (`winogradFiltering` finds a filtering).
public func winogradPays(shape: Conv2dShape, batch: Int, height: Int, width: Int) -> Bool {
    winogradFiltering(shape: shape, batch: batch, height: height, width: width) != nil
}

/// The filtering a Winograd call takes, or nil when none pays. F(4×4) when its GEMMs ((m+2)²
/// products per tile, tiles padded to panels of 16) do at most half the multiplications of the
/// direct convolution; otherwise F(2×2) when its GEMMs do at most 3/5 of them. One 7×7 plane (16
/// tiles of 2×2, one panel) does 256 against 441 per pair of channels: F(2×2) there, where F(4×4)
/// fills 4 lanes of 16 (576). The second bound is looser because F(2×2)'s transforms are cheaper;
/// its transformed weights are 16/9 of the raw ones, read from memory once per call. F(2×2) also
/// needs 16 input channels: with fewer, its passes over the tiles cost what the multiplications
/// save (8 → 32 channels on 7×7: 29 µs against 31 direct; 16 → 64: 52 against 79).
public func winogradFiltering(shape: Conv2dShape, batch: Int, height: Int, width: Int) -> WinogradTile? {
    guard winogradApplies(to: shape), shape.inChannels >= 8 else { return nil }
    let output = shape.outputSize(height: height, width: width)
    guard output.height >= 1, output.width >= 1 else { return nil }
    let direct = 9 * batch * output.height * output.width
    func multiplications(_ filtering: WinogradTile) -> Int {
        let side = filtering.outputSide
        let tiles = batch * ((output.height + side - 1) / side) * ((output.width + side - 1) / side)
        return filtering.positions * ((tiles + 15) / 16 * 16)
    }
    if 2 * multiplications(.f4) <= direct { return .f4 }
    if 5 * multiplications(.f2) <= 3 * direct && shape.inChannels >= 16 { return .f2 }
    return nil
}

/// PyTorch's nn.Conv2d for a 3×3 stride-1 kernel (any padding), by Winograd F(m×m, 3×3) (`filtering`):
/// input `[N, C, H, W]`, weight `[O, C, 3, 3]`, bias `[O]` → `[N, O, oh, ow]`; `applyReLU` returns
/// max(0, conv). Transforms the weight during the call: whole, beforehand, when the transform is at
/// most `winogradCachedWeightLimit` floats, otherwise slab by slab inside the GEMMs.
public func conv2dWinograd(_ input: Tensor, weight: Tensor, bias: Tensor?, shape: Conv2dShape,
                           applyReLU: Bool = false, filtering: WinogradTile = .f4) -> Tensor {
    _ = checkConvolution(inputShape: input.shape, weight: weight, shape: shape)
    if winogradCachesWeights(shape, filtering: filtering) {
        return conv2dWinograd(input, weights: WinogradWeights(weight: weight, filtering: filtering), bias: bias,
                              shape: shape, applyReLU: applyReLU)
    }
    return weight.storage.withUnsafeBufferPointer { w in
        runWinogradCall(input, kernels: .raw(w.baseAddress!), filtering: filtering, bias: bias, shape: shape,
                        applyReLU: applyReLU)
    }
}

/// As `conv2dWinograd(_:weight:bias:shape:applyReLU:)`, with the weight already transformed.
public func conv2dWinograd(_ input: Tensor, weights: WinogradWeights, bias: Tensor?, shape: Conv2dShape,
                           applyReLU: Bool = false) -> Tensor {
    precondition(weights.outChannels == shape.outChannels && weights.inChannels == shape.inChannels,
                 "conv2dWinograd: transformed weights \(weights.outChannels)×\(weights.inChannels) do not match \(shape)")
    return runWinogradCall(input, kernels: .transformed(weights), filtering: weights.filtering, bias: bias, shape: shape,
                           applyReLU: applyReLU)
}

/// Whether a layer keeps this convolution's transformed weights ((m+2)² · O · C floats at most
/// `winogradCachedWeightLimit`) rather than transforming them on every call.
public func winogradCachesWeights(_ shape: Conv2dShape, filtering: WinogradTile = .f4) -> Bool {
    let paddedOut = (shape.outChannels + gemmTileRows - 1) / gemmTileRows * gemmTileRows
    return filtering.positions * paddedOut * shape.inChannels <= winogradCachedWeightLimit
}

func runWinogradCall(_ input: Tensor, kernels: WinogradKernels, filtering: WinogradTile, bias: Tensor?, shape: Conv2dShape,
                     applyReLU: Bool) -> Tensor {
    precondition(winogradApplies(to: shape), "conv2dWinograd: \(shape) is not a 3×3 stride-1 convolution")
    precondition(input.shape.count == 4 && input.shape[1] == shape.inChannels,
                 "conv2dWinograd: input \(input.shape) does not match \(shape)")
    precondition(bias == nil || bias!.count == shape.outChannels, "conv2dWinograd: bias does not match \(shape)")
    let geometry = WinogradGeometry(shape: shape, filtering: filtering, batch: input.shape[0], height: input.shape[2],
                                    width: input.shape[3])
    precondition(geometry.outputHeight >= 1 && geometry.outputWidth >= 1,
                 "conv2dWinograd: input \(input.shape) smaller than the kernel")
    let biasValues = bias?.storage ?? [Float](repeating: 0, count: shape.outChannels)
    return makeTensor(shape: [geometry.batch, shape.outChannels, geometry.outputHeight, geometry.outputWidth]) { output in
        input.storage.withUnsafeBufferPointer { x in
        biasValues.withUnsafeBufferPointer { b in
            runWinograd(geometry, input: x.baseAddress!, kernels: kernels, bias: b.baseAddress!,
                        applyReLU: applyReLU, output: output.baseAddress!)
        }}
    }
}

/// A value a layer makes on the first call that needs it (transformed or packed weights) and keeps
/// for later calls. Copies of the layer share one; concurrent first calls make it once (the
/// platform's lock guards the slot; see `MutualExclusion`).
final class LazyValue<Value>: @unchecked Sendable {
    private let lock = MutualExclusion.make()
    private var stored: Value?

    init() {}

    /// The stored value, made by `make` on the first call.
    func value(_ make: () -> Value) -> Value {
        lock.lock()
        defer { lock.unlock() }
        if let stored { return stored }
        let made = make()
        stored = made
        return made
    }
}
