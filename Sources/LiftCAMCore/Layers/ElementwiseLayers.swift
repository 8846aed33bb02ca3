// The elementwise nonlinearities of the networks ONNX brings (MobileNet, EfficientNet, …): clipping
// (ReLU6), the sigmoid, the hard sigmoid, the hard swish, SiLU and tanh. DeepLIFT-Rescale treats each
// the same way as ReLU (NonlinearLayers.swift): the multiplier is Δy/Δx between the input and the
// reference, and the gradient f'(x) where |Δx| < `rescaleEpsilon` (SPEC.md, "DeepLIFT rules").

/// y = f(x), one element at a time.
public enum ElementwiseFunction: Equatable, Sendable {
    /// min(max(x, lower), upper): ONNX Clip; ReLU6 is clip(0, 6).
    case clip(lower: Float, upper: Float)
    /// 1 / (1 + e^−x).
    case sigmoid
    /// max(0, min(1, αx + β)): ONNX HardSigmoid (PyTorch's Hardsigmoid is α = 1/6, β = 1/2).
    case hardSigmoid(alpha: Float, beta: Float)
    /// x · hardSigmoid(x) with α = 1/6, β = 1/2: ONNX HardSwish, PyTorch's Hardswish.
    case hardSwish
    /// x · sigmoid(x): SiLU (Swish), which exporters write as Mul(x, Sigmoid(x)).
    case silu
    /// tanh(x).
    case tanh
    /// x for x ≥ 0, αx below: ONNX LeakyRelu.
    case leakyReLU(alpha: Float)

    /// f(x): `preciseValue` rounded to Float (one transcription of each function).
    public func value(_ x: Float) -> Float { Float(preciseValue(Double(x))) }

    /// f'(x), with PyTorch's choices at the kinks (the derivative of clip is 1 strictly inside the
    /// interval, as torch's hardtanh_backward; hardswish's is x/3 + 1/2 on [−3, 3]).
    public func derivative(_ x: Float) -> Float {
        switch self {
        case .clip(let lower, let upper): return x > lower && x < upper ? 1 : 0
        case .sigmoid:
            let s = Float(logistic(Double(x)))
            return s * (1 - s)
        case .hardSigmoid(let alpha, let beta):
            let z = alpha * x + beta
            return z > 0 && z < 1 ? alpha : 0
        case .hardSwish: return x < -3 ? 0 : (x <= 3 ? x / 3 + 0.5 : 1)
        case .silu:
            let s = Float(logistic(Double(x)))
            return s * (1 + x * (1 - s))
        case .tanh:
            let t = value(x)
            return 1 - t * t
        case .leakyReLU(let alpha): return x > 0 ? 1 : alpha
        }
    }

    /// f(x) in Double: the Rescale ratio (f(x) − f(r))/(x − r) divides a difference of two close
    /// values by a small Δx, so it is formed from Double values, not from the Float outputs.
    public func preciseValue(_ x: Double) -> Double {
        switch self {
        case .clip(let lower, let upper): return min(max(x, Double(lower)), Double(upper))
        case .sigmoid: return logistic(x)
        case .hardSigmoid(let alpha, let beta): return min(max(Double(alpha) * x + Double(beta), 0), 1)
        case .hardSwish: return x * min(max(x / 6 + 0.5, 0), 1)
        case .silu: return x * logistic(x)
        case .tanh: return 2 * logistic(2 * x) - 1
        case .leakyReLU(let alpha): return x >= 0 ? x : Double(alpha) * x
        }
    }

    /// The ONNX operator it comes from, for names and messages.
    public var operatorName: String {
        switch self {
        case .clip: return "Clip"
        case .sigmoid: return "Sigmoid"
        case .hardSigmoid: return "HardSigmoid"
        case .hardSwish: return "HardSwish"
        case .silu: return "SiLU"
        case .tanh: return "Tanh"
        case .leakyReLU: return "LeakyRelu"
        }
    }
}

/// 1 / (1 + e^−x) in Double, without overflow for large |x|.
func logistic(_ x: Double) -> Double {
    if x >= 0 { return 1 / (1 + Elementary.exp(-x)) }
    let e = Elementary.exp(x)
    return e / (1 + e)
}

/// An elementwise nonlinearity y = f(x) as a layer.
public final class ElementwiseLayer: Layer {
    public let name: String
    /// f.
    public let function: ElementwiseFunction
    /// Its forward pass: SIMD16 lanes (`applyElementwise`) or the naive loop.
    public let kernels: KernelChoice

    /// The layer applying `function`, named `name` (its node or module path).
    public init(name: String, function: ElementwiseFunction, kernels: KernelChoice = .fast) {
        self.name = name
        self.function = function
        self.kernels = kernels
    }

    public func using(_ kernels: KernelChoice) -> ElementwiseLayer { ElementwiseLayer(name: name, function: function, kernels: kernels) }

    public func outputShape(for inputShape: [Int]) throws(LiftCAMError) -> [Int] { inputShape }

    public func forward(_ input: Tensor) -> Tensor {
        kernels == .literal ? applyElementwiseNaive(function, input) : applyElementwise(function, input)
    }

    /// Gradient: m·f'(x). Rescale: m·(f(x) − f(r))/(x − r), or m·f'(x) where |x − r| < `rescaleEpsilon`
    /// (Captum's rule for its nonlinearities, applied to every one here); the ratio in Double
    /// (`preciseValue`).
    public func backward(_ outputMultipliers: Tensor, trace: Trace, reference: Trace?) -> Tensor {
        var result = outputMultipliers
        let f = function
        result.storage.withUnsafeMutableBufferPointer { m in
            trace.input.storage.withUnsafeBufferPointer { x in
                guard let reference else {
                    for i in m.indices { m[i] *= f.derivative(x[i]) }
                    return
                }
                reference.input.storage.withUnsafeBufferPointer { r in
                    for i in m.indices {
                        let deltaIn = x[i] - r[i]
                        if abs(deltaIn) < rescaleEpsilon {
                            m[i] *= f.derivative(x[i])
                        } else {
                            let (a, b) = (Double(x[i]), Double(r[i]))
                            m[i] *= Float((f.preciseValue(a) - f.preciseValue(b)) / (a - b))
                        }
                    }
                }
            }
        }
        return result
    }
}

/// Keeps one column of `[N, classes]` logits: `[N, 1]`. Appended to a head whose last layer is not a
/// Linear one that `targetHead` could cut (a SqueezeNet head ends with pooling), so every method sees
/// F^c alone. It is linear: its multiplier is its gradient, which puts m in column `target`.
public final class ClassSelectionLayer: Layer {
    public let name: String
    /// The kept column.
    public let target: Int

    /// Keeps column `target`.
    public init(name: String = "class", target: Int) {
        self.name = name
        self.target = target
    }

    public func using(_ kernels: KernelChoice) -> ClassSelectionLayer { self }

    public func outputShape(for inputShape: [Int]) throws(LiftCAMError) -> [Int] {
        guard inputShape.count == 1, inputShape[0] > target else {
            throw LiftCAMError("\(name): class \(target) of an output \(inputShape)")
        }
        return [1]
    }

    public func forward(_ input: Tensor) -> Tensor {
        let (n, classes) = (input.shape[0], input.count / max(input.shape[0], 1))
        return Tensor(shape: [n, 1], storage: (0..<n).map { input.storage[$0 * classes + target] })
    }

    public func backward(_ outputMultipliers: Tensor, trace: Trace, reference: Trace?) -> Tensor {
        var result = Tensor(shape: trace.input.shape)
        let classes = trace.input.count / max(trace.input.shape[0], 1)
        for n in 0..<trace.input.shape[0] { result.storage[n * classes + target] = outputMultipliers.storage[n] }
        return result
    }
}
