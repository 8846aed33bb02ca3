import LiftCAM

/// Builds ONNX models in memory, node by node, with seeded random weights: the graphs the graph
/// tests run (no file, no protobuf: `GraphModel(onnx:path:)` takes the decoded values).
struct ONNXTestGraph {
    var nodes: [ONNXNode] = []
    var initializers: [ONNXTensor] = []
    var generator: SplitMix64
    var counter = 0
    let input: String = "image"

    init(seed: UInt64) { generator = SplitMix64(seed: seed) }

    /// A uniform number in [−1, 1).
    mutating func uniform() -> Float { Float(generator.next() >> 40) / Float(1 << 23) - 1 }

    /// A fresh tensor name.
    mutating func fresh(_ stem: String) -> String {
        counter += 1
        return "\(stem)_\(counter)"
    }

    /// An initializer of random values in [offset − scale, offset + scale).
    mutating func weight(_ dims: [Int], scale: Float = 0.5, offset: Float = 0) -> String {
        let name = fresh("w")
        let values = (0..<dims.reduce(1, *)).map { _ in offset + scale * uniform() }
        initializers.append(ONNXTensor(name: name, dims: dims, data: .floats(values)))
        return name
    }

    /// An integer initializer (shapes, axes).
    mutating func integers(_ values: [Int64], dims: [Int]? = nil) -> String {
        let name = fresh("i")
        initializers.append(ONNXTensor(name: name, dims: dims ?? [values.count], data: .integers(values)))
        return name
    }

    /// A node `op` on `inputs`; returns its outputs' names.
    @discardableResult
    mutating func node(_ op: String, _ inputs: [String], _ attributes: [(String, ONNXAttributeValue)] = [],
                       outputs: Int = 1) -> [String] {
        let names = (0..<outputs).map { _ in fresh(op.lowercased()) }
        nodes.append(ONNXNode(name: "/\(op)_\(counter)", opType: op, inputs: inputs, outputs: names,
                              attributes: attributes.map { ONNXAttribute(name: $0.0, value: $0.1) }))
        return names
    }

    /// A node with one output.
    mutating func apply(_ op: String, _ inputs: [String], _ attributes: [(String, ONNXAttributeValue)] = []) -> String {
        node(op, inputs, attributes)[0]
    }

    /// Conv with random weight and bias: `inChannels` → `outChannels`, square kernel.
    mutating func conv(_ x: String, _ inChannels: Int, _ outChannels: Int, kernel: Int = 3, stride: Int = 1,
                       pad: Int? = nil, groups: Int = 1, bias: Bool = true) -> String {
        let p = pad ?? kernel / 2
        let w = weight([outChannels, inChannels / groups, kernel, kernel], scale: 1 / Float(kernel * kernel * inChannels / groups).squareRoot())
        let operands = bias ? [x, w, weight([outChannels], scale: 0.1)] : [x, w]
        return apply("Conv", operands, [("kernel_shape", .ints([Int64(kernel), Int64(kernel)])), ("strides", .ints([Int64(stride), Int64(stride)])),
                                          ("pads", .ints([Int64(p), Int64(p), Int64(p), Int64(p)])), ("group", .int(Int64(groups)))])
    }

    /// BatchNormalization with random statistics.
    mutating func batchNorm(_ x: String, _ channels: Int) -> String {
        let scale = weight([channels], scale: 0.3, offset: 1), bias = weight([channels], scale: 0.2)
        let mean = weight([channels], scale: 0.1), variance = weight([channels], scale: 0.4, offset: 1)
        return apply("BatchNormalization", [x, scale, bias, mean, variance], [("epsilon", .float(1e-5))])
    }

    /// Gemm with a random [out, in] weight (transB = 1, as torch exports Linear).
    mutating func linear(_ x: String, _ inputs: Int, _ outputs: Int, bias: Bool = true) -> String {
        let w = weight([outputs, inputs], scale: 1 / Float(inputs).squareRoot())
        return apply("Gemm", bias ? [x, w, weight([outputs], scale: 0.1)] : [x, w], [("transB", .int(1))])
    }

    /// Squeeze-and-excitation: x · gate(W₂ relu(W₁ mean(x))), with the gate as MobileNetV3's or
    /// EfficientNet's.
    mutating func squeezeExcitation(_ x: String, _ channels: Int, hardGate: Bool) -> String {
        let pooled = apply("GlobalAveragePool", [x])
        let squeezed = apply("Relu", [conv(pooled, channels, max(channels / 2, 1), kernel: 1)])
        let excited = conv(squeezed, max(channels / 2, 1), channels, kernel: 1)
        let gate = hardGate ? apply("HardSigmoid", [excited], [("alpha", .float(1 / 6)), ("beta", .float(0.5))])
                            : apply("Sigmoid", [excited])
        return apply("Mul", [x, gate])
    }

    /// The model from `input` `[1] + inputShape` to `output`, with `metadata`.
    func model(inputShape: [Int], output: String, metadata: [String: String] = [:], opset: Int64 = 17) -> ONNXModel {
        let inputInfo = ONNXValueInfo(name: input, shape: ([1] + inputShape).map { .size($0) })
        return ONNXModel(irVersion: 8, opsetVersion: opset, producerName: "tests", metadata: metadata,
                         graph: ONNXGraph(name: "test", nodes: nodes, initializers: initializers,
                                          inputs: [inputInfo], outputs: [ONNXValueInfo(name: output)]))
    }
}
