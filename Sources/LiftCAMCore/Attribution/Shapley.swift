// Sections 2.2 and 3.3: SHAP values of the activation maps, exactly (Eqs 3 and 6) and by sampled
// orderings (Algorithm 1, SHAP-CAM).

/// The largest number of maps for which `exactSHAPCoefficients` enumerates all 2^K coalitions.
public let exactSHAPMaximumPlayers = 20

/// Eq 2 (and Eq 5): the additive explanation model g(z') = φ_0 + Σ_i φ_i z'_i.
public func additiveExplanation(baseline: Double, attributions: [Double], presence: [Bool]) -> Double {
    zip(attributions, presence).reduce(baseline) { $0 + ($1.1 ? $1.0 : 0) }
}

/// Eq 3: Shapley values of a game given by its value on every coalition.
///
/// φ_i = Σ_{S ⊆ N∖{i}} |S|!(M − |S| − 1)!/M! · [v(S ∪ {i}) − v(S)], written with S = z' ∖ i.
/// `values[mask]` is v of the coalition whose members are the set bits of `mask`
/// (so `values.count == 1 << players`). Sums are in Double: 2^20 terms of Float would lose digits.
public func shapleyValues(players: Int, values: [Double]) -> [Double] {
    precondition(values.count == 1 << players, "a game of \(players) players has \(1 << players) coalitions")
    // weight[s] = s!(M − s − 1)!/M!, built by a recurrence to avoid factorial overflow.
    var weight = [Double](repeating: 0, count: max(players, 1))
    if players > 0 {
        weight[0] = 1 / Double(players)                       // 0!(M−1)!/M! = 1/M
        for s in 1..<players { weight[s] = weight[s - 1] * Double(s) / Double(players - s) }
    }
    var phi = [Double](repeating: 0, count: players)
    for mask in 0..<values.count {
        let size = mask.nonzeroBitCount
        for i in 0..<players where mask & (1 << i) == 0 {
            phi[i] += weight[size] * (values[mask | (1 << i)] - values[mask])
        }
    }
    return phi
}

/// Eq 6: α_k^sh, the exact SHAP values of the K maps for F^c, by evaluating the head on all 2^K
/// coalitions (present maps keep A_k, absent ones are 0). Refuses K above
/// `exactSHAPMaximumPlayers`, where 2^K head evaluations are out of reach.
public func exactSHAPCoefficients(game: MapGame) throws(LiftCAMError) -> [Float] {
    let k = game.playerCount
    guard k <= exactSHAPMaximumPlayers else {
        throw LiftCAMError("shap-exact enumerates 2^K coalitions and allows at most K = \(exactSHAPMaximumPlayers) maps; this layer has K = \(k) (use 'shap' with --orderings instead)")
    }
    let coalitions = 1 << k
    var values: [Double] = []
    values.reserveCapacity(coalitions)
    let batch = 4096
    var start = 0
    while start < coalitions {
        let end = min(coalitions, start + batch)
        var masks = Tensor(shape: [end - start, k])
        for mask in start..<end {
            for i in 0..<k where mask & (1 << i) != 0 { masks.storage[(mask - start) * k + i] = 1 }
        }
        values += game.values(masks: masks).map(Double.init)
        start = end
    }
    return shapleyValues(players: k, values: values).map(Float.init)
}

/// Algorithm 1 (SHAP-CAM_|Π|): for each ordering π, add the maps one by one and credit each with
/// the change of F^c it causes; average over the orderings.
///
/// F^c(h_A(a' ∖ π(i))) is the previous step's F^c(h_A(a')), so an ordering costs at most K + 1
/// head evaluations (`MapGame.valuesAlong`), not 2K. Orderings go through the head in groups of
/// about `shapRowsPerBatch` coalitions, so each layer is one large product per group.
public func shapCAMCoefficients(game: MapGame, orderings: [[Int]],
                                progress: ((Int, Int) -> Void)? = nil) -> [Float] {
    let k = game.playerCount
    var alpha = [Double](repeating: 0, count: k)
    let group = max(1, shapRowsPerBatch / (k + 1))
    var done = 0
    while done < orderings.count {
        let batch = Array(orderings[done ..< min(orderings.count, done + group)])
        for (ordering, v) in zip(batch, game.valuesAlong(orderings: batch)) {   // v[i] = F^c with π(1…i) present
            for i in 0..<k { alpha[ordering[i]] += Double(v[i + 1]) - Double(v[i]) }
        }
        done += batch.count
        progress?(done, orderings.count)
    }
    return alpha.map { Float($0 / Double(orderings.count)) }
}

/// Algorithm 1 as written: for each ordering π, the K + 1 coalitions ∅, {π1}, {π1, π2}, …, all
/// are one mask each (`MapGame.values(masks:)`), and α_π(i) gains F^c(h_A(π1…i)) − F^c(h_A(π1…i−1)).
/// The literal twin of `shapCAMCoefficients`, which batches orderings and skips null players.
public func shapCAMCoefficientsOneMaskPerPrefix(game: MapGame, orderings: [[Int]],
                                                progress: ((Int, Int) -> Void)? = nil) -> [Float] {
    let k = game.playerCount
    var alpha = [Double](repeating: 0, count: k)
    for (done, ordering) in orderings.enumerated() {
        var prefixes = Tensor(shape: [k + 1, k])    // row i: the first i players of π present
        for i in 0 ..< k {
            for earlier in 0 ... i { prefixes.storage[(i + 1) * k + ordering[earlier]] = 1 }
        }
        let v = game.values(masks: prefixes)
        for i in 0 ..< k { alpha[ordering[i]] += Double(v[i + 1]) - Double(v[i]) }
        progress?(done + 1, orderings.count)
    }
    return alpha.map { Float($0 / Double(orderings.count)) }
}

/// Coalitions per batch in SHAP-CAM: large enough that the head's layers are efficient products
/// (VGG16's 4096×4096 layer on 2048 rows), small enough to keep the batch's activations near 100 MB.
public let shapRowsPerBatch = 2048

/// |Π| orderings of 0..<K drawn uniformly (Fisher–Yates) from a generator seeded with `seed`, so a
/// run is repeatable.
public func randomOrderings(count: Int, players: Int, seed: UInt64) -> [[Int]] {
    var generator = SplitMix64(seed: seed)
    return (0..<count).map { _ in
        // Written out rather than `shuffled(using:)`, whose algorithm the standard library may change.
        var ordering = Array(0..<players)
        for i in stride(from: players - 1, to: 0, by: -1) {
            ordering.swapAt(i, Int(generator.next() % UInt64(i + 1)))
        }
        return ordering
    }
}

/// SplitMix64 (Steele, Lea & Flood 2014): a small, fast, well-mixed generator whose output is the
/// same on every platform, unlike the system generator.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator whose sequence is fixed by `seed`.
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
