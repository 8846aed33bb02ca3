// The two other attribution methods the official LIFT-CAM code offers on the head: LRP-CAM and
// LIME-CAM. Like LIFT-CAM, each attributes F^c to the activation neurons, and α_k is the total of
// map k (the paper's supplementary comparison of approximation methods).

/// The stabiliser of the LRP-ε rule, Captum's default (1e-9): it only keeps z = 0 from dividing.
public let lrpEpsilon: Float = 1e-9

/// LRP-CAM: α_k = Σ_{(i,j)} R(A_k(i,j)), the layer-wise relevance (Bach et al. 2015) of each neuron,
/// propagated from R = F^c(A) at the output with the ε-rule at every linear layer, convolution,
/// batch-norm and pooling (R_x = x ⊙ Wᵀ(R_z / (z + ε·sign z)), as Captum's default rules), ReLU and
/// dropout passing relevance through unchanged, and a residual sum splitting it in proportion to its
/// two terms. For a ReLU head without biases this equals input × gradient (Ancona et al. 2018),
/// i.e. XGrad-CAM (Eq 10), as Section 3.5 recalls.
public func lrpCAMCoefficients(head: Sequential, activations: Tensor) -> [Float] {
    let trace = head.forwardTrace(activations.batched)
    let relevance = lrpBackward(head, relevance: trace.output, trace: trace)
    return sumPerMap(relevance.reshaped(activations.shape))
}

/// Relevance of a layer's input from the relevance of its output.
func lrpBackward(_ layer: any Layer, relevance: Tensor, trace: Trace) -> Tensor {
    switch layer {
    case let sequence as Sequential:
        var r = relevance
        for index in sequence.layers.indices.reversed() {
            r = lrpBackward(sequence.layers[index], relevance: r, trace: trace.parts[index])
        }
        return r
    case let block as ResidualBlock:
        // Through the final ReLU unchanged, then split between the two addends by their share of
        // the sum, and down each path.
        let sum = trace.parts[2].input
        let branchOut = trace.parts[0].output, shortcutOut = trace.parts[1].output
        var toBranch = relevance, toShortcut = relevance
        for i in 0..<relevance.count {
            let z = sum.storage[i]
            let share = relevance.storage[i] / (z + (z >= 0 ? lrpEpsilon : -lrpEpsilon))
            toBranch.storage[i] = share * branchOut.storage[i]
            toShortcut.storage[i] = share * shortcutOut.storage[i]
        }
        let throughBranch = lrpBackward(block.branch, relevance: toBranch, trace: trace.parts[0])
        let throughShortcut = block.downsample.map { lrpBackward($0, relevance: toShortcut, trace: trace.parts[1]) } ?? toShortcut
        return add(throughBranch, throughShortcut, kernels: block.kernels)
    case let graph as GraphLayer:
        return lrpBackward(graph, relevance: relevance, trace: trace)
    case is ReLULayer, is IdentityLayer, is ElementwiseLayer:
        // Elementwise activations pass relevance on unchanged, as ReLU does in LRP.
        return relevance
    case is FlattenLayer:
        return relevance.reshaped(trace.input.shape)
    default:
        // ε-rule for every layer that is linear in its input (max-pool included: its "weights" are
        // the selection of the maximum, so the relevance goes to the arg-max).
        var ratio = relevance
        for i in 0..<ratio.count {
            let z = trace.output.storage[i]
            ratio.storage[i] /= z + (z >= 0 ? lrpEpsilon : -lrpEpsilon)
        }
        var r = layer.backward(ratio, trace: trace, reference: nil)
        for i in 0..<r.count { r.storage[i] *= trace.input.storage[i] }
        return r
    }
}

/// LIME-CAM: a sparse linear surrogate of the map game (Ribeiro et al. 2016), fitted as the official
/// code does through Captum's Lime: `samples` random coalitions a' (each map present with
/// probability ½), weighted by exp(−d²) with d the cosine distance between A and h_A(a'), and a
/// weighted Lasso (sklearn's objective, regularisation `lassoAlpha` = 0.01, with intercept) from a' to
/// F^c(h_A(a')). α are the fitted slopes.
public func limeCAMCoefficients(game: MapGame, samples: Int, seed: UInt64, lassoAlpha: Double = 0.01) -> [Float] {
    let k = game.playerCount
    var generator = SplitMix64(seed: seed)
    var masks = Tensor(shape: [samples, k])
    for i in 0..<masks.count { masks.storage[i] = generator.next() >> 63 == 1 ? 1 : 0 }
    let values = game.values(masks: masks).map(Double.init)
    // cos(A, h_A(a')) = Σ_{k ∈ a'} ‖A_k‖² / (‖A‖ · √(Σ_{k ∈ a'} ‖A_k‖²)).
    let plane = game.activations.count / max(k, 1)
    let mapNorms: [Double] = (0..<k).map { map in
        (0..<plane).reduce(0) { $0 + Double(game.activations.storage[map * plane + $1]) * Double(game.activations.storage[map * plane + $1]) }
    }
    let total = mapNorms.reduce(0, +)
    let weights: [Double] = (0..<samples).map { n in
        let kept = (0..<k).reduce(0.0) { $0 + (masks.storage[n * k + $1] != 0 ? mapNorms[$1] : 0) }
        let cosine = kept > 0 && total > 0 ? kept / (total.squareRoot() * kept.squareRoot()) : 0
        let distance = 1 - cosine
        return Elementary.exp(-distance * distance)
    }
    let design = (0..<samples).map { n in (0..<k).map { Double(masks.storage[n * k + $0]) } }
    return weightedLasso(design: design, targets: values, weights: weights, alpha: lassoAlpha).map(Float.init)
}

/// Minimises (1 / (2 Σw)) Σ_i w_i (y_i − b − x_i·β)² + α ‖β‖₁ over β and the intercept b, by cyclic
/// coordinate descent on weight-centred data (as scikit-learn's Lasso with sample weights).
func weightedLasso(design x: [[Double]], targets y: [Double], weights w: [Double], alpha: Double,
                   iterations: Int = 1000, tolerance: Double = 1e-6) -> [Double] {
    let n = x.count, p = x.first?.count ?? 0
    let weightSum = w.reduce(0, +)
    guard n > 0, p > 0, weightSum > 0 else { return [Double](repeating: 0, count: p) }
    let meanX = (0..<p).map { j in (0..<n).reduce(0) { $0 + w[$1] * x[$1][j] } / weightSum }
    let meanY = (0..<n).reduce(0) { $0 + w[$1] * y[$1] } / weightSum
    let xc = (0..<n).map { i in (0..<p).map { x[i][$0] - meanX[$0] } }
    var residual = (0..<n).map { y[$0] - meanY }
    let columnNorm = (0..<p).map { j in (0..<n).reduce(0) { $0 + w[$1] * xc[$1][j] * xc[$1][j] } / weightSum }
    var beta = [Double](repeating: 0, count: p)
    for _ in 0..<iterations {
        var largestStep = 0.0
        for j in 0..<p where columnNorm[j] > 0 {
            var rho = 0.0
            for i in 0..<n { rho += w[i] * xc[i][j] * residual[i] }
            rho = rho / weightSum + columnNorm[j] * beta[j]
            let updated = (rho > alpha ? rho - alpha : rho < -alpha ? rho + alpha : 0) / columnNorm[j]
            let step = updated - beta[j]
            if step != 0 {
                for i in 0..<n { residual[i] -= step * xc[i][j] }
                beta[j] = updated
                largestStep = max(largestStep, abs(step))
            }
        }
        if largestStep < tolerance { break }
    }
    return beta
}

/// LRP through a graph: the steps in reverse, relevance per tensor summed over its readers. A sum
/// splits relevance by each addend's share (as the residual block above); a product gives it all to
/// the signal and none to the gate (the operand broadcast over the other, as squeeze-and-excitation's
/// channel weights: Arras et al. 2017's "signal-take-all"), or half to each when neither is
/// broadcast; joins and splits move it without change.
private func lrpBackward(_ graph: GraphLayer, relevance: Tensor, trace: Trace) -> Tensor {
    var relevances = [Tensor?](repeating: nil, count: graph.slotNames.count)
    relevances[graph.outputSlot] = relevance
    for index in graph.steps.indices.reversed() {
        let step = graph.steps[index], part = trace.parts[index]
        let incoming = step.outputs.map { relevances[$0] }
        guard incoming.contains(where: { $0 != nil }) else { continue }
        var outgoing: [Tensor]
        switch step.operation {
        case let operation as LayerOperation:
            outgoing = [lrpBackward(operation.layer, relevance: incoming[0] ?? Tensor(shape: part.output.shape), trace: part)]
        case is SumOperation:
            let r = incoming[0]!
            outgoing = part.operands.map { addend in
                sumBroadcastShares(r, sum: part.output, addend: addend)
            }
        case is ProductOperation:
            let r = incoming[0]!
            let (x, y) = (part.operands[0], part.operands[1])
            if x.shape == y.shape {
                let half = Tensor(shape: r.shape, storage: r.storage.map { $0 / 2 })
                outgoing = [half, half]
            } else {
                let xIsSignal = x.count >= y.count
                outgoing = xIsSignal ? [sumBroadcast(r, to: x.shape), Tensor(shape: y.shape)]
                                     : [Tensor(shape: x.shape), sumBroadcast(r, to: y.shape)]
            }
        default:
            outgoing = step.operation.backward(incoming, trace: part, reference: nil)
        }
        for (slot, r) in zip(step.inputs, outgoing) {
            if let existing = relevances[slot] { relevances[slot] = add(existing, r) } else { relevances[slot] = r }
        }
    }
    return relevances[graph.inputSlot] ?? Tensor(shape: trace.input.shape)
}

/// The relevance an addend receives from a sum: r · addend / (sum ± ε), summed back over the
/// dimensions the addend was broadcast along.
private func sumBroadcastShares(_ r: Tensor, sum: Tensor, addend: Tensor) -> Tensor {
    let stretched = addend.shape == sum.shape ? addend : broadcastBinary(addend, sum, outputShape: sum.shape) { a, _ in a }
    var share = r
    for i in 0..<share.count {
        let z = sum.storage[i]
        share.storage[i] *= stretched.storage[i] / (z + (z >= 0 ? lrpEpsilon : -lrpEpsilon))
    }
    return sumBroadcast(share, to: addend.shape)
}
