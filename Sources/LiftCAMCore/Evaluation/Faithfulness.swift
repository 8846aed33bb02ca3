// Section 4: how the paper measures an explanation. Every metric reads the saliency map
// s(u(L^c)) `[H, W]` and the network's softmax output for class c on masked inputs.

/// Eq 11: e^c = s(u(L^c)) ∘ x, the input kept where the map is high. `inverted` gives Eq 14's
/// (1 − s(u(L^c))) ∘ x, the input with the explained region muted. x is the preprocessed network
/// input `[C, H, W]`; the map multiplies every channel.
public func explanationImage(input: Tensor, saliency: Tensor, inverted: Bool = false) -> Tensor {
    let channels = input.shape[0], plane = input.count / channels
    precondition(saliency.count == plane, "saliency \(saliency.shape) for input \(input.shape)")
    var result = input
    for c in 0..<channels {
        for j in 0..<plane {
            let weight = inverted ? 1 - saliency.storage[j] : saliency.storage[j]
            result.storage[c * plane + j] *= weight
        }
    }
    return result
}

/// Eq 12, increase in confidence (%): (1/N) Σ_i 1[Y_i^c < O_i^c] × 100.
public func increaseInConfidence(original y: [Double], explanation o: [Double]) -> Double {
    precondition(y.count == o.count)
    guard !y.isEmpty else { return 0 }
    return Double(zip(y, o).filter { $0 < $1 }.count) / Double(y.count) * 100
}

/// Eq 13, average drop (%): (1/N) Σ_i max(0, Y_i^c − O_i^c) / Y_i^c × 100. An image whose Y_i^c is
/// 0 (the softmax underflowed) has no confidence to lose: its term is 0, not 0/0.
public func averageDrop(original y: [Double], explanation o: [Double]) -> Double {
    precondition(y.count == o.count)
    guard !y.isEmpty else { return 0 }
    return zip(y, o).reduce(0) { $0 + ($1.0 > 0 ? max(0, $1.0 - $1.1) / $1.0 : 0) } / Double(y.count) * 100
}

/// Eq 14, average drop in deletion (%): (1/N) Σ_i (Y_i^c − D_i^c) / Y_i^c × 100, where D is the
/// probability for the inverted explanation image (1 − s(u(L^c))) ∘ x. Not clipped at 0. As in
/// Eq 13, an image with Y_i^c = 0 contributes 0 (a relative change of nothing is undefined).
public func averageDropInDeletion(original y: [Double], deletion d: [Double]) -> Double {
    precondition(y.count == d.count)
    guard !y.isEmpty else { return 0 }
    return zip(y, d).reduce(0) { $0 + ($1.0 > 0 ? ($1.0 - $1.1) / $1.0 : 0) } / Double(y.count) * 100
}

/// Eq 15, the energy-based pointing game (%): Σ_{(i,j) ∈ bbox} s(u(L))_{ij} / Σ_{(i,j)} s(u(L))_{ij}
/// × 100. The box is half-open, [xMin, xMax) × [yMin, yMax), in pixels of the network input. An
/// all-zero map has no energy anywhere and scores 0.
public func energyPointingGame(saliency: Tensor, box: BoundingBox) -> Double {
    let height = saliency.shape[0], width = saliency.shape[1]
    var inside = 0.0, total = 0.0
    for y in 0..<height {
        for x in 0..<width {
            let value = Double(saliency.storage[y * width + x])
            total += value
            if box.contains(x: x, y: y) { inside += value }
        }
    }
    return total > 0 ? inside / total * 100 : 0
}

/// An axis-aligned box in pixels, half-open: [xMin, xMax) × [yMin, yMax).
public struct BoundingBox: Equatable, Sendable {
    /// Left and top edges (inclusive), right and bottom edges (exclusive), in pixels.
    public var xMin, yMin, xMax, yMax: Int

    /// The box [xMin, xMax) × [yMin, yMax).
    public init(xMin: Int, yMin: Int, xMax: Int, yMax: Int) {
        (self.xMin, self.yMin, self.xMax, self.yMax) = (xMin, yMin, xMax, yMax)
    }

    /// Whether the box holds no pixel.
    public var isEmpty: Bool { xMax <= xMin || yMax <= yMin }

    /// Whether pixel (x, y) lies inside the box.
    public func contains(x: Int, y: Int) -> Bool { x >= xMin && x < xMax && y >= yMin && y < yMax }
}

/// The number of steps of the insertion and deletion curves: 2.5 % of the pixels per step, as in
/// Section 4.3.2.
public let insertionDeletionSteps = 40

/// Pixel indices (row-major) ordered by saliency, highest first; equal values keep row-major order
/// (a stable sort), so the curves do not depend on the sorting algorithm.
public func pixelsBySaliency(_ saliency: Tensor) -> [Int] {
    saliency.storage.indices.sorted { a, b in
        let va = saliency.storage[a], vb = saliency.storage[b]
        return va != vb ? va > vb : a < b
    }
}

/// The inputs of the insertion (Petsiuk et al. 2018) and deletion curves: at step i = 0…40 the top
/// ⌊i·H·W/40⌋ pixels by saliency are kept and the rest set to 0 (insertion), or those pixels set to
/// 0 and the rest kept (deletion), in every channel of x. Returns `[41, C, H, W]` for each.
public func insertionDeletionInputs(input: Tensor, saliency: Tensor,
                                    steps: Int = insertionDeletionSteps) -> (insertion: Tensor, deletion: Tensor) {
    let channels = input.shape[0], plane = input.count / channels
    let order = pixelsBySaliency(saliency)
    var insertion = Tensor(shape: [steps + 1] + input.shape)
    var deletion = Tensor(shape: [steps + 1] + input.shape)
    for step in 0...steps {
        let kept = step * plane / steps
        var top = [Bool](repeating: false, count: plane)
        for j in order.prefix(kept) { top[j] = true }
        let base = step * input.count
        for c in 0..<channels {
            for j in 0..<plane {
                let value = input.storage[c * plane + j]
                if top[j] { insertion.storage[base + c * plane + j] = value } else { deletion.storage[base + c * plane + j] = value }
            }
        }
    }
    return (insertion, deletion)
}

/// Area under a curve sampled at the fractions 0, 1/n, …, 1, by the trapezoid rule.
public func areaUnderCurve(_ curve: [Double]) -> Double {
    guard curve.count > 1 else { return 0 }
    let step = 1 / Double(curve.count - 1)
    return zip(curve, curve.dropFirst()).reduce(0) { $0 + ($1.0 + $1.1) / 2 * step }
}

/// Table 2: cos(a, b) = a·b / (‖a‖ ‖b‖), in Double; 0 when either vector is all zeros.
public func cosineSimilarity(_ a: [Float], _ b: [Float]) -> Double {
    precondition(a.count == b.count)
    var dot = 0.0, normA = 0.0, normB = 0.0
    for (x, y) in zip(a, b) {
        dot += Double(x) * Double(y)
        normA += Double(x) * Double(x)
        normB += Double(y) * Double(y)
    }
    return normA > 0 && normB > 0 ? dot / (normA.squareRoot() * normB.squareRoot()) : 0
}
