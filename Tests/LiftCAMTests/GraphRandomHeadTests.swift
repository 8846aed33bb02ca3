import LiftCAM
import XCTest

/// Eq 8 on heads built at random from every operator a graph runs: Σ_k α_k^lift = F^c(A) − F^c(0)
/// whatever the head holds (products, sums, joins, shuffles, pools, every nonlinearity), and the
/// literal path gives the same α.
final class GraphRandomHeadTests: XCTestCase {
    /// Tracks the current tensor and its shape `[C, h, w]` while a head grows.
    struct Growing {
        var g: ONNXTestGraph
        var x: String
        var channels: Int, height: Int, width: Int
    }

    /// One block drawn from the menu; returns what it used, for the failure message.
    static func addBlock(_ s: inout Growing, choice: Int, variant: Int) -> String {
        var g = s.g
        defer { s.g = g }
        let c = s.channels
        switch choice {
        case 0:
            let functions: [(String, [(String, ONNXAttributeValue)])] = [
                ("Relu", []), ("Sigmoid", []), ("HardSigmoid", [("alpha", .float(0.2)), ("beta", .float(0.5))]),
                ("HardSwish", []), ("Tanh", []), ("LeakyRelu", [("alpha", .float(0.1))])]
            let (op, attributes) = functions[variant % functions.count]
            s.x = g.apply(op, [s.x], attributes)
            return op
        case 1:
            s.x = g.apply("Clip", [s.x, g.weight([], scale: 0, offset: -0.5), g.weight([], scale: 0, offset: 1)])
            return "Clip"
        case 2:
            s.x = g.squeezeExcitation(s.x, c, hardGate: g.generator.next() % 2 == 0)
            return "SE"
        case 3:
            s.x = g.apply("Add", [s.x, g.apply("Relu", [g.conv(s.x, c, c)])])
            return "residual"
        case 4:
            guard c <= 8 else { return "skip" }
            s.x = g.apply("Concat", [s.x, g.apply("Sigmoid", [g.conv(s.x, c, c, kernel: 1)])], [("axis", .int(1))])
            s.channels = 2 * c
            return "concat"
        case 5:
            guard c % 2 == 0 else { return "skip" }
            let grouped = g.apply("Reshape", [s.x, g.integers([1, 2, Int64(c / 2), Int64(s.height), Int64(s.width)])])
            let swapped = g.apply("Transpose", [grouped], [("perm", .ints([0, 2, 1, 3, 4]))])
            s.x = g.apply("Reshape", [swapped, g.integers([1, -1, Int64(s.height), Int64(s.width)])])
            return "shuffle"
        case 6:
            guard c % 2 == 0 else { return "skip" }
            let halves = g.node("Split", [s.x, g.integers([Int64(c / 2), Int64(c / 2)])], [("axis", .int(1))], outputs: 2)
            s.x = g.apply("Concat", [halves[1], g.apply("Tanh", [halves[0]])], [("axis", .int(1))])
            return "split"
        case 7:
            guard c >= 3 else { return "skip" }
            s.x = g.apply("Slice", [s.x, g.integers([1]), g.integers([Int64(c)]), g.integers([1])])
            s.channels = c - 1
            return "slice"
        case 8:
            guard s.height >= 3, s.width >= 3 else { return "skip" }
            s.x = g.apply("MaxPool", [s.x], [("kernel_shape", .ints([3, 3])), ("strides", .ints([2, 2])),
                                            ("pads", .ints([1, 1, 1, 1])), ("ceil_mode", .int(1))])
            let pool = Pool2dShape(kernelHeight: 3, kernelWidth: 3, strideHeight: 2, strideWidth: 2, paddingHeight: 1,
                                   paddingWidth: 1, ceilMode: true)
            (s.height, s.width) = pool.outputSize(height: s.height, width: s.width)
            return "maxpool"
        case 9:
            guard s.height >= 2, s.width >= 2 else { return "skip" }
            s.x = g.apply("AveragePool", [s.x], [("kernel_shape", .ints([2, 2])), ("strides", .ints([2, 2]))])
            (s.height, s.width) = (s.height / 2, s.width / 2)
            return "avgpool"
        case 10:
            s.x = g.batchNorm(s.x, c)
            return "BN"
        case 11:
            let ops = ["Mul", "Add", "Sub", "Div"]
            let op = ops[Int(g.generator.next() % 4)]
            let constant = g.weight([c, 1, 1], scale: 0.5, offset: op == "Div" ? 2 : 0)
            s.x = g.generator.next() % 2 == 0 || op == "Div" ? g.apply(op, [s.x, constant]) : g.apply(op, [constant, s.x])
            return "constant " + op
        case 12:
            s.x = g.apply("Mul", [g.apply("Tanh", [s.x]), g.apply("Sigmoid", [g.conv(s.x, c, c)])])
            return "product"
        case 13:
            s.x = g.apply("Relu", [g.conv(s.x, c, c + 1, stride: 2)])
            (s.channels, s.height, s.width) = (c + 1, (s.height - 1) / 2 + 1, (s.width - 1) / 2 + 1)
            return "conv s2"
        default:
            let silu = g.apply("Mul", [s.x, g.apply("Sigmoid", [s.x])])
            s.x = silu
            return "SiLU"
        }
    }

    /// One of four head endings: pool + Linear; mean + MLP; SqueezeNet's conv classifier; MatMul.
    static func finish(_ s: inout Growing, choice: Int, classes: Int) -> String {
        var g = s.g
        defer { s.g = g }
        switch choice {
        case 0:
            s.x = g.linear(g.apply("Flatten", [g.apply("GlobalAveragePool", [s.x])]), s.channels, classes)
            return "pool-linear"
        case 1:
            let mean = g.apply("ReduceMean", [s.x], [("axes", .ints([2, 3])), ("keepdims", .int(0))])
            s.x = g.linear(g.apply("HardSwish", [g.linear(mean, s.channels, 7)]), 7, classes)
            return "mean-mlp"
        case 2:
            let scores = g.apply("Relu", [g.conv(s.x, s.channels, classes, kernel: 1)])
            s.x = g.apply("Flatten", [g.apply("GlobalAveragePool", [scores])])
            return "conv-classifier"
        default:
            let flat = g.apply("Flatten", [s.x])
            let features = s.channels * s.height * s.width
            let product = g.apply("MatMul", [flat, g.weight([features, 6], scale: 1 / Float(features).squareRoot())])
            s.x = g.linear(g.apply("Tanh", [g.apply("Add", [product, g.weight([6], scale: 0.1)])]), 6, classes)
            return "matmul"
        }
    }

    func testSummationToDeltaOnRandomHeadsOfEveryOperator() throws {
        var used = Set<String>()
        for seed in UInt64(1)...80 {
            var g = ONNXTestGraph(seed: seed)
            let maps = g.apply("Relu", [g.conv(g.input, 3, 4)])
            var s = Growing(g: g, x: maps, channels: 4, height: 9, width: 8)
            var recipe: [String] = []
            for _ in 0..<(3 + Int(seed % 3)) {
                let draw = Int(s.g.generator.next() >> 1)
                let name = Self.addBlock(&s, choice: draw % 15, variant: draw / 15)
                recipe.append(name)
                used.insert(name)
            }
            let ending = Self.finish(&s, choice: Int(seed % 4), classes: 3)
            used.insert(ending)
            let model = s.g.model(inputShape: [3, 9, 8], output: s.x)
            let network = Network(graph: try GraphModel(onnx: model, path: "random.onnx"))
            let input = TestNetworks.input([3, 9, 8], seed: seed)
            let explainer = try Explainer(network: network, layer: maps, input: input)
            let literal = try Explainer(network: network, layer: maps, input: input, literal: true)
            for target in 0..<3 {
                let alpha = try explainer.coefficients(.lift, target: target)
                let head = targetHead(explainer.network.head, target: target)
                let atZero = head.forward(Tensor(shape: [1, 4, 9, 8])).storage[0]
                let delta = explainer.logits[target] - atZero
                // Float rounding of F(A) and F(0) themselves bounds how well their difference is known.
                let scale = max(abs(delta), alpha.map(abs).reduce(0, +), abs(atZero), abs(explainer.logits[target]), 1e-3)
                XCTAssertEqual(alpha.reduce(0, +), delta, accuracy: 1e-5 * scale, "seed \(seed) \(recipe) \(ending), class \(target)")
                let literalAlpha = try literal.coefficients(.lift, target: target)
                let difference = zip(literalAlpha, alpha).map { abs($0 - $1) }.max()!
                XCTAssertLessThan(difference, 1e-4 * scale, "literal path, seed \(seed) \(recipe)")
            }
        }
        // Every block and ending of the menu was drawn at least once.
        for name in ["Relu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "LeakyRelu", "Clip", "SE", "residual", "concat", "shuffle", "split", "slice",
                     "maxpool", "avgpool", "BN", "product", "conv s2", "SiLU", "pool-linear", "mean-mlp", "conv-classifier", "matmul"] {
            XCTAssertTrue(used.contains(name), "no random head used \(name)")
        }
    }
}
