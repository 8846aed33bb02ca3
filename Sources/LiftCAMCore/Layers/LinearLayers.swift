// The linear layers: convolution, fully connected, per-channel affine (batch-norm in eval mode).
// Each is a linear map plus a constant, so its DeepLIFT multiplier equals its gradient: the backward
// pass is the transpose of the weights whether or not a reference is given.

/// torch.nn.Conv2d (any groups, stride, dilation; ONNX's per-side padding too): `[N, C, H, W]` → `[N, O, oh, ow]`.
public final class Conv2dLayer: Layer {
    public let name: String
    /// The kernels, `[O, C / groups, kh, kw]`.
    public let weight: Tensor
    /// One per output channel, `[O]`; nil without bias.
    public let bias: Tensor?
    /// Channels, kernel size, stride, padding, dilation and groups.
    public let geometry: Conv2dShape
    /// The weight transformed for Winograd F(4×4, 3×3) and F(2×2, 3×3), each made on the first forward
    /// pass that uses it when it is small enough to keep (`winogradCachesWeights`); larger ones are
    /// transformed per call. A layer run both on one 7×7 item (F(2×2)) and on batches (F(4×4)) keeps both.
    private let winograd4 = LazyValue<WinogradWeights>(), winograd2 = LazyValue<WinogradWeights>()
    /// The weight packed for the GEMM micro-kernel, made on the first direct forward pass on a plane
    /// of at most `packedWeightPlaneLimit` outputs, where re-packing it on every call would cost a
    /// large share of the arithmetic (ResNet's 14×14 stage; its 7×7 one, in batches). 1× the weight's
    /// memory; a layer run both on one item and on batches of 7×7 planes keeps this and `packedTransposed`.
    private let packedWeight = LazyValue<PackedMatrix>()
    /// The weight packed as the right operand of the transposed product, made on the first forward
    /// pass that runs it (`convolutionRunsTransposed`: ResNet's 7×7 planes). 1× the weight's memory.
    private let packedTransposed = LazyValue<PackedMatrix>()
    /// The kernels it runs: the fast ones or the naive twins (`KernelChoice`).
    public let kernels: KernelChoice

    /// A convolution named `name` (its module path) with these weights.
    public init(name: String, weight: Tensor, bias: Tensor?, geometry: Conv2dShape, kernels: KernelChoice = .fast) {
        self.name = name
        self.weight = weight
        self.bias = bias
        self.geometry = geometry
        self.kernels = kernels
    }

    public func using(_ kernels: KernelChoice) -> Conv2dLayer {
        Conv2dLayer(name: name, weight: weight, bias: bias, geometry: geometry, kernels: kernels)
    }

    public func outputShape(for inputShape: [Int]) throws(LiftCAMError) -> [Int] {
        if let problem = geometry.problem { throw LiftCAMError("\(name): \(geometry): \(problem)") }
        guard weight.shape == geometry.weightShape else {
            throw LiftCAMError("\(name): weight \(weight.shape) does not match \(geometry), which needs \(geometry.weightShape)")
        }
        guard bias == nil || bias!.count == geometry.outChannels else {
            throw LiftCAMError("\(name): \(bias!.count) biases for \(geometry.outChannels) output channels")
        }
        guard inputShape.count == 3, inputShape[0] == geometry.inChannels else {
            throw LiftCAMError("\(name): expects [\(geometry.inChannels), H, W] input, got \(inputShape)")
        }
        let size = geometry.outputSize(height: inputShape[1], width: inputShape[2])
        guard size.height >= 1, size.width >= 1 else {
            throw LiftCAMError("\(name): input \(inputShape) is smaller than the \(geometry.kernelHeight)x\(geometry.kernelWidth) kernel")
        }
        return [geometry.outChannels, size.height, size.width]
    }

    /// 3×3 stride-1 plain convolutions go through Winograd F(4×4, 3×3) or F(2×2, 3×3) where it saves
    /// enough multiplications (`winogradFiltering`), depthwise and narrow-group ones directly (`conv2dDirect`), those
    /// on small planes as the transposed product (`conv2dSmallPlane`), every other one through im2col +
    /// GEMM (`conv2d`, group by group); literal kernels: the loops of `conv2dNaive`.
    public func forward(_ input: Tensor) -> Tensor { forward(input, applyingReLU: false) }

    /// The forward pass, followed by max(·, 0) when `applyingReLU` (inside the Winograd output
    /// transform, the depthwise kernel or the GEMM's write-back: no extra pass or buffer for a
    /// separate ReLU).
    func forward(_ input: Tensor, applyingReLU: Bool) -> Tensor {
        forward(input, clampingTo: applyingReLU ? 0 ... .infinity : nil)
    }

    /// The forward pass, clamped to `clamp` when given (ReLU: 0…∞, ReLU6: 0…6): in the GEMM's
    /// write-back; a ReLU also inside the Winograd output transform or the depthwise kernel, other
    /// ranges in a pass after those two.
    func forward(_ input: Tensor, clampingTo clamp: ClosedRange<Float>?) -> Tensor {
        let isReLU = clamp == 0 ... .infinity
        if kernels == .literal {
            let output = conv2dNaive(input, weight: weight, bias: bias, shape: geometry)
            guard let clamp else { return output }
            return isReLU ? reluNaive(output)
                : applyElementwiseNaive(.clip(lower: clamp.lowerBound, upper: clamp.upperBound), output)
        }
        if input.shape.count == 4,
           let filtering = winogradFiltering(shape: geometry, batch: input.shape[0], height: input.shape[2], width: input.shape[3]) {
            let kept = filtering == .f4 ? winograd4 : winograd2
            var output = winogradCachesWeights(geometry, filtering: filtering)
                ? conv2dWinograd(input, weights: kept.value { WinogradWeights(weight: weight, filtering: filtering) }, bias: bias,
                                 shape: geometry, applyReLU: isReLU)
                : conv2dWinograd(input, weight: weight, bias: bias, shape: geometry, applyReLU: isReLU, filtering: filtering)
            if let clamp, !isReLU { output.storage.withUnsafeMutableBufferPointer { clampInPlace($0, to: clamp) } }
            return output
        }
        if input.shape.count == 4, convolutionRunsTransposed(geometry, batch: input.shape[0], outputPlane: outputPlane(input.shape)) {
            return conv2dSmallPlane(input, weight: weight, packedWeight: packedTransposed.value { packedTransposedWeight(weight, shape: geometry) },
                                    bias: bias, shape: geometry, clamp: clamp)
        }
        return conv2d(input, weight: weight, packedWeight: packedWeight(forInput: input.shape), bias: bias, shape: geometry,
                      clamp: clamp)
    }

    /// oh · ow for an input `[N, C, H, W]`.
    private func outputPlane(_ inputShape: [Int]) -> Int {
        let output = geometry.outputSize(height: inputShape[2], width: inputShape[3])
        return output.height * output.width
    }

    /// The weight packed for the GEMMs when the output plane is small (see `packedWeight`), else nil.
    private func packedWeight(forInput shape: [Int]) -> PackedMatrix? {
        guard shape.count == 4, geometry.groups == 1, weight.count >= packedWeightMinimumCount else { return nil }
        guard outputPlane(shape) <= packedWeightPlaneLimit else { return nil }
        return packedWeight.value {
            weight.storage.withUnsafeBufferPointer { w in
                PackedMatrix(w.baseAddress!, rows: geometry.outChannels, depth: geometry.unfoldedRows)
            }
        }
    }

    /// Traces use the direct convolution (im2col + GEMM) even where `forward` takes Winograd: the
    /// DeepLIFT-Rescale multipliers Δy/Δx of the ReLUs after it divide by differences of these outputs,
    /// which amplify Winograd's larger rounding (its transforms scale values by up to 8) where input and
    /// reference are close: 9e-2 relative error against Captum on `vgg_bn_parity` case 3 (the parity
    /// test allows 1e-4, which the direct path meets).
    public func forwardTrace(_ input: Tensor) -> Trace {
        Trace(input: input, output: kernels == .literal ? conv2dNaive(input, weight: weight, bias: bias, shape: geometry)
                                                        : conv2d(input, weight: weight, bias: bias, shape: geometry))
    }

    public func backward(_ outputMultipliers: Tensor, trace: Trace, reference: Trace?) -> Tensor {
        let (height, width) = (trace.input.shape[2], trace.input.shape[3])
        return kernels == .literal
            ? conv2dBackwardInputNaive(outputMultipliers, weight: weight, shape: geometry, inputHeight: height, inputWidth: width)
            : conv2dBackwardInput(outputMultipliers, weight: weight, shape: geometry, inputHeight: height, inputWidth: width)
    }
}

/// Output planes up to 28×28 use a convolution's pre-packed weight (see `Conv2dLayer`).
let packedWeightPlaneLimit = 28 * 28
/// Weights under 64 Ki floats are packed on every call: cheap, and not worth keeping twice.
let packedWeightMinimumCount = 1 << 16

/// torch.nn.Linear, y = x Wᵀ + b: `[N, I]` → `[N, O]`.
public final class LinearLayer: Layer {
    public let name: String
    /// `[O, I]`, as torch.nn.Linear.
    public let weight: Tensor
    /// `[O]`; nil without bias.
    public let bias: Tensor?
    /// The kernels it runs: the fast ones or the naive twins (`KernelChoice`).
    public let kernels: KernelChoice

    /// A fully connected layer named `name` (its module path) with these weights.
    public init(name: String, weight: Tensor, bias: Tensor?, kernels: KernelChoice = .fast) {
        self.name = name
        self.weight = weight
        self.bias = bias
        self.kernels = kernels
    }

    public func using(_ kernels: KernelChoice) -> LinearLayer {
        LinearLayer(name: name, weight: weight, bias: bias, kernels: kernels)
    }

    public func outputShape(for inputShape: [Int]) throws(LiftCAMError) -> [Int] {
        guard inputShape.count == 1, inputShape[0] == weight.shape[1] else {
            throw LiftCAMError("\(name): expects \(weight.shape[1]) input features, got shape \(inputShape)")
        }
        return [weight.shape[0]]
    }

    public func forward(_ input: Tensor) -> Tensor {
        kernels == .literal ? linearNaive(input, weight: weight, bias: bias) : linear(input, weight: weight, bias: bias)
    }

    public func backward(_ outputMultipliers: Tensor, trace: Trace, reference: Trace?) -> Tensor {
        kernels == .literal ? linearBackwardInputNaive(outputMultipliers, weight: weight)
            : linearBackwardInput(outputMultipliers, weight: weight)
    }
}

/// Batch-norm in evaluation mode, y = x·scale[c] + shift[c], with scale = γ/√(σ²+ε) and
/// shift = β − μ·scale. Usually folded into the convolution before it (`Sequential.fused()`); it
/// stays a layer of its own where a split separates it from that convolution.
public final class ChannelAffineLayer: Layer {
    public let name: String
    /// Per channel, `[C]`: γ / √(σ² + ε) for a batch-norm.
    public let scale: [Float]
    /// Per channel, `[C]`: β − μ · scale for a batch-norm.
    public let shift: [Float]
    /// The kernels it runs: the fast ones or the naive twins (`KernelChoice`).
    public let kernels: KernelChoice

    /// y = scale · x + shift per channel.
    public init(name: String, scale: [Float], shift: [Float], kernels: KernelChoice = .fast) {
        self.name = name
        self.scale = scale
        self.shift = shift
        self.kernels = kernels
    }

    public func using(_ kernels: KernelChoice) -> ChannelAffineLayer {
        ChannelAffineLayer(name: name, scale: scale, shift: shift, kernels: kernels)
    }

    public func outputShape(for inputShape: [Int]) throws(LiftCAMError) -> [Int] {
        guard inputShape.count == 3, inputShape[0] == scale.count else {
            throw LiftCAMError("\(name): expects [\(scale.count), H, W] input, got \(inputShape)")
        }
        return inputShape
    }

    public func forward(_ input: Tensor) -> Tensor { scaled(input, shift: shift) }

    /// The multipliers scale by the same factors; the shift cancels in every difference.
    public func backward(_ outputMultipliers: Tensor, trace: Trace, reference: Trace?) -> Tensor {
        scaled(outputMultipliers, shift: [Float](repeating: 0, count: scale.count))
    }

    private func scaled(_ x: Tensor, shift: [Float]) -> Tensor {
        kernels == .literal ? channelAffineNaive(x, scale: scale, shift: shift) : channelAffine(x, scale: scale, shift: shift)
    }
}
