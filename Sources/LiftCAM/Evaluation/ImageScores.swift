/// What the evaluation measures of one method's explanation of one image (Section 4).
public struct ImageScores: Equatable, Sendable {
    /// Y^c = softmax(f(x))_c.
    public var original: Double
    /// O^c = softmax(f(e^c))_c with e^c from Eq 11.
    public var explanation: Double
    /// D^c = softmax(f((1 − s(u(L^c))) ∘ x))_c (Eq 14).
    public var deletion: Double
    /// softmax_c along the insertion and deletion curves, 41 points each.
    public var insertionCurve: [Double]
    public var deletionCurve: [Double]
    /// Eq 15 (%), or nil when the image has no box.
    public var energyPointingGame: Double?
    /// Table 2: cos(α, α^SHAP-CAM), or nil when not asked for.
    public var cosineToSHAP: Double?
    /// Seconds the method took for its coefficients.
    public var seconds: Double

    public init(original: Double, explanation: Double, deletion: Double, insertionCurve: [Double],
                deletionCurve: [Double], energyPointingGame: Double?, cosineToSHAP: Double?, seconds: Double) {
        self.original = original
        self.explanation = explanation
        self.deletion = deletion
        self.insertionCurve = insertionCurve
        self.deletionCurve = deletionCurve
        self.energyPointingGame = energyPointingGame
        self.cosineToSHAP = cosineToSHAP
        self.seconds = seconds
    }

    public var insertionAUC: Double { areaUnderCurve(insertionCurve) }
    public var deletionAUC: Double { areaUnderCurve(deletionCurve) }
}

/// Softmax probabilities of class `target` for a batch of inputs `[N, C, H, W]`, run through the
/// whole network in chunks that keep memory bounded.
public func classProbabilities(network: SplitNetwork, inputs: Tensor, target: Int) -> [Double] {
    let count = inputs.shape[0], size = inputs.count / max(count, 1)
    let chunk = max(1, min(count, 24_000_000 / max(size, 1)))
    var result: [Double] = []
    var start = 0
    while start < count {
        let end = min(count, start + chunk)
        let batch = Tensor(shape: [end - start] + inputs.shape.dropFirst(),
                           storage: Array(inputs.storage[start * size ..< end * size]))
        let logits = network.head.forward(network.body.forward(batch))
        let classes = logits.shape[1]
        for n in 0..<(end - start) {
            result.append(Double(softmax(Array(logits.storage[n * classes ..< (n + 1) * classes]))[target]))
        }
        start = end
    }
    return result
}

/// Scores one explanation: Y, O, D (Eqs 11–14), the insertion and deletion curves, and the
/// pointing game (Eq 15) when a non-empty box is given.
public func scoreExplanation(network: SplitNetwork, input: Tensor, target: Int, saliency: Tensor,
                             box: BoundingBox?, cosineToSHAP: Double? = nil, seconds: Double = 0) -> ImageScores {
    let (insertion, deletion) = insertionDeletionInputs(input: input, saliency: saliency)
    let steps = insertion.shape[0]
    let single = Tensor.stack([input, explanationImage(input: input, saliency: saliency),
                               explanationImage(input: input, saliency: saliency, inverted: true)])
    let all = Tensor(shape: [3 + 2 * steps] + input.shape,
                     storage: single.storage + insertion.storage + deletion.storage)
    let p = classProbabilities(network: network, inputs: all, target: target)
    return ImageScores(original: p[0], explanation: p[1], deletion: p[2],
                       insertionCurve: Array(p[3 ..< 3 + steps]), deletionCurve: Array(p[(3 + steps)...]),
                       energyPointingGame: box.flatMap { $0.isEmpty ? nil : energyPointingGame(saliency: saliency, box: $0) },
                       cosineToSHAP: cosineToSHAP, seconds: seconds)
}

/// The paper's tables for one method over a set of images: means of the per-image scores.
public struct MethodSummary: Equatable, Sendable {
    public var images: Int
    /// Eq 12, Eq 13, Eq 14 (%).
    public var increaseInConfidence, averageDrop, averageDropInDeletion: Double
    /// Table 4: mean insertion and deletion AUC.
    public var insertionAUC, deletionAUC: Double
    /// Table 5: mean of Eq 15 over the images that have a box (nil when none has).
    public var energyPointingGame: Double?
    /// Table 2: mean cosine to SHAP-CAM (nil when not measured).
    public var cosineToSHAP: Double?
    public var secondsPerImage: Double

    /// Summarises per-image scores, in the order given: callers pass them in image order, so a run
    /// split into shards and merged sums the same numbers in the same order as one run.
    public init(_ scores: [ImageScores]) {
        let y = scores.map(\.original), o = scores.map(\.explanation), d = scores.map(\.deletion)
        images = scores.count
        increaseInConfidence = LiftCAM.increaseInConfidence(original: y, explanation: o)
        averageDrop = LiftCAM.averageDrop(original: y, explanation: o)
        averageDropInDeletion = LiftCAM.averageDropInDeletion(original: y, deletion: d)
        insertionAUC = mean(scores.map(\.insertionAUC)) ?? 0
        deletionAUC = mean(scores.map(\.deletionAUC)) ?? 0
        energyPointingGame = mean(scores.compactMap(\.energyPointingGame))
        cosineToSHAP = mean(scores.compactMap(\.cosineToSHAP))
        secondsPerImage = mean(scores.map(\.seconds)) ?? 0
    }
}

/// The arithmetic mean, or nil for no values.
public func mean(_ values: [Double]) -> Double? {
    values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
}
