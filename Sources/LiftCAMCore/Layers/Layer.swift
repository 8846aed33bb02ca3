/// What a layer's forward pass leaves behind for its backward passes.
///
/// Simple layers keep their input and output; composite layers (a residual block, a graph) keep the
/// traces of their parts in `parts`; max-pool keeps the position of each window's maximum in
/// `argmax`; graph operations with several inputs (a sum, a product) keep all of them in `operands`.
public struct Trace: Sendable {
    /// The layer's input x (for a composite layer, its first part's).
    public var input: Tensor
    /// The layer's output y.
    public var output: Tensor
    /// The traces of the parts of a composite layer, in order; empty for a simple layer.
    public var parts: [Trace] = []
    /// For max-pooling: the flat input index of each window's maximum, per output element.
    public var argmax: [Int32] = []
    /// For a graph operation with several inputs: every input, in order (`input` is the first).
    public var operands: [Tensor] = []

    /// A trace from its parts.
    public init(input: Tensor, output: Tensor, parts: [Trace] = [], argmax: [Int32] = [], operands: [Tensor] = []) {
        self.input = input
        self.output = output
        self.parts = parts
        self.argmax = argmax
        self.operands = operands
    }
}

extension Trace {
    /// The trace of item `n` of a forward pass over a batch of `batch` items: every tensor's
    /// `n`-th item (kept as a batch of one), and the `n`-th equal share of `argmax`.
    public func item(_ n: Int, of batch: Int) -> Trace {
        let share = argmax.count / max(batch, 1)
        return Trace(input: input.item(n).batched, output: output.item(n).batched,
                     parts: parts.map { $0.item(n, of: batch) },
                     argmax: share == 0 ? [] : Array(argmax[n * share ..< (n + 1) * share]),
                     operands: operands.map { $0.item(n).batched })
    }
}

/// One module of a network, named as in the PyTorch state dict ("features.0", "layer4.1", "fc").
///
/// Three passes go through every layer (ARCHITECTURE.md, "Three passes through one layer"):
/// - `forward` maps a batch `[N, ...]` to a batch;
/// - `backward(_:trace:reference:)` with `reference == nil` is the chain rule: it maps ∂F/∂y to ∂F/∂x;
/// - the same call with the forward trace of a reference input is DeepLIFT-Rescale (Shrikumar et al.
///   2017): it maps multipliers m_Δy to m_Δx. Linear layers ignore the reference (their multiplier is
///   their transpose, exactly as the gradient); nonlinear layers replace the local derivative dy/dx by
///   Δy/Δx between the input and the reference, which is what makes Eq 4 (summation-to-delta) hold.
public protocol Layer: AnyObject, Sendable {
    /// The module path in the state dict.
    var name: String { get }
    /// The shape of one output item for one input item of `inputShape` (both without the batch
    /// dimension), or an error naming the layer when the input does not fit.
    func outputShape(for inputShape: [Int]) throws(LiftCAMError) -> [Int]
    /// Forward pass on a batch.
    func forward(_ input: Tensor) -> Tensor
    /// Forward pass keeping what the backward pass needs.
    func forwardTrace(_ input: Tensor) -> Trace
    /// Gradient (reference nil) or Rescale multipliers (reference given) of the input, from those of
    /// the output. `trace` and `reference` come from `forwardTrace` of the same layer.
    func backward(_ outputMultipliers: Tensor, trace: Trace, reference: Trace?) -> Tensor
    /// The same layer, with the same weights, running `kernels` (composite layers: all their parts).
    func using(_ kernels: KernelChoice) -> Self
}

extension Layer {
    public func forwardTrace(_ input: Tensor) -> Trace {
        Trace(input: input, output: forward(input))
    }
}
