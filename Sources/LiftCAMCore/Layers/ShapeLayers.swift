// Layers that only average or rearrange values: linear, so gradient and DeepLIFT multiplier agree.

/// torch.nn.AdaptiveAvgPool2d: `[N, C, H, W]` → `[N, C, oh, ow]` with torchvision's bins.
public final class AdaptiveAvgPool2dLayer: Layer {
    public let name: String
    /// Rows of the output plane.
    public let outputHeight: Int
    /// Columns of the output plane.
    public let outputWidth: Int
    /// The kernels it runs: the fast ones or the naive twins (`KernelChoice`).
    public let kernels: KernelChoice

    /// torch.nn.AdaptiveAvgPool2d((outputHeight, outputWidth)) named `name`.
    public init(name: String, outputHeight: Int, outputWidth: Int, kernels: KernelChoice = .fast) {
        self.name = name
        self.outputHeight = outputHeight
        self.outputWidth = outputWidth
        self.kernels = kernels
    }

    public func using(_ kernels: KernelChoice) -> AdaptiveAvgPool2dLayer {
        AdaptiveAvgPool2dLayer(name: name, outputHeight: outputHeight, outputWidth: outputWidth, kernels: kernels)
    }

    public func outputShape(for inputShape: [Int]) throws(LiftCAMError) -> [Int] {
        guard inputShape.count == 3, inputShape[1] >= 1, inputShape[2] >= 1 else {
            throw LiftCAMError("\(name): expects [C, H, W] input, got \(inputShape)")
        }
        return [inputShape[0], outputHeight, outputWidth]
    }

    public func forward(_ input: Tensor) -> Tensor {
        kernels == .literal ? adaptiveAvgPool2dNaive(input, outputHeight: outputHeight, outputWidth: outputWidth)
            : adaptiveAvgPool2d(input, outputHeight: outputHeight, outputWidth: outputWidth)
    }

    public func backward(_ outputMultipliers: Tensor, trace: Trace, reference: Trace?) -> Tensor {
        kernels == .literal ? adaptiveAvgPool2dBackwardNaive(outputMultipliers, inputShape: trace.input.shape)
            : adaptiveAvgPool2dBackward(outputMultipliers, inputShape: trace.input.shape)
    }
}

/// torch.nn.AvgPool2d with PyTorch's defaults (count_include_pad = true).
public final class AvgPool2dLayer: Layer {
    public let name: String
    /// Window, stride, padding and ceil mode.
    public let geometry: Pool2dShape
    /// The kernels it runs: the fast ones or the naive twins (`KernelChoice`).
    public let kernels: KernelChoice

    /// An average pool named `name` (its module path).
    public init(name: String, geometry: Pool2dShape, kernels: KernelChoice = .fast) {
        self.name = name
        self.geometry = geometry
        self.kernels = kernels
    }

    public func using(_ kernels: KernelChoice) -> AvgPool2dLayer { AvgPool2dLayer(name: name, geometry: geometry, kernels: kernels) }

    public func outputShape(for inputShape: [Int]) throws(LiftCAMError) -> [Int] {
        try pooledShape(name: name, geometry: geometry, inputShape: inputShape)
    }

    public func forward(_ input: Tensor) -> Tensor {
        kernels == .literal ? avgPool2dNaive(input, shape: geometry) : avgPool2d(input, shape: geometry)
    }

    public func backward(_ outputMultipliers: Tensor, trace: Trace, reference: Trace?) -> Tensor {
        kernels == .literal ? avgPool2dBackwardNaive(outputMultipliers, shape: geometry, inputShape: trace.input.shape)
            : avgPool2dBackward(outputMultipliers, shape: geometry, inputShape: trace.input.shape)
    }
}

/// torch.flatten(x, 1): `[N, C, H, W]` → `[N, C·H·W]`.
public final class FlattenLayer: Layer {
    public let name: String

    /// A flatten named `name` (its module path).
    public init(name: String) { self.name = name }

    /// No arithmetic, so nothing to choose: the same layer whatever the kernels.
    public func using(_ kernels: KernelChoice) -> FlattenLayer { self }

    public func outputShape(for inputShape: [Int]) throws(LiftCAMError) -> [Int] { [inputShape.product] }

    public func forward(_ input: Tensor) -> Tensor {
        input.reshaped([input.shape[0], input.count / max(input.shape[0], 1)])
    }

    public func backward(_ outputMultipliers: Tensor, trace: Trace, reference: Trace?) -> Tensor {
        outputMultipliers.reshaped(trace.input.shape)
    }
}

/// Dropout in evaluation mode: the identity. Kept as a layer so module indices match PyTorch's.
public final class IdentityLayer: Layer {
    public let name: String

    /// The identity, named `name` (its module path).
    public init(name: String) { self.name = name }

    public func using(_ kernels: KernelChoice) -> IdentityLayer { self }
    public func outputShape(for inputShape: [Int]) throws(LiftCAMError) -> [Int] { inputShape }
    public func forward(_ input: Tensor) -> Tensor { input }
    public func backward(_ outputMultipliers: Tensor, trace: Trace, reference: Trace?) -> Tensor {
        outputMultipliers
    }
}

/// The output shape of a max or average pool, or an error naming the layer.
func pooledShape(name: String, geometry: Pool2dShape, inputShape: [Int]) throws(LiftCAMError) -> [Int] {
    guard inputShape.count == 3 else {
        throw LiftCAMError("\(name): expects [C, H, W] input, got \(inputShape)")
    }
    let size = geometry.outputSize(height: inputShape[1], width: inputShape[2])
    guard size.height >= 1, size.width >= 1 else {
        throw LiftCAMError("\(name): input \(inputShape) is smaller than the \(geometry.kernelHeight)x\(geometry.kernelWidth) pooling window")
    }
    return [inputShape[0], size.height, size.width]
}
