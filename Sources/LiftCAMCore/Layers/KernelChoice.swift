// Which code a network runs: the fast kernels, or the literal transcriptions kept beside each of
// them (SPEC.md, "Literal mode"). A value every layer holds, not a global switch, so a fast and a
// literal network can live side by side (and on threads).

/// The kernels a layer runs.
///
/// - `fast`: Winograd, packed GEMMs, SIMD16, work split over the cores.
/// - `literal`: the naive twins (`conv2dNaive`, `linearNaive`, `maxPool2dNaive`, …), plain loops
///   that read as the formulas they compute, for reading, porting and checking the fast ones.
public enum KernelChoice: Sendable, Equatable {
    /// The fast kernels (the default).
    case fast
    /// The naive twins, and no folded or merged layers.
    case literal
}

/// a + b element by element with the chosen kernel (`add` or `addNaive`).
func add(_ a: Tensor, _ b: Tensor, kernels: KernelChoice) -> Tensor {
    kernels == .literal ? addNaive(a, b) : add(a, b)
}

/// Bilinear resize (u(·) and Score-CAM's masks) with the chosen kernel.
public func bilinearResize(_ input: Tensor, height: Int, width: Int, kernels: KernelChoice) -> Tensor {
    kernels == .literal ? bilinearResizeNaive(input, height: height, width: width)
        : bilinearResize(input, height: height, width: width)
}
