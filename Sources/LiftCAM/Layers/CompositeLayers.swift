// Layers made of layers: a chain (torch.nn.Sequential) and ResNet's residual block.

/// Layers applied one after another. Its trace keeps one trace per layer, so its backward pass can
/// walk them in reverse: the chain rule for gradients, and DeepLIFT's chain rule for multipliers.
public struct Sequential: Layer {
    public let name: String
    public let layers: [any Layer]

    public init(name: String, layers: [any Layer]) {
        self.name = name
        self.layers = layers
    }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        try layers.reduce(inputShape) { shape, layer in try layer.outputShape(for: shape) }
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
    public func fused() -> Sequential {
        var result: [any Layer] = []
        for layer in layers {
            if let affine = layer as? ChannelAffineLayer, let conv = result.last as? Conv2dLayer {
                let folded = foldChannelAffine(intoWeight: conv.weight, bias: conv.bias,
                                               scale: affine.scale, shift: affine.shift)
                result[result.count - 1] = Conv2dLayer(name: conv.name, weight: folded.weight,
                                                       bias: folded.bias, geometry: conv.geometry)
            } else if let block = layer as? ResidualBlock {
                result.append(block.fused())
            } else {
                result.append(layer)
            }
        }
        return Sequential(name: name, layers: result)
    }
}

/// A torchvision ResNet block (BasicBlock or Bottleneck): relu(branch(x) + shortcut(x)), where the
/// shortcut is the identity or `downsample` (a strided 1×1 convolution and batch-norm).
///
/// The addition is linear, so both paths receive the output multipliers unchanged and their input
/// multipliers add; only the ReLUs (inside the branch and the final one) use Rescale.
public struct ResidualBlock: Layer {
    public let name: String
    public let branch: Sequential
    public let downsample: Sequential?
    public let finalReLU: ReLULayer

    public init(name: String, branch: Sequential, downsample: Sequential?) {
        self.name = name
        self.branch = branch
        self.downsample = downsample
        self.finalReLU = ReLULayer(name: name + ".relu")
    }

    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        let main = try branch.outputShape(for: inputShape)
        let shortcut = try downsample?.outputShape(for: inputShape) ?? inputShape
        guard main == shortcut else {
            throw LiftCAMError("\(name): branch gives \(main) but the shortcut gives \(shortcut)")
        }
        return main
    }

    public func forward(_ input: Tensor) -> Tensor {
        let shortcut = downsample?.forward(input) ?? input
        return relu(add(branch.forward(input), shortcut))
    }

    /// Parts: [branch, shortcut (downsample or identity), final ReLU].
    public func forwardTrace(_ input: Tensor) -> Trace {
        let branchTrace = branch.forwardTrace(input)
        let shortcutTrace = downsample?.forwardTrace(input) ?? Trace(input: input, output: input)
        let reluTrace = finalReLU.forwardTrace(add(branchTrace.output, shortcutTrace.output))
        return Trace(input: input, output: reluTrace.output, parts: [branchTrace, shortcutTrace, reluTrace])
    }

    public func backward(_ outputMultipliers: Tensor, trace: Trace, reference: Trace?) -> Tensor {
        let sum = finalReLU.backward(outputMultipliers, trace: trace.parts[2], reference: reference?.parts[2])
        let throughBranch = branch.backward(sum, trace: trace.parts[0], reference: reference?.parts[0])
        let throughShortcut = downsample?.backward(sum, trace: trace.parts[1], reference: reference?.parts[1]) ?? sum
        return add(throughBranch, throughShortcut)
    }

    func fused() -> ResidualBlock {
        ResidualBlock(name: name, branch: branch.fused(), downsample: downsample?.fused())
    }
}
