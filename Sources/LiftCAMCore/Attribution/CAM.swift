// Section 2.1: the visual explanation map every CAM method shares, and the two operations the
// evaluation (Section 4) applies to it, u (upsampling) and s (min-max normalisation).

/// Eq 1: L^c = ReLU(Σ_k α_k A_k).
///
/// - Parameters:
///   - activations: A = `f^[l](x)`, `[K, h, w]`.
///   - coefficients: α, one per map (`K`).
/// - Returns: L^c, `[h, w]`.
public func classActivationMap(activations: Tensor, coefficients: [Float]) -> Tensor {
    precondition(activations.rank == 3 && activations.shape[0] == coefficients.count,
                 "Eq 1 needs one coefficient per map: \(coefficients.count) for \(activations.shape)")
    let plane = activations.shape[1] * activations.shape[2]
    var map = [Float](repeating: 0, count: plane)
    activations.storage.withUnsafeBufferPointer { a in
        for (k, alpha) in coefficients.enumerated() where alpha != 0 {
            let base = k * plane
            for p in 0..<plane { map[p] += alpha * a[base + p] }
        }
    }
    for p in 0..<plane { map[p] = max(map[p], 0) }
    return Tensor(shape: [activations.shape[1], activations.shape[2]], storage: map)
}

/// u(·): bilinear upsampling of a map `[h, w]` to the input's `[H, W]` (PyTorch's
/// `F.interpolate(mode="bilinear", align_corners=False)`, as the official LIFT-CAM code).
public func upsample(_ map: Tensor, height: Int, width: Int, kernels: KernelChoice = .fast) -> Tensor {
    bilinearResize(map, height: height, width: width, kernels: kernels)
}

/// s(·): min-max normalisation to [0, 1]. A constant map (max == min, e.g. all zeros after the
/// ReLU of Eq 1) has no preferred region and becomes all zeros rather than 0/0 = NaN.
public func minMaxNormalized(_ map: Tensor) -> Tensor {
    guard let low = map.storage.min(), let high = map.storage.max(), high > low else {
        return Tensor(shape: map.shape)
    }
    let scale = 1 / (high - low)
    return Tensor(shape: map.shape, storage: map.storage.map { ($0 - low) * scale })
}

/// s(u(L)): the saliency map `[H, W]` the evaluation metrics (Eqs 11–15) and the pictures use.
/// A constant L (all zeros included) gives all zeros: its upsampling is constant only up to
/// rounding (w·c + (1 − w)·c can miss c by an ulp), and s would stretch that noise to [0, 1].
public func saliency(of map: Tensor, height: Int, width: Int, kernels: KernelChoice = .fast) -> Tensor {
    guard let first = map.storage.first, map.storage.contains(where: { $0 != first }) else {
        return Tensor(shape: [height, width])
    }
    return minMaxNormalized(upsample(map, height: height, width: width, kernels: kernels))
}
