// Section 3.3: the cooperative game whose players are the activation maps. A coalition a' ∈ {0,1}^K
// keeps the maps it contains and zeroes the others (h_A), and is worth v(a') = F^c(h_A(a')).
// Ablation-CAM (Eq 9), SHAP-CAM (Algorithm 1), exact SHAP (Eq 6) and LIME-CAM all ask for many
// values of this game, so it is computed in batches, and with a shortcut where the head allows.

/// The head F cut down to class c, so it outputs F^c alone (`[N, 1]`): its last Linear layer keeps
/// the row of class c (the same number for a thousandth of the last layer's work); a head that ends
/// otherwise (a SqueezeNet's pooling, a graph) gets a `ClassSelectionLayer` after it.
public func targetHead(_ head: Sequential, target: Int) -> Sequential {
    guard let last = head.layers.last as? LinearLayer else {
        return Sequential(name: head.name, layers: head.layers + [ClassSelectionLayer(target: target)])
    }
    let inputs = last.weight.shape[1]
    let row = Tensor(shape: [1, inputs], storage: Array(last.weight.storage[target * inputs ..< (target + 1) * inputs]))
    let bias = last.bias.map { Tensor(shape: [1], storage: [$0.storage[target]]) }
    return Sequential(name: head.name, layers: head.layers.dropLast() + [LinearLayer(name: last.name, weight: row, bias: bias, kernels: last.kernels)])
}

/// Whether `head` outputs one number per item (F^c), as after `targetHead`.
func outputsOneClass(_ head: Sequential) -> Bool {
    if let linear = head.layers.last as? LinearLayer { return linear.weight.shape[0] == 1 }
    return head.layers.last is ClassSelectionLayer
}

/// v(a') = F^c(h_A(a')) for batches of coalitions.
///
/// The shortcut (`HeadDecomposition`): the head's first layers up to `flatten` (max-pool, average
/// pools, ReLU, dropout) act on each map separately and send a zero map to zero, so they commute with
/// zeroing maps and run once on the whole A. The Linear layer after `flatten` is then a sum of one
/// term per map, P_k = W[:, block k]·pooled(A_k), so its pre-activation for a coalition is
/// b + Σ_{k ∈ a'} P_k: a K-term sum instead of a K·h·w-wide product. Only the rest of the head runs
/// per coalition. The generic path (zero the maps, run the whole head) is kept as the reference it
/// is tested against.
public struct MapGame: Sendable {
    /// A, `[K, h, w]`: the players' full maps.
    public let activations: Tensor
    /// F^c, the head cut to the explained class (output `[N, 1]`).
    public let head: Sequential
    let decomposition: HeadDecomposition?   // of F^c; nil on the generic path
    let termsByMap: Tensor?                 // its P, [K, O₁], one row per map for the running sums

    /// The game for maps `activations` `[K, h, w]` and head `head` (already cut to the target with
    /// `targetHead`). `useShortcut: false` forces the generic path.
    public init(activations: Tensor, head: Sequential, useShortcut: Bool = true) {
        precondition(outputsOneClass(head),
                     "the map game's head must output F^c alone: cut it with targetHead first")
        // The head has one output already, so its decomposition is the one targeted at class 0.
        let decomposition = useShortcut ? HeadDecomposition(head: head, activations: activations)?.targeted(0) : nil
        self.init(activations: activations, head: head, decompositionIfAny: decomposition)
    }

    /// The game for a head whose decomposition at these maps is already known (`targeted` at the
    /// same class as `head`): saves the pass over the first Linear layer's weights.
    public init(activations: Tensor, head: Sequential, decomposition: HeadDecomposition) {
        precondition(decomposition.mapCount == activations.shape[0], "decomposition of \(decomposition.mapCount) maps for \(activations.shape)")
        precondition(decomposition.isTargeted, "the map game needs the decomposition targeted at the head's class")
        self.init(activations: activations, head: head, decompositionIfAny: decomposition)
    }

    private init(activations: Tensor, head: Sequential, decompositionIfAny decomposition: HeadDecomposition?) {
        self.activations = activations
        self.head = head
        self.decomposition = decomposition
        termsByMap = decomposition?.termsByMap
    }

    /// Number of players (maps).
    public var playerCount: Int { activations.shape[0] }

    /// v for each coalition in `masks` (`[B, K]`, 1 = present, 0 = absent), in batches.
    public func values(masks: Tensor) -> [Float] {
        let batch = masks.shape[0], k = playerCount
        precondition(masks.rank == 2 && masks.shape[1] == k, "masks must be [B, \(k)], got \(masks.shape)")
        var result: [Float] = []
        result.reserveCapacity(batch)
        let chunk = chunkSize
        var start = 0
        while start < batch {
            let end = min(batch, start + chunk)
            let part = Tensor(shape: [end - start, k], storage: Array(masks.storage[start * k ..< end * k]))
            result += evaluate(part)
            start = end
        }
        return result
    }

    /// v along an ordering π: v(∅), v({π1}), v({π1, π2}), …, v(all): K + 1 values (Algorithm 1).
    public func valuesAlong(ordering: [Int]) -> [Float] {
        valuesAlong(orderings: [ordering])[0]
    }

    /// Maps that are zero everywhere: zeroing them changes nothing, so adding one to a coalition
    /// leaves v unchanged (a null player, whose Shapley value is 0 by the dummy axiom).
    public var nullPlayers: [Bool] {
        let plane = activations.count / max(playerCount, 1)
        return (0..<playerCount).map { k in !activations.storage[k * plane ..< (k + 1) * plane].contains { $0 != 0 } }
    }

    /// `valuesAlong(ordering:)` for several orderings at once: the prefixes of all of them go through
    /// the head as one batch (one large product per layer rather than one per ordering), and a step
    /// that adds a null player is not evaluated: its value is the previous step's, exactly.
    public func valuesAlong(orderings: [[Int]]) -> [[Float]] {
        let k = playerCount, null = nullPlayers
        // The distinct coalitions to evaluate: ∅ and every prefix ending in a player that is not null.
        var evaluatedSteps: [[Int]] = []          // per ordering, the steps that get their own row
        var rows = 0
        for ordering in orderings {
            let steps = [0] + (0..<k).filter { !null[ordering[$0]] }.map { $0 + 1 }
            evaluatedSteps.append(steps)
            rows += steps.count
        }
        var masks: Tensor? = nil
        var z: Tensor? = nil
        if let decomposition {
            z = prefixPreActivations(decomposition, orderings: orderings, steps: evaluatedSteps, rows: rows)
        } else {
            var m = Tensor(shape: [rows, k])
            var row = 0
            for (ordering, steps) in zip(orderings, evaluatedSteps) {
                for step in steps {
                    for earlier in 0..<step { m.storage[row * k + ordering[earlier]] = 1 }
                    row += 1
                }
            }
            masks = m
        }
        let v: [Float] = z.map { decomposition!.rest.forward($0).storage } ?? values(masks: masks!)
        // Spread the evaluated values over all K + 1 steps.
        var result: [[Float]] = []
        var row = 0
        for steps in evaluatedSteps {
            var along = [Float](repeating: 0, count: k + 1)
            var next = 0
            for step in 0...k {
                if next < steps.count && steps[next] == step {
                    along[step] = v[row]
                    row += 1
                    next += 1
                } else {
                    along[step] = along[step - 1]
                }
            }
            result.append(along)
        }
        return result
    }

    /// b + Σ_{j ≤ step} P_{π(j)} for the listed steps of each ordering, `[rows, O₁]`: running sums
    /// of P rows, no product.
    private func prefixPreActivations(_ decomposition: HeadDecomposition, orderings: [[Int]], steps: [[Int]],
                                      rows: Int) -> Tensor {
        let p = termsByMap!, firstBias = decomposition.firstBias
        let outputs = firstBias.count
        var z = Tensor(shape: [rows, outputs])
        var running = firstBias
        z.storage.withUnsafeMutableBufferPointer { zz in
            p.storage.withUnsafeBufferPointer { pp in
                running.withUnsafeMutableBufferPointer { sum in
                    let total = sum.baseAddress!
                    var row = 0
                    for (ordering, wanted) in zip(orderings, steps) {
                        total.update(from: firstBias, count: outputs)
                        var next = 0
                        for step in 0...ordering.count {
                            if step > 0 { addScaled(pp.baseAddress! + ordering[step - 1] * outputs, scale: 1, into: total, count: outputs) }
                            if next < wanted.count && wanted[next] == step {
                                (zz.baseAddress! + row * outputs).update(from: total, count: outputs)
                                row += 1
                                next += 1
                            }
                        }
                    }
                }
            }
        }
        return z
    }

    private var chunkSize: Int {
        // Keep one batch of masked maps around 64 MB on the generic path.
        decomposition != nil ? 1024 : max(1, min(256, 16_000_000 / max(activations.count, 1)))
    }

    private func evaluate(_ masks: Tensor) -> [Float] {
        let batch = masks.shape[0], k = playerCount
        if let decomposition {
            // Z = M·P + b, then the rest of the head.
            let p = termsByMap!, firstBias = decomposition.firstBias
            let outputs = firstBias.count
            var z = Tensor(shape: [batch, outputs])
            for n in 0..<batch { for o in 0..<outputs { z.storage[n * outputs + o] = firstBias[o] } }
            masks.storage.withUnsafeBufferPointer { m in
                p.storage.withUnsafeBufferPointer { pp in
                    z.storage.withUnsafeMutableBufferPointer { zz in
                        gemm(m: batch, n: outputs, k: k, a: m.baseAddress!, lda: k, transA: false,
                             b: pp.baseAddress!, ldb: outputs, transB: false,
                             c: zz.baseAddress!, ldc: outputs, accumulate: true)
                    }
                }
            }
            return decomposition.rest.forward(z).storage
        }
        let plane = activations.count / k
        var masked = Tensor(shape: [batch] + activations.shape)
        masked.storage.withUnsafeMutableBufferPointer { out in
            activations.storage.withUnsafeBufferPointer { a in
                for n in 0..<batch {
                    for map in 0..<k where masks.storage[n * k + map] != 0 {
                        let dst = (n * k + map) * plane, src = map * plane
                        for j in 0..<plane { out[dst + j] = a[src + j] }
                    }
                }
            }
        }
        return head.forward(masked).storage
    }
}
