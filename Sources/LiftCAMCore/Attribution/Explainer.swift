/// The CAM methods, by the names the command-line tool and the JSON output use.
public enum CAMMethod: String, CaseIterable, Sendable {
    /// LIFT-CAM: DeepLIFT-Rescale contributions of the maps against A = 0 (Eq 7).
    case lift
    /// Grad-CAM: the mean gradient of F^c over each map.
    case gradcam
    /// Grad-CAM++: positive gradients weighted by its closed form.
    case gradcampp
    /// XGrad-CAM: Σ A_k ∂F^c/∂A_k over each map (Eq 10).
    case xgradcam
    /// Ablation-CAM: F^c(A) − F^c(A with map k zeroed) (Eq 9).
    case ablation
    /// Score-CAM: the class probability of the input masked by each upsampled map.
    case scorecam
    /// SHAP-CAM: Shapley values of the maps estimated over sampled orderings (Algorithm 1).
    case shap
    /// Exact SHAP values of the maps over all 2^K coalitions (Eq 6); K ≤ 20.
    case shapExact = "shap-exact"
    /// LIME-CAM: a weighted Lasso fitted to the map game on sampled coalitions.
    case lime
    /// LRP-CAM: layer-wise relevance (ε-rule) of each map, summed.
    case lrp
}

/// Settings some methods take.
public struct MethodOptions: Sendable {
    /// |Π| for `shap` (Algorithm 1).
    public var orderings: Int
    /// Seed of the generator that draws the orderings.
    public var seed: UInt64
    /// XGrad-CAM with its own paper's per-map normalisation (divide by Σ A_k) instead of Eq 10.
    public var normalizeXGradCAM: Bool
    /// Coalitions LIME-CAM samples; nil means K, as the official code.
    public var limeSamples: Int?
    /// Called as (done, total) by the long methods (Score-CAM, SHAP-CAM).
    public var progress: (@Sendable (Int, Int) -> Void)?

    /// Options with the defaults of the paper's experiments (|Π| = 100) and the official code.
    public init(orderings: Int = 100, seed: UInt64 = 0, normalizeXGradCAM: Bool = false, limeSamples: Int? = nil,
                progress: (@Sendable (Int, Int) -> Void)? = nil) {
        self.limeSamples = limeSamples
        self.orderings = orderings
        self.seed = seed
        self.normalizeXGradCAM = normalizeXGradCAM
        self.progress = progress
    }
}

/// One method's answer for one input and class.
public struct Explanation: Sendable {
    /// The method that gave it.
    public let method: CAMMethod
    /// α, one per activation map.
    public let coefficients: [Float]
    /// L^c = ReLU(Σ α_k A_k) (Eq 1), `[h, w]`.
    public let map: Tensor
    /// s(u(L^c)), `[H, W]`, in [0, 1].
    public let saliency: Tensor
    /// Wall-clock seconds the coefficients took.
    public let seconds: Double
}

/// Everything the paper does is a function of (body, head, x, c): this holds the first three, with
/// the maps A = `f^[l](x)` and the logits f(x) computed once, and answers any method for any class.
public struct Explainer: Sendable {
    /// The network split at the explained layer: body f^[l] and head F.
    public let network: SplitNetwork
    /// x, preprocessed, `[C, H, W]`.
    public let input: Tensor
    /// A = `f^[l](x)`, `[K, h, w]`.
    public let activations: Tensor
    /// f(x), the logits (the layer before softmax, footnote 1).
    public let logits: [Float]
    /// The head as per-map terms of its first Linear layer plus the rest, when it has that form:
    /// computed once (one pass over that layer's weights) and shared by the logits, LIFT-CAM and
    /// every method that plays the map game. Always nil in literal mode.
    public let headDecomposition: HeadDecomposition?

    /// Splits `network` at `layer` (default: the architecture's default layer) and runs x through it.
    ///
    /// `literal: true` computes everything, the logits and every method, only with the literal
    /// transcriptions of the paper (SPEC.md, "Literal mode"): the network on its naive kernels
    /// (`Network.using(.literal)`), LIFT-CAM by the full DeepLIFT backward pass, the map game by
    /// zeroing maps and running the whole head, SHAP-CAM with one mask per prefix.
    public init(network: Network, layer: String? = nil, input: Tensor, literal: Bool = false) throws(LiftCAMError) {
        _ = try network.checkInput(shape: input.shape)
        if let problem = nonFiniteDescription(input) { throw LiftCAMError("input: \(problem); inputs must be finite numbers") }
        let network = network.using(literal ? .literal : .fast)
        let split = try network.split(at: layer ?? network.architecture.defaultLayer)
        _ = try split.activationShape(forInput: input.shape)
        self.network = split
        self.input = input
        let maps = split.body.forward(input.batched)
        activations = maps.reshaped(Array(maps.shape.dropFirst()))
        headDecomposition = literal ? nil : HeadDecomposition(head: split.head, activations: activations)
        logits = headDecomposition?.outputs ?? split.head.forward(maps).storage
        // Finite weights and input can still overflow Float; say so rather than return NaN maps.
        if let problem = nonFiniteDescription(activations) ?? nonFiniteDescription(Tensor(shape: [logits.count], storage: logits)) {
            throw LiftCAMError("the network overflows Float at layer '\(split.layer)' or after it: \(problem) (weights or input far out of range)")
        }
    }

    /// Whether every number comes from the literal path (`init(network:layer:input:literal:)`).
    public var isLiteral: Bool { network.kernels == .literal }

    /// The class with the largest logit (the default target).
    public var predictedClass: Int {
        logits.indices.max { logits[$0] < logits[$1] } ?? 0
    }

    /// α for `method` and class `target`.
    public func coefficients(_ method: CAMMethod, target: Int, options: MethodOptions = MethodOptions()) throws(LiftCAMError) -> [Float] {
        guard logits.indices.contains(target) else {
            throw LiftCAMError("target class \(target) is out of range: this network has \(logits.count) classes (0…\(logits.count - 1))")
        }
        let head = targetHead(network.head, target: target)
        // Cut to the class only by the methods that use it (LIFT-CAM and the map game).
        func targetedDecomposition() -> HeadDecomposition? { headDecomposition?.targeted(target) }
        func mapGame() -> MapGame {
            guard let decomposition = targetedDecomposition() else {
                return MapGame(activations: activations, head: head, useShortcut: !isLiteral)
            }
            return MapGame(activations: activations, head: head, decomposition: decomposition)
        }
        switch method {
        case .lift:
            return targetedDecomposition()?.liftCoefficients() ?? liftCAMCoefficients(head: head, activations: activations)
        case .gradcam:
            return gradCAMCoefficients(gradient: headGradient(head: head, activations: activations))
        case .gradcampp:
            return gradCAMPlusPlusCoefficients(activations: activations,
                                               gradient: headGradient(head: head, activations: activations))
        case .xgradcam:
            return xGradCAMCoefficients(activations: activations,
                                        gradient: headGradient(head: head, activations: activations),
                                        normalized: options.normalizeXGradCAM)
        case .ablation:
            return ablationCAMCoefficients(game: mapGame())
        case .scorecam:
            return scoreCAMCoefficients(network: network, input: input, activations: activations, target: target,
                                        progress: options.progress)
        case .shap:
            guard options.orderings >= 1 else {
                throw LiftCAMError("--orderings must be at least 1, got \(options.orderings)")
            }
            let game = mapGame()
            try checkSampleTable(options.orderings, option: "--orderings", players: game.playerCount)
            let orderings = randomOrderings(count: options.orderings, players: game.playerCount, seed: options.seed)
            if isLiteral { return shapCAMCoefficientsOneMaskPerPrefix(game: game, orderings: orderings, progress: options.progress) }
            return shapCAMCoefficients(game: game, orderings: orderings, progress: options.progress)
        case .shapExact:
            return try exactSHAPCoefficients(game: mapGame())
        case .lime:
            let game = mapGame()
            let samples = options.limeSamples ?? game.playerCount
            guard samples >= 1 else { throw LiftCAMError("--lime-samples must be at least 1, got \(samples)") }
            try checkSampleTable(samples, option: "--lime-samples", players: game.playerCount)
            return limeCAMCoefficients(game: game, samples: samples, seed: options.seed)
        case .lrp:
            return lrpCAMCoefficients(head: head, activations: activations)
        }
    }

    /// α, L^c (Eq 1) and s(u(L^c)) for `method` and class `target`, timed.
    public func explain(_ method: CAMMethod, target: Int, options: MethodOptions = MethodOptions()) throws(LiftCAMError) -> Explanation {
        let start = MonotonicClock.now()
        let alpha = try coefficients(method, target: target, options: options)
        let seconds = MonotonicClock.now() - start
        let map = classActivationMap(activations: activations, coefficients: alpha)
        return Explanation(method: method, coefficients: alpha, map: map,
                           saliency: saliency(of: map, height: input.shape[1], width: input.shape[2], kernels: network.kernels),
                           seconds: seconds)
    }
}

/// The most entries a table of sampled orderings or coalitions (`count` rows of K players) may
/// have: 2^27, i.e. 1 GiB of orderings. Past it the allocation alone would exhaust memory, so an
/// absurd --orderings or --lime-samples is refused instead of trapping in the allocator.
public let maximumSampleTableEntries = 1 << 27

/// Refuses `count` samples of `players` entries each when the table would pass
/// `maximumSampleTableEntries`.
private func checkSampleTable(_ count: Int, option: String, players: Int) throws(LiftCAMError) {
    let (entries, overflow) = count.multipliedReportingOverflow(by: max(players, 1))
    guard !overflow, entries <= maximumSampleTableEntries else {
        throw LiftCAMError("\(option) \(count) is too large: \(count) samples of K = \(players) maps pass the limit of \(maximumSampleTableEntries) entries (at most \(maximumSampleTableEntries / max(players, 1)) here)")
    }
}
