// The two nonlinear layers of VGG and ResNet. Their backward pass is where the gradient and
// DeepLIFT-Rescale part: the chain rule uses dy/dx at the input, Rescale uses Δy/Δx between the
// input and the reference (Shrikumar et al. 2017, §3.5.1), which is what makes the contributions
// add up to Δoutput (Eq 4).

/// Below this |x − r| the Rescale multiplier Δy/Δx is numerically meaningless, and the gradient at x
/// is used instead, as Captum's DeepLift does (its `eps` of 1e-10).
public let rescaleEpsilon: Float = 1e-10

/// torch.nn.ReLU.
public final class ReLULayer: Layer {
    public let name: String
    /// The kernels it runs: the fast ones or the naive twins (`KernelChoice`).
    public let kernels: KernelChoice

    /// A ReLU named `name` (its module path).
    public init(name: String, kernels: KernelChoice = .fast) {
        self.name = name
        self.kernels = kernels
    }

    public func using(_ kernels: KernelChoice) -> ReLULayer { ReLULayer(name: name, kernels: kernels) }

    public func outputShape(for inputShape: [Int]) throws(LiftCAMError) -> [Int] { inputShape }

    public func forward(_ input: Tensor) -> Tensor { kernels == .literal ? reluNaive(input) : relu(input) }

    /// Gradient: m·1[x > 0] (PyTorch's derivative at 0 is 0).
    /// Rescale: m·(relu(x) − relu(r))/(x − r), or the gradient where |x − r| < `rescaleEpsilon`.
    /// One plain loop, the same for both kernel choices.
    public func backward(_ outputMultipliers: Tensor, trace: Trace, reference: Trace?) -> Tensor {
        var result = outputMultipliers
        let count = result.count
        result.storage.withUnsafeMutableBufferPointer { m in
            trace.input.storage.withUnsafeBufferPointer { x in
                guard let reference else {
                    for i in 0..<count where !(x[i] > 0) { m[i] = 0 }
                    return
                }
                trace.output.storage.withUnsafeBufferPointer { y in
                    reference.input.storage.withUnsafeBufferPointer { r in
                        reference.output.storage.withUnsafeBufferPointer { yr in
                            for i in 0..<count {
                                let deltaIn = x[i] - r[i]
                                if abs(deltaIn) < rescaleEpsilon {
                                    if !(x[i] > 0) { m[i] = 0 }
                                } else {
                                    m[i] *= (y[i] - yr[i]) / deltaIn
                                }
                            }
                        }
                    }
                }
            }
        }
        return result
    }
}

/// torch.nn.MaxPool2d.
public final class MaxPool2dLayer: Layer {
    public let name: String
    /// Window, stride, padding and ceil mode.
    public let geometry: Pool2dShape
    /// The kernels it runs: the fast ones or the naive twins (`KernelChoice`).
    public let kernels: KernelChoice

    /// A max-pool named `name` (its module path).
    public init(name: String, geometry: Pool2dShape, kernels: KernelChoice = .fast) {
        self.name = name
        self.geometry = geometry
        self.kernels = kernels
    }

    public func using(_ kernels: KernelChoice) -> MaxPool2dLayer { MaxPool2dLayer(name: name, geometry: geometry, kernels: kernels) }

    public func outputShape(for inputShape: [Int]) throws(LiftCAMError) -> [Int] {
        try pooledShape(name: name, geometry: geometry, inputShape: inputShape)
    }

    /// The values alone: no argmax to keep when nothing will walk back through the pool.
    public func forward(_ input: Tensor) -> Tensor {
        kernels == .literal ? maxPool2dNaive(input, shape: geometry).output : maxPool2dValues(input, shape: geometry)
    }

    public func forwardTrace(_ input: Tensor) -> Trace {
        let (output, argmax) = pooled(input)
        return Trace(input: input, output: output, argmax: argmax)
    }

    private func pooled(_ input: Tensor) -> (output: Tensor, argmax: [Int32]) {
        kernels == .literal ? maxPool2dNaive(input, shape: geometry) : maxPool2d(input, shape: geometry)
    }

    /// Each output's multiplier sent to the input position of its window's maximum.
    private func routed(_ multipliers: Tensor, argmax: [Int32], inputShape: [Int]) -> Tensor {
        kernels == .literal ? maxPool2dBackwardNaive(multipliers, argmax: argmax, inputShape: inputShape)
            : maxPool2dBackward(multipliers, argmax: argmax, inputShape: inputShape)
    }

    /// Gradient: each output's multiplier goes to the position of its window's maximum.
    ///
    /// Rescale follows Captum's max-pool rule, which keeps Eq 4 exact even where the maximum of the
    /// input and of the reference sit at different positions. With y, y_r the pooled outputs and
    /// ŷ = max(y, y_r) elementwise, it sends m·(ŷ − y_r) to the input's arg-max positions and
    /// m·(y − ŷ) to the reference's, adds the two, and divides by Δx = x − r; where |Δx| is below
    /// `rescaleEpsilon` the gradient is used. Per window the two parts add to m·(y − y_r) = m·Δy.
    public func backward(_ outputMultipliers: Tensor, trace: Trace, reference: Trace?) -> Tensor {
        let inputShape = trace.input.shape
        let gradient = routed(outputMultipliers, argmax: trace.argmax, inputShape: inputShape)
        guard let reference else { return gradient }

        var towardInput = outputMultipliers      // m·(ŷ − y_r), routed by the input's arg-max
        var towardReference = outputMultipliers  // m·(y − ŷ), routed by the reference's arg-max
        for i in 0..<outputMultipliers.count {
            let y = trace.output.storage[i], yr = reference.output.storage[i]
            let upper = max(y, yr)
            towardInput.storage[i] *= upper - yr
            towardReference.storage[i] *= y - upper
        }
        let deltaOut = add(routed(towardInput, argmax: trace.argmax, inputShape: inputShape),
                           routed(towardReference, argmax: reference.argmax, inputShape: inputShape), kernels: kernels)
        var result = gradient
        for i in 0..<result.count {
            let deltaIn = trace.input.storage[i] - reference.input.storage[i]
            if abs(deltaIn) >= rescaleEpsilon { result.storage[i] = deltaOut.storage[i] / deltaIn }
        }
        return result
    }
}
