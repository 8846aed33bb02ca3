// What a consumer of LiftCAM measures: GEMM 512³ and a VGG16 forward pass (224×224, seeded random
// weights, batch 1), through the public API only, on every core. Prints one `name value unit` line
// per figure, for Benchmarks/dependency_speed.sh to collect.
import Foundation  // exit only
import LiftCAM

usePlatformServices()

/// Wall time of one call of `body`, in seconds (`seconds` and `median` are the library's own).
func timed(_ body: () -> Void) -> Double {
    seconds(ContinuousClock().measure(body))
}

/// Values in [-1, 1) from a fixed linear congruential sequence: the same matrices in every build.
func pseudoRandomValues(_ count: Int, seed: UInt64) -> [Float] {
    var state = seed
    return (0 ..< count).map { _ in
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Float(state >> 40) / Float(1 << 23) - 1
    }
}

let size = 512
let a = pseudoRandomValues(size * size, seed: 1), b = pseudoRandomValues(size * size, seed: 2)
var c = [Float](repeating: 0, count: size * size)
var gemmTimes: [Double] = []
for _ in 0 ..< 21 {
    gemmTimes.append(timed {
        c.withUnsafeMutableBufferPointer { product in
            gemm(m: size, n: size, k: size, a: a, lda: size, transA: false, b: b, ldb: size, transB: false,
                 c: product.baseAddress!, ldc: size, accumulate: false)
        }
    })
}
// The first run pays for page faults and packing buffers; the fastest of the rest is the kernel's.
let gemmSeconds = gemmTimes.dropFirst().min()!
print("gemm-512 \(2 * Double(size * size * size) / gemmSeconds / 1e9) GFLOP/s")

do {
    let network = try Network(architecture: Architecture.named("vgg16")!, weights: RandomWeights(seed: 1))
    let input = Tensor(shape: [1, 3, 224, 224], storage: pseudoRandomValues(3 * 224 * 224, seed: 3))
    _ = network.forward(input)
    let forwardTimes = (0 ..< 7).map { _ in timed { _ = network.forward(input) } }
    print("vgg16-forward \(median(forwardTimes)) s")
} catch {
    print("liftcam-consumer: \(error)")
    exit(1)
}
