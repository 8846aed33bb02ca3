/// What the evaluation measures of one method's explanation of one image (Section 4).
public struct ImageScores: Equatable, Sendable {
    /// Y^c = softmax(f(x))_c.
    public var original: Double
    /// O^c = softmax(f(e^c))_c with e^c from Eq 11.
    public var explanation: Double
    /// D^c = softmax(f((1 − s(u(L^c))) ∘ x))_c (Eq 14).
    public var deletion: Double
    /// softmax_c along the insertion curve (most salient pixels inserted first), 41 points.
    public var insertionCurve: [Double]
    /// softmax_c along the deletion curve (most salient pixels removed first).
    public var deletionCurve: [Double]
    /// Eq 15 (%), or nil when the image has no box.
    public var energyPointingGame: Double?
    /// Table 2: cos(α, α^SHAP-CAM), or nil when not asked for.
    public var cosineToSHAP: Double?
    /// Seconds the method took for its coefficients.
    public var seconds: Double

    /// Scores from their parts.
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

    /// Area under the insertion curve (Table 4; higher is better).
    public var insertionAUC: Double { areaUnderCurve(insertionCurve) }
    /// Area under the deletion curve (Table 4; lower is better).
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

/// The numbers of one explanation of one image that the tables average: everything of
/// `ImageScores` but the curves, which enter only through their areas. A run's results keep these
/// per image, so shards of a run can be merged into exactly the numbers of the whole run.
public struct ImageMeasures: Equatable, Sendable {
    /// Y^c, O^c and D^c (Eqs 12–14).
    public var original, explanation, deletion: Double
    /// Table 4: the areas under the insertion and deletion curves.
    public var insertionAUC, deletionAUC: Double
    /// Eq 15 (%), or nil when the image has no box.
    public var energyPointingGame: Double?
    /// Table 2: cos(α, α^SHAP-CAM), or nil when not measured.
    public var cosineToSHAP: Double?
    /// Seconds the method took for its coefficients.
    public var seconds: Double

    /// Measures from their parts.
    public init(original: Double, explanation: Double, deletion: Double, insertionAUC: Double, deletionAUC: Double,
                energyPointingGame: Double?, cosineToSHAP: Double?, seconds: Double) {
        self.original = original
        self.explanation = explanation
        self.deletion = deletion
        self.insertionAUC = insertionAUC
        self.deletionAUC = deletionAUC
        self.energyPointingGame = energyPointingGame
        self.cosineToSHAP = cosineToSHAP
        self.seconds = seconds
    }
}

extension ImageScores {
    /// What the tables average of these scores.
    public var measures: ImageMeasures {
        ImageMeasures(original: original, explanation: explanation, deletion: deletion, insertionAUC: insertionAUC,
                      deletionAUC: deletionAUC, energyPointingGame: energyPointingGame, cosineToSHAP: cosineToSHAP,
                      seconds: seconds)
    }
}

/// The paper's tables for one method over a set of images: means of the per-image scores.
public struct MethodSummary: Equatable, Sendable {
    /// How many images the means are over.
    public var images: Int
    /// Eq 12, Eq 13, Eq 14 (%).
    public var increaseInConfidence, averageDrop, averageDropInDeletion: Double
    /// Table 4: mean insertion and deletion AUC.
    public var insertionAUC, deletionAUC: Double
    /// Table 5: mean of Eq 15 over the images that have a box (nil when none has).
    public var energyPointingGame: Double?
    /// Table 2: mean cosine to SHAP-CAM (nil when not measured).
    public var cosineToSHAP: Double?
    /// Mean seconds a method took for its coefficients, per image.
    public var secondsPerImage: Double

    /// Summarises per-image scores, in the order given (see `init(measures:)`).
    public init(_ scores: [ImageScores]) {
        self.init(measures: scores.map { $0.measures })
    }

    /// Summarises per-image measures, in the order given: callers pass them in image order, so a
    /// run split into shards and merged sums the same numbers in the same order as one run.
    public init(measures: [ImageMeasures]) {
        let y = measures.map { $0.original }, o = measures.map { $0.explanation }, d = measures.map { $0.deletion }
        images = measures.count
        increaseInConfidence = LiftCAMCore.increaseInConfidence(original: y, explanation: o)
        averageDrop = LiftCAMCore.averageDrop(original: y, explanation: o)
        averageDropInDeletion = LiftCAMCore.averageDropInDeletion(original: y, deletion: d)
        insertionAUC = mean(measures.map { $0.insertionAUC }) ?? 0
        deletionAUC = mean(measures.map { $0.deletionAUC }) ?? 0
        energyPointingGame = mean(measures.compactMap { $0.energyPointingGame })
        cosineToSHAP = mean(measures.compactMap { $0.cosineToSHAP })
        secondsPerImage = mean(measures.map { $0.seconds }) ?? 0
    }

    /// Table 1: a randomised method run R times over the same images (SHAP-CAM with seeds S, S+1,
    /// …). Each run is summarised on its own, then every number is the mean of the R summaries, in
    /// run order. `runs[r]` holds run r's measures in image order. One run gives `init(measures:)`
    /// exactly.
    public init(runs: [[ImageMeasures]]) {
        precondition(!runs.isEmpty, "at least one run")
        let summaries = runs.map { MethodSummary(measures: $0) }
        precondition(Set(summaries.map { $0.images }).count == 1, "every run covers the same images")
        images = summaries[0].images
        increaseInConfidence = mean(summaries.map { $0.increaseInConfidence })!
        averageDrop = mean(summaries.map { $0.averageDrop })!
        averageDropInDeletion = mean(summaries.map { $0.averageDropInDeletion })!
        insertionAUC = mean(summaries.map { $0.insertionAUC })!
        deletionAUC = mean(summaries.map { $0.deletionAUC })!
        energyPointingGame = mean(summaries.compactMap { $0.energyPointingGame })
        cosineToSHAP = mean(summaries.compactMap { $0.cosineToSHAP })
        secondsPerImage = mean(summaries.map { $0.secondsPerImage })!
    }
}

/// The arithmetic mean, or nil for no values.
public func mean(_ values: [Double]) -> Double? {
    values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
}
