// The gradient-free CAMs: they perturb the maps (Ablation-CAM) or the input (Score-CAM) and read
// the network's response.

/// Eq 9: α_k^ab = F^c(h(A')) − F^c(h(A' ∖ k)), the drop of the target logit when map k alone is
/// zeroed. Literal, as the LIFT-CAM paper writes it; Ablation-CAM's own paper (Desai & Ramaswamy
/// 2020) divides by F^c(A), which rescales all α by one positive number and leaves s(u(L)) unchanged.
/// Computed on the head only, K coalitions in batches.
public func ablationCAMCoefficients(game: MapGame) -> [Float] {
    let k = game.playerCount
    var masks = Tensor(shape: [k + 1, k], repeating: 1)
    for map in 0..<k { masks.storage[(map + 1) * k + map] = 0 }   // row 0: all maps; row k+1: all but k
    let v = game.values(masks: masks)
    return (0..<k).map { v[0] - v[$0 + 1] }
}

/// Score-CAM (Wang et al. 2020), as its authors' code computes it: each map A_k is upsampled to the
/// input size (bilinear) and min-max normalised to M_k; the whole network scores the input masked
/// by it, α_k = softmax(f(x ∘ M_k))_c. A constant map carries no spatial information and gets 0 (the
/// original code skips it). Needs K forward passes of the whole network, run in batches.
public func scoreCAMCoefficients(network: SplitNetwork, input: Tensor, activations: Tensor, target: Int,
                                 progress: ((Int, Int) -> Void)? = nil) -> [Float] {
    let k = activations.shape[0], channels = input.shape[0], height = input.shape[1], width = input.shape[2]
    let plane = height * width
    let masks = bilinearResize(activations, height: height, width: width, kernels: network.kernels)   // [K, H, W]
    var alpha = [Float](repeating: 0, count: k)
    // Inputs per batched forward pass: 8 at 3×224×224, so VGG16's largest activations (64 planes of
    // 224×224 per input) stay near 100 MB; small inputs go up to 32 at a time.
    let batchSize = max(1, min(32, 1_300_000 / max(input.count, 1)))
    var pending: [Int] = []
    func flush() {
        guard !pending.isEmpty else { return }
        var batch = Tensor(shape: [pending.count] + input.shape)
        for (n, map) in pending.enumerated() {
            let mask = minMaxNormalized(Tensor(shape: [plane], storage: Array(masks.storage[map * plane ..< (map + 1) * plane])))
            for c in 0..<channels {
                for j in 0..<plane {
                    batch.storage[(n * channels + c) * plane + j] = input.storage[c * plane + j] * mask.storage[j]
                }
            }
        }
        let logits = network.head.forward(network.body.forward(batch))
        let classes = logits.shape[1]
        for (n, map) in pending.enumerated() {
            alpha[map] = softmax(Array(logits.storage[n * classes ..< (n + 1) * classes]))[target]
        }
        progress?(pending.last! + 1, k)
        pending.removeAll(keepingCapacity: true)
    }
    for map in 0..<k {
        let values = masks.storage[map * plane ..< (map + 1) * plane]
        guard let low = values.min(), let high = values.max(), high > low else { continue }
        pending.append(map)
        if pending.count == batchSize { flush() }
    }
    flush()
    return alpha
}

/// softmax(z)_i = exp(z_i − max z) / Σ_j exp(z_j − max z) (shifted so large logits do not overflow).
public func softmax(_ logits: [Float]) -> [Float] {
    guard let top = logits.max() else { return [] }
    var exps = [Double](repeating: 0, count: logits.count)
    var total = 0.0
    for (i, z) in logits.enumerated() {
        exps[i] = Elementary.exp(Double(z - top))
        total += exps[i]
    }
    return exps.map { Float($0 / total) }
}
