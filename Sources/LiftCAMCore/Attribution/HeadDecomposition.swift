// The structure of a CAM head that makes the map game cheap (Section 3.3) and LIFT-CAM a single
// small backward pass (Eq 7): F = G ∘ Linear₁ ∘ flatten ∘ S, where S (pooling, ReLU, dropout) acts
// on each map alone and sends a zero map to zero. Then Linear₁'s pre-activation is a sum of one
// term per map, z = b + Σ_k P_k with P_k = W₁[:, block k]·S(A_k), and zeroing a map removes its term.

/// A head split into the per-map terms P of its first Linear layer and the rest G.
public struct HeadDecomposition: Sendable {
    /// Pᵀ, `[O₁, K]`: entry (o, k) is P_k[o], map k's term in output o of the first Linear layer.
    /// Stored by output, as `blockwiseLinear` produces it while reading W₁ row by row. (Terms, not
    /// contributions: DeepLIFT's contributions are what LIFT-CAM computes from them.)
    public let termsByOutput: Tensor
    /// b of that Linear layer, `[O₁]` (zeros when it has none): its output when every map is absent.
    public let firstBias: [Float]
    /// G, the layers after that Linear layer (empty when it is the last one, as in a ResNet head).
    public let rest: Sequential
    /// z(A) = b + Σ_k P_k, the first Linear layer's output with every map present, `[O₁]`.
    public let preActivation: [Float]
    /// G's traces at z(A) and at z(0) = b (every map absent, LIFT-CAM's reference), from one pass
    /// over G's weights for both: F(A) is the first's output, and the two are what LIFT-CAM's
    /// backward pass through G needs.
    let trace: Trace, referenceTrace: Trace
    /// When the first Linear layer is the head's last (G empty), the terms of a single class are
    /// all any method needs: `targeted` computes that one row from W₁ and S(A) instead of all O₁.
    private let linearHead: (layer: LinearLayer, pooled: Tensor)?

    /// The decomposition of `head` at the maps `activations` `[K, h, w]`, or nil when the head does
    /// not start with per-map layers, `flatten` and a Linear layer.
    public init?(head: Sequential, activations: Tensor) {
        let layers = head.layers
        let separable = layers.prefix { $0 is MaxPool2dLayer || $0 is AvgPool2dLayer || $0 is AdaptiveAvgPool2dLayer
            || $0 is ReLULayer || $0 is IdentityLayer }
        let flattenIndex = separable.count
        guard flattenIndex + 1 < layers.count, layers[flattenIndex] is FlattenLayer,
              let first = layers[flattenIndex + 1] as? LinearLayer else { return nil }
        let pooled = Sequential(name: "", layers: Array(separable)).forward(activations.batched)  // [1, K, ph, pw]
        let bias = first.bias?.storage ?? [Float](repeating: 0, count: first.weight.shape[0])
        let others = Sequential(name: "", layers: Array(layers[(flattenIndex + 2)...]))
        if others.layers.isEmpty {
            // A linear head: its output is one product; terms are made per class on demand.
            let z = first.forward(pooled.reshaped([1, pooled.count])).storage
            self.init(termsByOutput: Tensor(shape: [0, activations.shape[0]]), firstBias: bias, rest: others, preActivation: z,
                      linearHead: (first, pooled))
        } else {
            let termsByOutput = blockwiseLinear(weight: first.weight, input: pooled, blocks: activations.shape[0])
            self.init(termsByOutput: termsByOutput, firstBias: bias, rest: others, preActivation: Self.rowSums(termsByOutput, plus: bias),
                      linearHead: nil)
        }
    }

    private init(termsByOutput: Tensor, firstBias: [Float], rest: Sequential, preActivation: [Float],
                 linearHead: (layer: LinearLayer, pooled: Tensor)?) {
        let outputs = firstBias.count
        let both = rest.forwardTrace(Tensor(shape: [2, outputs], storage: preActivation + firstBias))
        self.init(termsByOutput: termsByOutput, firstBias: firstBias, rest: rest, preActivation: preActivation,
                  trace: both.item(0, of: 2), referenceTrace: both.item(1, of: 2), linearHead: linearHead)
    }

    private init(termsByOutput: Tensor, firstBias: [Float], rest: Sequential, preActivation: [Float],
                 trace: Trace, referenceTrace: Trace, linearHead: (layer: LinearLayer, pooled: Tensor)?) {
        (self.termsByOutput, self.firstBias, self.rest) = (termsByOutput, firstBias, rest)
        (self.preActivation, self.trace, self.referenceTrace) = (preActivation, trace, referenceTrace)
        self.linearHead = linearHead
    }

    /// b[o] + Σ_k Pᵀ[o, k].
    private static func rowSums(_ termsByOutput: Tensor, plus bias: [Float]) -> [Float] {
        let k = termsByOutput.shape[1]
        var z = bias
        termsByOutput.storage.withUnsafeBufferPointer { rows in
            for o in bias.indices { z[o] += sumOfFloats(rows.baseAddress! + o * k, count: k) }
        }
        return z
    }

    /// Number of maps K.
    public var mapCount: Int { termsByOutput.shape[1] }

    /// F(A), the head's output: G(z(A)).
    public var outputs: [Float] { trace.output.storage }

    /// Whether the head has one output, F^c, as after `targeted`.
    public var isTargeted: Bool { linearHead == nil && trace.output.count == 1 }

    /// P, `[K, O₁]`: the same terms by map (row k is P_k), as the map game's sums take them.
    public var termsByMap: Tensor { transposed(termsByOutput) }

    /// The decomposition of the head cut to class c (`targetHead`): G's last Linear layer keeps row
    /// c, or, when the first Linear layer is the last, P and b keep column c. G's traces are kept,
    /// with the last layer's output cut to class c (a Linear layer's backward pass reads only its
    /// weight, so nothing else changes).
    public func targeted(_ target: Int) -> HeadDecomposition {
        if let (layer, pooled) = linearHead {
            let inputs = layer.weight.shape[1]
            let row = Tensor(shape: [1, inputs], storage: Array(layer.weight.storage[target * inputs ..< (target + 1) * inputs]))
            return HeadDecomposition(termsByOutput: blockwiseLinear(weight: row, input: pooled, blocks: mapCount),
                                     firstBias: [firstBias[target]], rest: rest, preActivation: [preActivation[target]],
                                     linearHead: nil)
        }
        guard !rest.layers.isEmpty else { return self }   // already cut to one class
        return HeadDecomposition(termsByOutput: termsByOutput, firstBias: firstBias, rest: targetHead(rest, target: target),
                                 preActivation: preActivation, trace: Self.cutToClass(trace, target),
                                 referenceTrace: Self.cutToClass(referenceTrace, target), linearHead: nil)
    }

    /// A trace of G (one item) whose last layer's output, and so G's output, keeps only class c.
    private static func cutToClass(_ trace: Trace, _ target: Int) -> Trace {
        let value = Tensor(shape: [1, 1], storage: [trace.output.storage[target]])
        var parts = trace.parts
        parts[parts.count - 1].output = value
        return Trace(input: trace.input, output: value, parts: parts)
    }

    /// Eq 7 for a head already `targeted` at c: α_k^lift = Σ_o m_o · P[k, o], where m = ∂^Rescale F^c /
    /// ∂z is the DeepLIFT-Rescale multiplier of the first Linear layer's output against the zero
    /// reference, from one backward pass through G alone.
    ///
    /// This is `liftCAMCoefficients` evaluated in another order, not an approximation: with every
    /// reference activation 0, S maps the reference to 0 and z to b, the Linear layer passes
    /// multipliers back as Wᵀm, and the per-map layers S keep the sum of contributions within each
    /// map (summation-to-delta per pooling window and per ReLU neuron), so map k's total is
    /// Σ_o m_o · (W₁[:, block k]·S(A_k))_o = Σ_o m_o P[k, o]. The tests compare both on many heads.
    public func liftCoefficients() -> [Float] {
        precondition(isTargeted, "liftCoefficients needs a decomposition targeted at one class (`targeted`)")
        let outputs = firstBias.count, k = mapCount
        var multipliers = [Float](repeating: 1, count: outputs)
        if !rest.layers.isEmpty {
            multipliers = rest.backward(Tensor(shape: [1, 1], repeating: 1), trace: trace, reference: referenceTrace).storage
        }
        // α_k = Σ_o m_o · P_k[o]: for each output o, add m_o times row o of Pᵀ (its K terms) to α.
        var alpha = [Float](repeating: 0, count: k)
        termsByOutput.storage.withUnsafeBufferPointer { p in
            alpha.withUnsafeMutableBufferPointer { a in
                for o in 0..<outputs where multipliers[o] != 0 {
                    addScaled(p.baseAddress! + o * k, scale: multipliers[o], into: a.baseAddress!, count: k)
                }
            }
        }
        return alpha
    }
}
