import LiftCAM
import XCTest

/// Graph networks (ONNX models) built in memory: the DeepLIFT rules of the new operations keep
/// summation-to-delta (Eq 8) exact, LIFT-CAM equals exact SHAP on a linear head, gradients agree
/// with finite differences, and bad graphs are refused by node.
final class GraphNetworkTests: XCTestCase {
    /// A MobileNetV3-like network: conv-BN-hardswish stem, an inverted residual block with a
    /// hard-gated SE, a 1×1 expansion with ReLU6 (the split), then an EfficientNet-like SE block with
    /// SiLU and a residual sum, and a head Linear → Hardswish → Linear.
    static func mobileNetLike(seed: UInt64 = 7, channels: Int = 6) -> (model: ONNXModel, split: String) {
        var g = ONNXTestGraph(seed: seed)
        var x = g.apply("HardSwish", [g.batchNorm(g.conv(g.input, 3, channels, stride: 2), channels)])
        let expanded = g.apply("Clip", [g.batchNorm(g.conv(x, channels, 2 * channels, kernel: 1), 2 * channels), g.weight([], scale: 0),
                                        g.weight([], scale: 0, offset: 6)])
        let gated = g.squeezeExcitation(expanded, 2 * channels, hardGate: true)
        x = g.apply("Add", [x, g.batchNorm(g.conv(gated, 2 * channels, channels, kernel: 1), channels)])
        let maps = g.apply("Clip", [g.conv(x, channels, 8, kernel: 1), g.weight([], scale: 0), g.weight([], scale: 0, offset: 6)])
        let sigmoid = g.apply("Sigmoid", [maps])
        let silu = g.apply("Mul", [maps, sigmoid])
        let block = g.apply("Add", [maps, g.squeezeExcitation(silu, 8, hardGate: false)])
        let pooled = g.apply("Flatten", [g.apply("GlobalAveragePool", [block])])
        let logits = g.linear(g.apply("HardSwish", [g.linear(pooled, 8, 12)]), 12, 5)
        return (g.model(inputShape: [3, 12, 10], output: logits), maps)
    }

    func network(_ model: ONNXModel) throws -> Network {
        Network(graph: try GraphModel(onnx: model, path: "test.onnx"))
    }

    func testSummationToDeltaAndLiteralAgreementOnAnSEHead() throws {
        let (model, split) = Self.mobileNetLike()
        let network = try network(model)
        let input = TestNetworks.input([3, 12, 10], seed: 3)
        let explainer = try Explainer(network: network, layer: split, input: input)
        let literal = try Explainer(network: network, layer: split, input: input, literal: true)
        XCTAssertEqual(explainer.activations.shape, [8, 6, 5])
        XCTAssertLessThan(relativeError(explainer.logits, literal.logits), 1e-5)
        XCTAssertLessThan(relativeError(network.forward(input.batched).storage, explainer.logits), 1e-5)
        for target in 0..<5 {
            let head = targetHead(explainer.network.head, target: target)
            let alpha = try explainer.coefficients(.lift, target: target)
            let atZero = head.forward(Tensor(shape: [1] + explainer.activations.shape)).storage[0]
            let delta = explainer.logits[target] - atZero
            XCTAssertEqual(alpha.reduce(0, +), delta, accuracy: 1e-4 * max(1, abs(delta)), "Eq 8, class \(target)")
            XCTAssertLessThan(relativeError(try literal.coefficients(.lift, target: target), alpha), 1e-4)
        }
    }

    func testGradientMatchesFiniteDifferences() throws {
        let (model, split) = Self.mobileNetLike(seed: 11)
        let explainer = try Explainer(network: try network(model), layer: split, input: TestNetworks.input([3, 12, 10], seed: 5))
        let head = targetHead(explainer.network.head, target: 2)
        let gradient = headGradient(head: head, activations: explainer.activations)
        var maps = explainer.activations
        let step: Float = 1e-2
        var worst: Float = 0
        for i in stride(from: 0, to: maps.count, by: 7) {
            let saved = maps.storage[i]
            maps.storage[i] = saved + step
            let up = head.forward(maps.batched).storage[0]
            maps.storage[i] = saved - step
            let down = head.forward(maps.batched).storage[0]
            maps.storage[i] = saved
            worst = max(worst, abs((up - down) / (2 * step) - gradient.storage[i]))
        }
        XCTAssertLessThan(worst, 2e-3 * max(1, gradient.storage.map(abs).max()!))
    }

    func testSiLUIsFusedAndProductsUseTheShapleySplit() throws {
        let graph = try GraphModel(onnx: Self.mobileNetLike().model, path: "test.onnx").graph
        let functions = graph.steps.compactMap { (($0.operation as? LayerOperation)?.layer as? ElementwiseLayer)?.function }
        XCTAssertTrue(functions.contains(.silu), "Mul(x, Sigmoid(x)) reads as SiLU")
        XCTAssertEqual(graph.steps.filter { $0.operation is ProductOperation }.count, 2, "the two SE products stay products")

        // Σ m_x Δx + Σ m_y Δy = Δ(xy), with y broadcast over the spatial dimensions.
        let product = ProductOperation(name: "p")
        let x = TestNetworks.input([1, 3, 4, 5], seed: 1), y = TestNetworks.input([1, 3, 1, 1], seed: 2)
        let x0 = TestNetworks.input([1, 3, 4, 5], seed: 3), y0 = TestNetworks.input([1, 3, 1, 1], seed: 4)
        let (z, trace) = product.forwardTrace([x, y]), (z0, reference) = product.forwardTrace([x0, y0])
        let m = TestNetworks.input([1, 3, 4, 5], seed: 9)
        let multipliers = product.backward([m], trace: trace, reference: reference)
        var contributions: Float = 0, change: Float = 0
        for i in 0..<x.count { contributions += multipliers[0].storage[i] * (x.storage[i] - x0.storage[i]) }
        for i in 0..<y.count { contributions += multipliers[1].storage[i] * (y.storage[i] - y0.storage[i]) }
        for i in 0..<z[0].count { change += m.storage[i] * (z[0].storage[i] - z0[0].storage[i]) }
        XCTAssertEqual(contributions, change, accuracy: 1e-5)
    }

    func testLinearGraphHeadGivesLiftEqualToExactSHAP() throws {
        var g = ONNXTestGraph(seed: 21)
        let a = g.apply("Relu", [g.conv(g.input, 3, 6)])
        let b = g.apply("Relu", [g.conv(a, 6, 6)])
        let maps = g.apply("Concat", [a, b], [("axis", .int(1))])
        let logits = g.linear(g.apply("ReduceMean", [maps], [("axes", .ints([2, 3])), ("keepdims", .int(0))]), 12, 4)
        let explainer = try Explainer(network: try network(g.model(inputShape: [3, 7, 6], output: logits)), layer: maps,
                                      input: TestNetworks.input([3, 7, 6], seed: 8))
        XCTAssertNotNil(explainer.headDecomposition, "a chain head [mean, Linear] takes the decomposition")
        for target in 0..<4 {
            let lift = try explainer.coefficients(.lift, target: target)
            XCTAssertLessThan(relativeError(lift, try explainer.coefficients(.shapExact, target: target)), 1e-5)
            XCTAssertLessThan(relativeError(lift, try explainer.coefficients(.xgradcam, target: target)), 1e-5)
        }
    }

    func testBadGraphsAreRefusedByNode() throws {
        var g = ONNXTestGraph(seed: 1)
        let odd = g.apply("Gelu", [g.input])
        XCTAssertThrowsError(try GraphModel(onnx: g.model(inputShape: [3, 4, 4], output: odd), path: "m.onnx")) { error in
            let message = "\(error)"
            XCTAssertTrue(message.hasPrefix("m.onnx: Gelu node '/Gelu_1'"), message)
            XCTAssertTrue(message.contains("supported: Add, AveragePool"), message)
        }
        var cyclic = ONNXTestGraph(seed: 1)
        cyclic.nodes = [ONNXNode(name: "a", opType: "Relu", inputs: ["t2"], outputs: ["t1"]),
                        ONNXNode(name: "b", opType: "Relu", inputs: ["t1"], outputs: ["t2"])]
        XCTAssertThrowsError(try GraphModel(onnx: cyclic.model(inputShape: [3, 4, 4], output: "t2"), path: "c.onnx")) { error in
            XCTAssertEqual("\(error)", "c.onnx: Relu node 'a': the graph has a cycle through this node")
        }
        var dangling = ONNXTestGraph(seed: 1)
        let out = dangling.apply("Add", [dangling.input, "nowhere"])
        XCTAssertThrowsError(try GraphModel(onnx: dangling.model(inputShape: [3, 4, 4], output: out), path: "d.onnx")) { error in
            XCTAssertTrue("\(error)".contains("input 'nowhere' is not computed by any node"), "\(error)")
        }
        var mismatch = ONNXTestGraph(seed: 1)
        let conv = mismatch.conv(mismatch.input, 4, 2)
        XCTAssertThrowsError(try GraphModel(onnx: mismatch.model(inputShape: [3, 4, 4], output: conv), path: "s.onnx")) { error in
            XCTAssertTrue("\(error)".hasPrefix("s.onnx: Conv node '/Conv_3': weight [2, 4, 3, 3]"), "\(error)")
        }
    }

    func testSplitsThatASkipConnectionCrossesAreRefused() throws {
        let (model, _) = Self.mobileNetLike()
        let network = try network(model)
        // The tensor inside the first residual block: the block's input also reaches the sum.
        let inside = try GraphModel(onnx: model, path: "test.onnx").graph.steps.first { $0.operation is ProductOperation }!.outputs[0]
        let name = try GraphModel(onnx: model, path: "test.onnx").graph.slotNames[inside]
        XCTAssertThrowsError(try network.split(at: name)) { error in
            XCTAssertTrue("\(error)".contains("cannot split the network"), "\(error)")
            XCTAssertTrue("\(error)".contains("computed before it"), "\(error)")
        }
        XCTAssertThrowsError(try network.split(at: "no_such_tensor")) { error in
            XCTAssertTrue("\(error)".hasPrefix("unknown layer 'no_such_tensor': test.onnx has no tensor or node of that name"), "\(error)")
        }
    }

    /// LRP-0 equals input × gradient on a bias-free ReLU network (Ancona et al. 2018), here one with a
    /// residual sum and a concatenation, so the graph's sum and join rules are held to it.
    func testGraphLRPEqualsInputTimesGradientWithoutBiases() throws {
        var g = ONNXTestGraph(seed: 31)
        let maps = g.apply("Relu", [g.conv(g.input, 3, 5, bias: false)])
        let inner = g.apply("Relu", [g.conv(maps, 5, 5, bias: false)])
        let summed = g.apply("Add", [maps, g.conv(inner, 5, 5, bias: false)])
        let joined = g.apply("Concat", [g.apply("Relu", [summed]), inner], [("axis", .int(1))])
        let logits = g.linear(g.apply("Flatten", [g.apply("GlobalAveragePool", [joined])]), 10, 3, bias: false)
        let explainer = try Explainer(network: try network(g.model(inputShape: [3, 6, 6], output: logits)), layer: maps,
                                      input: TestNetworks.input([3, 6, 6], seed: 4))
        XCTAssertNil(explainer.headDecomposition, "a graph head")
        for target in 0..<3 {
            XCTAssertLessThan(relativeError(try explainer.coefficients(.lrp, target: target),
                                            try explainer.coefficients(.xgradcam, target: target)), 1e-4)
        }
    }

    /// Operators that would trap later (found by a second reading) are refused when the model loads.
    func testMalformedOperatorsAreRefusedAtLoad() throws {
        func refusal(_ build: (inout ONNXTestGraph) -> String) -> String {
            var g = ONNXTestGraph(seed: 3)
            let output = build(&g)
            do {
                _ = try GraphModel(onnx: g.model(inputShape: [3, 6, 6], output: output), path: "m.onnx")
                return "accepted"
            } catch {
                return "\(error)"
            }
        }
        XCTAssertTrue(refusal { g in
            g.node("Split", [g.input, g.integers([1, 1, 1])], [("axis", .int(1))], outputs: 2)[0]
        }.contains("3 split sizes for 2 outputs"))
        XCTAssertTrue(refusal { g in
            g.apply("Add", [g.input, g.apply("Reshape", [g.input, g.integers([1, 108])])])
        }.contains("cannot add shapes [1, 3, 6, 6] and [1, 108]"))
        XCTAssertTrue(refusal { g in
            g.apply("MaxPool", [g.input], [("kernel_shape", .ints([1, 1])), ("pads", .ints([1, 1, 1, 1]))])
        }.contains("exceed half the window"))
        XCTAssertTrue(refusal { g in
            g.apply("Add", [g.input, g.apply("Squeeze", [g.weight([2, 3]), g.integers([0])])])
        }.contains("cannot squeeze axes [0] of shape [2, 3]"))
        XCTAssertTrue(refusal { g in
            g.apply("Slice", [g.input, g.integers([5]), g.integers([5]), g.integers([3])])
        }.contains("is empty"))
    }

    /// An Identity's (or Dropout's) output names the same tensor as its input: a split may use it.
    func testSplitsAcceptIdentityOutputs() throws {
        var g = ONNXTestGraph(seed: 5)
        let maps = g.apply("Relu", [g.conv(g.input, 3, 4)])
        let alias = g.apply("Identity", [maps])
        let logits = g.linear(g.apply("Flatten", [g.apply("GlobalAveragePool", [alias])]), 4, 2)
        let network = try network(g.model(inputShape: [3, 6, 6], output: logits))
        let input = TestNetworks.input([3, 6, 6], seed: 1)
        let byAlias = try Explainer(network: network, layer: alias, input: input)
        let byName = try Explainer(network: network, layer: maps, input: input)
        XCTAssertEqual(byAlias.activations, byName.activations)
        XCTAssertEqual(try byAlias.coefficients(.lift, target: 1), try byName.coefficients(.lift, target: 1))
    }
}
