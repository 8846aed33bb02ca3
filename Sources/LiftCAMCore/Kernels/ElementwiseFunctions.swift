// The elementwise nonlinearities of MobileNet and EfficientNet (sigmoid, SiLU, hard sigmoid, hard
// swish, clip, tanh, leaky ReLU) sixteen lanes at a time. SiLU alone follows every convolution of
// EfficientNet, so its exponential must not be a scalar call per element (it was 86 % of the forward
// pass). The naive twin is `ElementwiseFunction.value` element by element (Elementary.exp in Double).

/// e^x lane by lane in Float: x = n·ln 2 + r with |r| ≤ ln 2 / 2, e^r by its degree-6 Taylor
/// polynomial (error below 2e-7 relative on that interval), times 2^n built in the exponent bits.
/// Inputs are clamped to [−87.3, 88.3], where e^x is a normal Float, so n stays in [−126, 127].
@inline(__always)
func exponential(_ x: Float32x16) -> Float32x16 {
    // `clamped` (masked replacement): pointwiseMin/Max compiled to one comparison per lane, which
    // made SiLU 20× slower than a ReLU.
    let clamped = x.clamped(-87.3, 88.3)
    // n = round(x / ln 2) by adding 1.5·2^23, which leaves n in the low mantissa bits (no rounding
    // call: SIMD16's `rounded` is a library call per lane).
    let shifted = multiplyAdd(Float32x16(repeating: 12_582_912), 1.442_695_04, clamped)
    let n = shifted - 12_582_912
    // r = x − n·ln 2, with ln 2 split in two so that n·ln2High is exact.
    let r = multiplyAdd(multiplyAdd(clamped, -0.693_145_75, n), -1.428_606_8e-6, n)
    var p = Float32x16(repeating: 1.0 / 720)
    p = multiplyAdd(Float32x16(repeating: 1.0 / 120), p, r)
    p = multiplyAdd(Float32x16(repeating: 1.0 / 24), p, r)
    p = multiplyAdd(Float32x16(repeating: 1.0 / 6), p, r)
    p = multiplyAdd(Float32x16(repeating: 0.5), p, r)
    p = multiplyAdd(Float32x16(repeating: 1), p, r)
    p = multiplyAdd(Float32x16(repeating: 1), p, r)
    // 2^n: n moved from the low mantissa bits of `shifted` into the exponent field.
    let exponent = (unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- 0x4B40_0000 &+ 127) &<< 23
    return p * unsafeBitCast(exponent, to: Float32x16.self)
}

/// 1 / (1 + e^−x) lane by lane (for x ≪ 0, e^−x is clamped large and the result is ~1e-38, not 0/∞).
@inline(__always)
func logistic(_ x: Float32x16) -> Float32x16 {
    1 / (1 + exponential(-x))
}

extension ElementwiseFunction {
    /// f on sixteen lanes: the same function as `value`, to Float rounding (`exponential`'s).
    @inline(__always)
    func lanes(_ x: Float32x16) -> Float32x16 {
        switch self {
        case .clip(let lower, let upper):
            // Masked replacement, as `relu` (pointwiseMin/Max ran 40× slower).
            return x.clamped(lower, upper)
        case .sigmoid: return logistic(x)
        case .hardSigmoid(let alpha, let beta):
            return multiplyAdd(Float32x16(repeating: beta), alpha, x).clamped(0, 1)
        case .hardSwish:
            return x * multiplyAdd(Float32x16(repeating: 0.5), 1 / 6, x).clamped(0, 1)
        case .silu: return x * logistic(x)
        case .tanh: return 2 * logistic(2 * x) - 1
        case .leakyReLU(let alpha): return x.replacing(with: alpha * x, where: x .< 0)
        }
    }
}

/// y = f(x) element by element: SIMD16 over blocks spread over the cores (the tail through the same
/// lanes, padded), so every element gets the same arithmetic wherever it sits.
public func applyElementwise(_ function: ElementwiseFunction, _ x: Tensor) -> Tensor {
    makeTensor(shape: x.shape) { output in
        x.storage.withUnsafeBufferPointer { input in
            let source = input.baseAddress!, target = output.baseAddress!
            forEachBlock(count: x.count) { range in
                var i = range.lowerBound
                while i + 16 <= range.upperBound {
                    storeLanes(function.lanes(loadLanes(source + i)), target + i)
                    i += 16
                }
                if i < range.upperBound {
                    var padded = Float32x16.zero
                    for j in 0..<(range.upperBound - i) { padded[j] = source[i + j] }
                    let result = function.lanes(padded)
                    for j in 0..<(range.upperBound - i) { target[i + j] = result[j] }
                }
            }
        }
    }
}

/// The plain loop of `applyElementwise`: f(x) per element, e^x in Double (`Elementary.exp`).
///
/// Reference implementation: literal mode, tests and benchmarks (ARCHITECTURE.md, "Naive twins").
public func applyElementwiseNaive(_ function: ElementwiseFunction, _ x: Tensor) -> Tensor {
    Tensor(shape: x.shape, storage: x.storage.map { function.value($0) })
}
