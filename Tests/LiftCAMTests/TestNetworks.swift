import LiftCAM
import XCTest

/// Small seeded networks of both families, with every kind of layer the engine has.
enum TestNetworks {
    /// VGG-style: max-pools, ReLUs, an adaptive pool with unequal bins and a two-hidden-layer
    /// classifier, so the head (after the last ReLU) is nonlinear, like VGG16's.
    static func vgg(batchNorm: Bool = false, lastWidth: Int = 12, seed: UInt64 = 1) throws -> Network {
        let architecture = Architecture.vgg(VGGConfiguration(
            config: [.convolution(6), .maxPool, .convolution(8), .convolution(lastWidth), .maxPool, .convolution(lastWidth)],
            batchNorm: batchNorm, pool: (3, 3), classifier: [24, 16], classes: 5, inputShape: [3, 26, 22]))
        return try Network(architecture: architecture, weights: RandomWeights(seed: seed))
    }

    /// ResNet-style with `width` → layer4 has 8·width maps (basic blocks); its head after layer4
    /// (average pool and fc) is linear.
    static func resnet(block: ResNetConfiguration.Block = .basic, width: Int = 2, seed: UInt64 = 2) throws -> Network {
        let architecture = Architecture.resnet(ResNetConfiguration(
            block: block, layers: [1, 2, 1, 1], width: width, classes: 6, inputShape: [3, 40, 36]))
        return try Network(architecture: architecture, weights: RandomWeights(seed: seed))
    }

    static func input(_ shape: [Int], seed: UInt64) -> Tensor {
        var generator = SplitMix64(seed: seed)
        return Tensor(shape: shape, storage: (0..<shape.reduce(1, *)).map { _ in
            Float(generator.next() >> 40) / Float(1 << 23) - 1
        })
    }
}

/// max |a − b| / max(max |b|, tiny): the relative error measure used throughout (as llm.c prints it).
func relativeError(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "\(a.count) vs \(b.count) values")
    let scale = max(b.map(abs).max() ?? 0, 1e-12)
    return zip(a, b).map { abs($0 - $1) }.max().map { $0 / scale } ?? 0
}
