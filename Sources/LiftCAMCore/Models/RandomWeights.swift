/// Seeded random weights for any architecture: for tests, benchmarks and trying the tool without
/// trained weights. Each tensor depends only on the seed and its key, so the same network comes out
/// on every machine and in any build order.
///
/// Weights are He-normal (std √(2/fan-in)), biases N(0, 0.05²); batch-norm gets γ ∈ [0.5, 1.5],
/// β and running means N(0, 0.1²) and running variances in [0.5, 2], so it is never the identity.
public struct RandomWeights: WeightSource {
    /// The seed every tensor is drawn from, together with its key.
    public let seed: UInt64

    /// The weights of this seed.
    public init(seed: UInt64) { self.seed = seed }

    public func tensor(_ key: String, shape: [Int]) throws(LiftCAMError) -> Tensor {
        var generator = SplitMix64(seed: seed ^ fnv1a(key))
        let count = shape.product
        func uniform() -> Float { Float(generator.next() >> 40) / Float(1 << 24) }
        func normal() -> Float {   // Box–Muller
            let u1 = max(uniform(), 1e-7), u2 = uniform()
            return (-2 * Elementary.log(u1)).squareRoot() * Elementary.cos(2 * Float.pi * u2)
        }
        let values: [Float]
        if key.hasSuffix("running_var") {
            values = (0..<count).map { _ in 0.5 + 1.5 * uniform() }
        } else if key.hasSuffix("running_mean") || (key.hasSuffix(".bias") && isBatchNorm(key)) {
            values = (0..<count).map { _ in 0.1 * normal() }
        } else if key.hasSuffix(".weight") && shape.count == 1 {
            values = (0..<count).map { _ in 0.5 + uniform() }
        } else if key.hasSuffix(".bias") {
            values = (0..<count).map { _ in 0.05 * normal() }
        } else {
            let std = (2 / Float(max(1, shape.dropFirst().reduce(1, *)))).squareRoot()
            values = (0..<count).map { _ in std * normal() }
        }
        return Tensor(shape: shape, storage: values)
    }

    public func unusedKeys(requested: Set<String>) -> [String] { [] }

    private func isBatchNorm(_ key: String) -> Bool {
        containsBytes(key, ".bn") || key.hasPrefix("bn") || containsBytes(key, "downsample.1")
    }
}

/// Whether `text` contains `part`, compared byte by byte (String's own search needs the string
/// processing library, which Embedded Swift does not have).
func containsBytes(_ text: String, _ part: String) -> Bool {
    let haystack = Array(text.utf8), needle = Array(part.utf8)
    guard needle.count <= haystack.count else { return false }
    for start in 0...(haystack.count - needle.count) where haystack[start..<(start + needle.count)].elementsEqual(needle) {
        return true
    }
    return false
}

/// FNV-1a, a stable 64-bit hash of a string (Swift's `hashValue` changes from run to run).
func fnv1a(_ text: String) -> UInt64 {
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    for byte in text.utf8 {
        hash ^= UInt64(byte)
        hash = hash &* 0x0000_0100_0000_01B3
    }
    return hash
}

extension RandomWeights {
    /// Every tensor `architecture` needs, by state-dict key: a complete random state dict, e.g. to
    /// write a weight directory with `writeWeightDirectory`.
    public func stateDictionary(for architecture: Architecture) throws(LiftCAMError) -> [String: Tensor] {
        final class Recorder: WeightSource {
            let inner: RandomWeights
            var tensors: [String: Tensor] = [:]
            init(_ inner: RandomWeights) { self.inner = inner }
            func tensor(_ key: String, shape: [Int]) throws(LiftCAMError) -> Tensor {
                let tensor = try inner.tensor(key, shape: shape)
                tensors[key] = tensor
                return tensor
            }
            func unusedKeys(requested: Set<String>) -> [String] { [] }
        }
        let recorder = Recorder(self)
        _ = try Network(architecture: architecture, weights: recorder)
        return recorder.tensors
    }
}
