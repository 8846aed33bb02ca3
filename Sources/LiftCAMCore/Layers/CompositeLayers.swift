// Layers made of layers: a chain (torch.nn.Sequential) and ResNet's residual block.

/// Layers applied one after another. Its trace keeps one trace per layer, so its backward pass can
/// walk them in reverse: the chain rule for gradients, and DeepLIFT's chain rule for multipliers.
public final class Sequential: Layer {
    public let name: String
    /// The layers, applied first to last.
    public let layers: [any Layer]

    /// A chain named `name` (its module path) of these layers.
    public init(name: String, layers: [any Layer]) {
        self.name = name
        self.layers = layers
    }

    public func using(_ kernels: KernelChoice) -> Sequential {
        Sequential(name: name, layers: layers.map { $0.using(kernels) })
    }

    public func outputShape(for inputShape: [Int]) throws(LiftCAMError) -> [Int] {
        var shape = inputShape
        for layer in layers { shape = try layer.outputShape(for: shape) }
        return shape
    }

    public func forward(_ input: Tensor) -> Tensor {
        layers.reduce(input) { x, layer in layer.forward(x) }
    }

    public func forwardTrace(_ input: Tensor) -> Trace {
        var parts: [Trace] = []
        parts.reserveCapacity(layers.count)
        var x = input
        for layer in layers {
            let part = layer.forwardTrace(x)
            x = part.output
            parts.append(part)
        }
        return Trace(input: input, output: x, parts: parts)
    }

    public func backward(_ outputMultipliers: Tensor, trace: Trace, reference: Trace?) -> Tensor {
        var m = outputMultipliers
        for index in layers.indices.reversed() {
            m = layers[index].backward(m, trace: trace.parts[index], reference: reference?.parts[index])
        }
        return m
    }

    /// The same computation with every convolution that is directly followed by a batch-norm merged
    /// with it (weights scaled, bias shifted): one pass over the data instead of two. Gradients and
    /// multipliers are unchanged, since both layers are linear.
    public func fused() -> Sequential { fusedWithOrigins().fused }

    /// `fused()`, and for each of this chain's layers the index of the fused layer that ends with it;
    /// nil for a convolution folded together with the batch-norm after it (half of a fused layer).
    func fusedWithOrigins() -> (fused: Sequential, endingAt: [Int?]) {
        var result: [any Layer] = []
        var endingAt: [Int?] = []
        for layer in layers {
            if let affine = layer as? ChannelAffineLayer, let conv = result.last as? Conv2dLayer {
                let folded = foldChannelAffine(intoWeight: conv.weight, bias: conv.bias,
                                               scale: affine.scale, shift: affine.shift)
                result[result.count - 1] = Conv2dLayer(name: conv.name, weight: folded.weight,
                                                       bias: folded.bias, geometry: conv.geometry, kernels: conv.kernels)
                endingAt[endingAt.count - 1] = nil
            } else if let block = layer as? ResidualBlock {
                result.append(block.fused())
            } else if let graph = layer as? GraphLayer {
                result.append(graph.fused())
            } else {
                result.append(layer)
            }
            endingAt.append(result.count - 1)
        }
        return (Sequential(name: name, layers: result), endingAt)
    }
}

/// A torchvision ResNet block (BasicBlock or Bottleneck): relu(branch(x) + shortcut(x)), where the
/// shortcut is the identity or `downsample` (a strided 1×1 convolution and batch-norm).
///
/// The addition is linear, so both paths receive the output multipliers unchanged and their input
/// multipliers add; only the ReLUs (inside the branch and the final one) use Rescale.
public final class ResidualBlock: Layer {
    public let name: String
    /// The residual branch: conv, batch-norm, ReLU, … up to the last batch-norm.
    public let branch: Sequential
    /// The shortcut's 1×1 convolution and batch-norm where the shape changes; nil for the identity
    /// shortcut.
    public let downsample: Sequential?
    /// The ReLU after the sum.
    public let finalReLU: ReLULayer
    /// Of the residual sums; the parts hold their own.
    public let kernels: KernelChoice

    /// A block computing ReLU(branch(x) + shortcut(x)).
    public init(name: String, branch: Sequential, downsample: Sequential?, kernels: KernelChoice = .fast) {
        self.name = name
        self.branch = branch
        self.downsample = downsample
        self.finalReLU = ReLULayer(name: name + ".relu", kernels: kernels)
        self.kernels = kernels
    }

    public func using(_ kernels: KernelChoice) -> ResidualBlock {
        ResidualBlock(name: name, branch: branch.using(kernels), downsample: downsample?.using(kernels), kernels: kernels)
    }

    public func outputShape(for inputShape: [Int]) throws(LiftCAMError) -> [Int] {
        let main = try branch.outputShape(for: inputShape)
        let shortcut = try downsample?.outputShape(for: inputShape) ?? inputShape
        guard main == shortcut else {
            throw LiftCAMError("\(name): branch gives \(main) but the shortcut gives \(shortcut)")
        }
        return main
    }

    /// relu(branch + shortcut): in one pass over the branch's output (`addReLU(into:_:)`), or
    /// literally a sum and then a ReLU.
    public func forward(_ input: Tensor) -> Tensor {
        let shortcut = downsample?.forward(input) ?? input
        if kernels == .literal { return finalReLU.forward(addNaive(branch.forward(input), shortcut)) }
        var sum = branch.forward(input)
        addReLU(into: &sum, shortcut)
        return sum
    }

    /// Parts: [branch, shortcut (downsample or identity), final ReLU].
    public func forwardTrace(_ input: Tensor) -> Trace {
        let branchTrace = branch.forwardTrace(input)
        let shortcutTrace = downsample?.forwardTrace(input) ?? Trace(input: input, output: input)
        let reluTrace = finalReLU.forwardTrace(add(branchTrace.output, shortcutTrace.output, kernels: kernels))
        return Trace(input: input, output: reluTrace.output, parts: [branchTrace, shortcutTrace, reluTrace])
    }

    public func backward(_ outputMultipliers: Tensor, trace: Trace, reference: Trace?) -> Tensor {
        let sum = finalReLU.backward(outputMultipliers, trace: trace.parts[2], reference: reference?.parts[2])
        let throughBranch = branch.backward(sum, trace: trace.parts[0], reference: reference?.parts[0])
        let throughShortcut = downsample?.backward(sum, trace: trace.parts[1], reference: reference?.parts[1]) ?? sum
        return add(throughBranch, throughShortcut, kernels: kernels)
    }

    func fused() -> ResidualBlock {
        ResidualBlock(name: name, branch: branch.fused(), downsample: downsample?.fused(), kernels: kernels)
    }
}

extension Sequential {
    /// For forward passes only (`Network.forward`): every convolution directly followed by a ReLU
    /// becomes one `ConvolutionReLU`, which applies the ReLU while writing the convolution's output;
    /// residual blocks are rewritten inside. Traces and backward passes keep using `fused()`, whose
    /// layers LRP and Rescale walk one by one.
    public func mergingReLUs() -> Sequential {
        var result: [any Layer] = []
        for layer in layers {
            if let relu = layer as? ReLULayer, let conv = result.last as? Conv2dLayer {
                result[result.count - 1] = ConvolutionReLU(convolution: conv, relu: relu)
            } else if let block = layer as? ResidualBlock {
                result.append(ResidualBlock(name: block.name, branch: block.branch.mergingReLUs(),
                                            downsample: block.downsample, kernels: block.kernels))
            } else if let graph = layer as? GraphLayer {
                result.append(graph.fused(mergingReLUs: true))
            } else {
                result.append(layer)
            }
        }
        return Sequential(name: name, layers: result)
    }
}

/// relu(conv(x)), or a clip of it such as ReLU6, computed in one pass
/// (`Conv2dLayer.forward(_:clampingTo:)`). Its trace and backward pass are those of the two layers in
/// turn, so it stays exact if ever traced.
public final class ConvolutionReLU: Layer {
    /// The convolution.
    public let convolution: Conv2dLayer
    /// The layer after it: a `ReLULayer`, or an `ElementwiseLayer` clipping to `clamp`.
    public let activation: any Layer
    /// The range the activation clamps to (a ReLU: 0…∞).
    public let clamp: ClosedRange<Float>

    /// The convolution and the ReLU after it as one.
    public convenience init(convolution: Conv2dLayer, relu: ReLULayer) {
        self.init(convolution: convolution, activation: relu, clamp: 0 ... .infinity)
    }

    /// The convolution and the clip after it (ONNX's Clip, PyTorch's ReLU6) as one; nil when
    /// `clip` is another function.
    public convenience init?(convolution: Conv2dLayer, clip: ElementwiseLayer) {
        guard case .clip(let lower, let upper) = clip.function, lower <= upper else { return nil }
        self.init(convolution: convolution, activation: clip, clamp: lower ... upper)
    }

    private init(convolution: Conv2dLayer, activation: any Layer, clamp: ClosedRange<Float>) {
        self.convolution = convolution
        self.activation = activation
        self.clamp = clamp
    }

    public var name: String { convolution.name }

    public func using(_ kernels: KernelChoice) -> ConvolutionReLU {
        ConvolutionReLU(convolution: convolution.using(kernels), activation: activation.using(kernels), clamp: clamp)
    }

    public func outputShape(for inputShape: [Int]) throws(LiftCAMError) -> [Int] { try convolution.outputShape(for: inputShape) }

    public func forward(_ input: Tensor) -> Tensor { convolution.forward(input, clampingTo: clamp) }

    /// Parts: [convolution, activation].
    public func forwardTrace(_ input: Tensor) -> Trace {
        let convolutionTrace = convolution.forwardTrace(input)
        let activationTrace = activation.forwardTrace(convolutionTrace.output)
        return Trace(input: input, output: activationTrace.output, parts: [convolutionTrace, activationTrace])
    }

    public func backward(_ outputMultipliers: Tensor, trace: Trace, reference: Trace?) -> Tensor {
        let beforeActivation = activation.backward(outputMultipliers, trace: trace.parts[1], reference: reference?.parts[1])
        return convolution.backward(beforeActivation, trace: trace.parts[0], reference: reference?.parts[0])
    }
}
