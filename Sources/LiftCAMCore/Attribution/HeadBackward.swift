// Backward passes through the head F^c to the activation maps: the gradient ∂F^c/∂A that the
// gradient-based CAMs use, and the DeepLIFT-Rescale contributions of LIFT-CAM (Section 3.4).

/// ∂F^c/∂A at A, `[K, h, w]`, by one backward pass through the head (already cut to the target by
/// `targetHead`).
public func headGradient(head: Sequential, activations: Tensor) -> Tensor {
    let trace = head.forwardTrace(activations.batched)
    let seed = Tensor(shape: [1, 1], repeating: 1)
    return head.backward(seed, trace: trace, reference: nil).reshaped(activations.shape)
}

/// C_{ΔA_k(i,j) ΔF^c} (Eq 4 for the head): DeepLIFT-Rescale contributions of every activation
/// neuron to F^c(A) − F^c(A_ref), `[K, h, w]`.
///
/// One backward pass with the forward traces of A and of the reference gives the multipliers
/// m = ∂^Rescale F^c / ∂A; the contributions are m ⊙ (A − A_ref). They add up to the change of the
/// output (summation-to-delta, Eq 4), which is Eq 8 when the reference is 0.
public func deepLIFTContributions(head: Sequential, activations: Tensor, reference: Tensor) -> Tensor {
    precondition(activations.shape == reference.shape, "reference \(reference.shape) for maps \(activations.shape)")
    let trace = head.forwardTrace(activations.batched)
    let referenceTrace = head.forwardTrace(reference.batched)
    let seed = Tensor(shape: [1, 1], repeating: 1)
    var multipliers = head.backward(seed, trace: trace, reference: referenceTrace).reshaped(activations.shape)
    for i in 0..<multipliers.count {
        multipliers.storage[i] *= activations.storage[i] - reference.storage[i]
    }
    return multipliers
}

/// Σ over each map's h×w neurons of a `[K, h, w]` tensor: `[K]`.
public func sumPerMap(_ tensor: Tensor) -> [Float] {
    let k = tensor.shape[0], plane = tensor.count / max(k, 1)
    return (0..<k).map { map in
        var sum: Float = 0
        for j in 0..<plane { sum += tensor.storage[map * plane + j] }
        return sum
    }
}

/// Eq 7: α_k^lift = C_{ΔA_k ΔF^c} = Σ_{(i,j)∈Λ} C_{ΔA_k(i,j) ΔF^c}, with every reference activation
/// 0 (an absent map, as in SHAP's h_A). By Eq 8, Σ_k α_k^lift = F^c(A) − F^c(0); for a linear head
/// the contributions are exact and α^lift equals the SHAP values α^sh.
public func liftCAMCoefficients(head: Sequential, activations: Tensor) -> [Float] {
    sumPerMap(deepLIFTContributions(head: head, activations: activations,
                                    reference: Tensor(shape: activations.shape)))
}

/// Eq 10: α_k^xg = Σ_{(i,j)∈Λ} A_k(i,j) · ∂F^c(A)/∂A_k(i,j) (XGrad-CAM as the LIFT-CAM paper writes
/// it). `normalized` divides by Σ_{(i,j)} A_k(i,j), as XGrad-CAM's own paper (Fu et al. 2020) and
/// pytorch-grad-cam do (maps that sum to 0 get 0).
public func xGradCAMCoefficients(activations: Tensor, gradient: Tensor, normalized: Bool = false) -> [Float] {
    var product = gradient
    for i in 0..<product.count { product.storage[i] *= activations.storage[i] }
    let alpha = sumPerMap(product)
    guard normalized else { return alpha }
    return zip(alpha, sumPerMap(activations)).map { $1 != 0 ? $0 / $1 : 0 }
}

/// Grad-CAM (Selvaraju et al. 2017): α_k = (1/|Λ|) Σ_{(i,j)} ∂F^c/∂A_k(i,j), the global average of the
/// gradient over each map.
public func gradCAMCoefficients(gradient: Tensor) -> [Float] {
    let plane = Float(gradient.count / max(gradient.shape[0], 1))
    return sumPerMap(gradient).map { $0 / plane }
}

/// Grad-CAM++ (Chattopadhyay et al. 2018), in its closed form under the exponential-output
/// assumption (higher derivatives of exp(F^c) are powers of the gradient g):
/// a_k(i,j) = g² / (2g² + Σ_{(a,b)} A_k(a,b)·g³), set to 0 where g = 0 (or the ratio is not finite);
/// α_k = Σ_{(i,j)} a_k(i,j)·ReLU(g).
public func gradCAMPlusPlusCoefficients(activations: Tensor, gradient: Tensor) -> [Float] {
    let mapSums = sumPerMap(activations)
    let plane = gradient.count / max(gradient.shape[0], 1)
    var weighted = gradient
    for i in 0..<gradient.count {
        let g = gradient.storage[i]
        let g2 = g * g
        let denominator = 2 * g2 + mapSums[i / plane] * g2 * g
        // 2 + Σ A·g can cancel to (nearly) 0 and overflow the ratio: no finite weight, so 0.
        let ratio = g2 / denominator
        let a: Float = (g == 0 || !ratio.isFinite) ? 0 : ratio
        weighted.storage[i] = a * max(g, 0)
    }
    return sumPerMap(weighted)
}
