// Each ONNX operator LiftCAM runs, as the layer or graph operation that computes it. The semantics
// are those of the ONNX operator documentation (opsets 11–18) restricted to what a CNN classifier
// exported from PyTorch uses; where an operator has modes LiftCAM does not run (a batch axis moved,
// a negative slice step), the node is refused by name.

/// The operators a model may use (besides the load-time ones of `foldableOperators`).
public let supportedONNXOperators: [String] = [
    "Add", "AveragePool", "BatchNormalization", "Clip", "Concat", "Constant", "Conv", "Div", "Dropout", "Flatten",
    "Gemm", "GlobalAveragePool", "HardSigmoid", "HardSwish", "Identity", "LeakyRelu", "MatMul", "MaxPool", "Mul",
    "ReduceMean", "Relu", "Reshape", "Shape", "Sigmoid", "Slice", "Split", "Squeeze", "Sub", "Tanh", "Transpose",
    "Unsqueeze",
]

extension GraphBuilder {
    /// Adds what `node` computes: folded when its inputs are all constants, else as operations.
    mutating func addNode(_ node: ONNXNode) throws(LiftCAMError) {
        guard node.domain.isEmpty || node.domain == "ai.onnx" else {
            throw LiftCAMError("\(node.label): operator domain '\(oneLine(node.domain))' is not supported (only the default ONNX domain)")
        }
        guard let first = node.outputs.first, !first.isEmpty else { throw LiftCAMError("\(node.label): the node has no output") }
        let inputs = node.inputs.map { $0.isEmpty ? nil : values[$0] }
        let constants: [ONNXTensor?] = inputs.map { if case .constant(let t)? = $0 { return t } else { return nil } }
        let allConstant = zip(node.inputs, constants).allSatisfy { $0.isEmpty || $1 != nil }
        if foldableOperators.contains(node.opType), allConstant || node.opType == "Shape" {
            if node.opType == "Shape", case .computed(_, let shape)? = inputs.first ?? nil {
                let dims = try shapeSlice(node, shape)
                values[node.outputs[0]] = .constant(ONNXTensor(name: node.outputs[0], dims: [dims.count], data: .integers(dims.map { Int64($0) })))
                return
            }
            let results = try foldConstant(node, inputs: constants, opset: opset)
            for (name, value) in zip(node.outputs, results) { values[name] = .constant(value) }
            return
        }
        // Dropout (inference) and Identity pass their input on under a second name.
        if node.opType == "Dropout" || node.opType == "Identity" {
            values[node.outputs[0]] = inputs.first ?? nil
            return
        }
        if ["Add", "Sub", "Mul", "Div"].contains(node.opType) {
            // Either operand may be the constant one.
            try addArithmetic(node, name: oneLine(node.name.isEmpty ? node.outputs[0] : node.name), inputs: inputs, constants: constants)
            return
        }
        guard case .computed(let x, let shape)? = inputs.first ?? nil else {
            guard supportedONNXOperators.contains(node.opType) else { throw unsupported(node) }
            throw LiftCAMError("\(node.label): its first input must be computed from the image, not a constant")
        }
        try addComputed(node, x: x, shape: shape, inputs: inputs, constants: constants)
    }

    func unsupported(_ node: ONNXNode) -> LiftCAMError {
        LiftCAMError("\(node.label): operator '\(oneLine(node.opType))' is not supported; supported: \(supportedONNXOperators.joined(separator: ", "))")
    }

    /// The constant input `i` of `node`, or an error saying it must be one.
    func constant(_ node: ONNXNode, _ constants: [ONNXTensor?], _ i: Int, _ role: String) throws(LiftCAMError) -> ONNXTensor {
        guard i < constants.count, let value = constants[i] else {
            throw LiftCAMError("\(node.label): its \(role) (input \(i)) must be a constant")
        }
        return value
    }

    private mutating func addComputed(_ node: ONNXNode, x: Int, shape: [Int], inputs: [BuildValue?],
                                      constants: [ONNXTensor?]) throws(LiftCAMError) {
        let name = oneLine(node.name.isEmpty ? node.outputs[0] : node.name)
        let output = node.outputs[0]
        switch node.opType {
        case "Conv":
            try add(try convolution(node, name: name, inputShape: shape, constants: constants), input: x, output: output)
        case "BatchNormalization":
            guard shape.count == 4 else { throw LiftCAMError("\(node.label): batch-norm of a rank-\(shape.count) tensor is not supported (only [N, C, H, W])") }
            let parameters = try (1...4).map { i throws(LiftCAMError) in floatTensor(try constant(node, constants, i, "parameter")) }
            guard parameters.allSatisfy({ $0.count == shape[1] }) else {
                throw LiftCAMError("\(node.label): parameters of \(parameters.map { $0.count }) channels for \(shape[1]) channels")
            }
            let affine = batchNormAffine(weight: parameters[0], bias: parameters[1], runningMean: parameters[2],
                                         runningVariance: parameters[3], epsilon: try node.float("epsilon", default: 1e-5))
            try add(ChannelAffineLayer(name: name, scale: affine.scale, shift: affine.shift), input: x, output: output)
        case "Relu":
            try add(ReLULayer(name: name), input: x, output: output)
        case "Clip":
            var lower = try node.float("min", default: -Float.greatestFiniteMagnitude)
            var upper = try node.float("max", default: Float.greatestFiniteMagnitude)
            if node.inputs.count > 1, !node.inputs[1].isEmpty { lower = floats(try constant(node, constants, 1, "minimum")).first ?? lower }
            if node.inputs.count > 2, !node.inputs[2].isEmpty { upper = floats(try constant(node, constants, 2, "maximum")).first ?? upper }
            if lower == 0 && upper >= Float.greatestFiniteMagnitude {
                try add(ReLULayer(name: name), input: x, output: output)
            } else {
                try add(ElementwiseLayer(name: name, function: .clip(lower: lower, upper: upper)), input: x, output: output)
            }
        case "Sigmoid":
            try add(ElementwiseLayer(name: name, function: .sigmoid), input: x, output: output)
        case "Tanh":
            try add(ElementwiseLayer(name: name, function: .tanh), input: x, output: output)
        case "HardSigmoid":
            try add(ElementwiseLayer(name: name, function: .hardSigmoid(alpha: try node.float("alpha", default: 0.2),
                                                                        beta: try node.float("beta", default: 0.5))), input: x, output: output)
        case "HardSwish":
            try add(ElementwiseLayer(name: name, function: .hardSwish), input: x, output: output)
        case "LeakyRelu":
            try add(ElementwiseLayer(name: name, function: .leakyReLU(alpha: try node.float("alpha", default: 0.01))), input: x, output: output)
        case "Concat":
            var slots: [Int] = []
            for value in inputs {
                guard case .computed(let slot, _)? = value else { throw LiftCAMError("\(node.label): joining a constant is not supported") }
                slots.append(slot)
            }
            let axis = try itemAxis(node, try node.int("axis", default: 0), rank: shape.count)
            try add(ConcatOperation(name: name, axis: axis), inputs: slots, outputNames: [output])
        case "Split":
            let axis = try itemAxis(node, try node.int("axis", default: 0), rank: shape.count)
            var sizes: [Int]
            if node.inputs.count > 1, !node.inputs[1].isEmpty {
                sizes = integers(try constant(node, constants, 1, "split sizes"))
            } else if let listed = try? node.ints("split", default: []), !listed.isEmpty {
                sizes = listed
            } else {
                let parts = node.outputs.count, size = shape[axis]
                sizes = (0..<parts).map { i in (size + parts - 1) / parts - (i == parts - 1 ? (size + parts - 1) / parts * parts - size : 0) }
            }
            guard sizes.count == node.outputs.count else {
                throw LiftCAMError("\(node.label): \(sizes.count) split sizes for \(node.outputs.count) outputs")
            }
            try add(SplitOperation(name: name, axis: axis, sizes: sizes), inputs: [x], outputNames: node.outputs)
        case "MaxPool", "AveragePool":
            try add(try pooling(node, name: name, inputShape: shape), input: x, output: output)
        case "GlobalAveragePool":
            guard shape.count == 4 else { throw LiftCAMError("\(node.label): expects [N, C, H, W], got \(shape)") }
            try add(AdaptiveAvgPool2dLayer(name: name, outputHeight: 1, outputWidth: 1), input: x, output: output)
        case "ReduceMean":
            var axes = try node.ints("axes", default: [])
            if node.inputs.count > 1, !node.inputs[1].isEmpty { axes = integers(try constant(node, constants, 1, "axes")) }
            let normalized = axes.map { $0 < 0 ? $0 + shape.count : $0 }.sorted()
            guard shape.count == 4, normalized == [2, 3] else {
                throw LiftCAMError("\(node.label): mean over axes \(axes) of \(shape) is not supported (only the spatial mean of [N, C, H, W])")
            }
            if try node.int("keepdims", default: 1) != 0 {
                try add(AdaptiveAvgPool2dLayer(name: name, outputHeight: 1, outputWidth: 1), input: x, output: output)
            } else {
                try add(AdaptiveAvgPool2dLayer(name: name, outputHeight: 1, outputWidth: 1), input: x, output: output + "#pooled")
                guard case .computed(let pooled, _)? = values[output + "#pooled"] else { preconditionFailure() }
                try add(FlattenLayer(name: name + "#flatten"), input: pooled, output: output)
            }
        case "Flatten":
            let requested = try node.int("axis", default: 1)
            let axis = requested < 0 ? requested + shape.count : requested
            // [N, C, H, W] at axis a gives [N·…·d_{a−1}, d_a·…]: the batch stays whole only when the
            // dimensions between it and the axis are 1.
            guard axis >= 1, axis <= shape.count, shape[1..<axis].allSatisfy({ $0 == 1 }) else {
                throw LiftCAMError("\(node.label): flattening \(shape) at axis \(requested) would mix items of a batch")
            }
            try add(FlattenLayer(name: name), input: x, output: output)
        case "Gemm", "MatMul":
            try add(try fullyConnected(node, name: name, inputShape: shape, constants: constants), input: x, output: output)
        case "Reshape", "Squeeze", "Unsqueeze":
            try add(ReshapeLayer(name: name, itemShape: try reshapedItem(node, shape: shape, constants: constants)), input: x, output: output)
        case "Transpose":
            let perm = try node.ints("perm", default: Array(shape.indices.reversed()))
            guard perm.count == shape.count, perm.first == 0, Set(perm) == Set(shape.indices) else {
                throw LiftCAMError("\(node.label): permutation \(perm) must keep the batch (dimension 0) first")
            }
            try add(TransposeLayer(name: name, permutation: perm.dropFirst().map { $0 - 1 }), input: x, output: output)
        case "Slice":
            let bounds = try sliceBounds(node, inputs: constants, opset: opset, shape: shape)
            guard bounds[0].start == 0, bounds[0].end == shape[0], bounds[0].step == 1 else {
                throw LiftCAMError("\(node.label): slicing the batch dimension is not supported")
            }
            let item = bounds.dropFirst()
            try add(SliceLayer(name: name, starts: item.map { $0.start }, ends: item.map { $0.end }, steps: item.map { $0.step }),
                    input: x, output: output)
        default:
            throw unsupported(node)
        }
    }

    /// An ONNX axis of a rank-`rank` tensor as an axis ≥ 1 (the batch may not be joined or parted).
    private func itemAxis(_ node: ONNXNode, _ axis: Int, rank: Int) throws(LiftCAMError) -> Int {
        let resolved = axis < 0 ? axis + rank : axis
        guard resolved >= 1 && resolved < rank else {
            throw LiftCAMError("\(node.label): axis \(axis) of a rank-\(rank) tensor is not supported (the batch, axis 0, stays whole)")
        }
        return resolved
    }

    /// The target item shape of a Reshape, Squeeze or Unsqueeze on a computed tensor of `shape`.
    private func reshapedItem(_ node: ONNXNode, shape: [Int], constants: [ONNXTensor?]) throws(LiftCAMError) -> [Int] {
        var result: [Int]
        switch node.opType {
        case "Reshape":
            result = try resolveReshape(node, from: shape, to: integers(try constant(node, constants, 1, "target shape")))
        default:
            // Squeeze and Unsqueeze change only the dimensions: fold them on a data-less stand-in.
            var operands: [ONNXTensor?] = [ONNXTensor(dims: shape, data: .floats([]))]
            if node.inputs.count > 1, !node.inputs[1].isEmpty { operands.append(try constant(node, constants, 1, "axes")) }
            result = try foldConstant(node, inputs: operands, opset: opset)[0].dims
        }
        guard result.first == shape[0] else {
            throw LiftCAMError("\(node.label): reshaping \(shape) to \(result) would mix items of a batch")
        }
        return Array(result.dropFirst())
    }

    /// Add, Sub, Mul, Div: of two computed tensors (Add and Mul), or of one and a constant.
    private mutating func addArithmetic(_ node: ONNXNode, name: String, inputs: [BuildValue?], constants: [ONNXTensor?]) throws(LiftCAMError) {
        guard inputs.count == 2 else { throw LiftCAMError("\(node.label): expects two inputs") }
        let output = node.outputs[0]
        switch (inputs[0], inputs[1]) {
        case (.computed(let a, _)?, .computed(let b, _)?):
            if node.opType == "Add" {
                try add(SumOperation(name: name), inputs: [a, b], outputNames: [output])
            } else if node.opType == "Mul" {
                // x · sigmoid(x) is SiLU and x · hardsigmoid(x) is HardSwish (older exports write them
                // so): one elementwise nonlinearity, Rescaled as a whole like the others.
                for (x, gate) in [(a, b), (b, a)] {
                    if let fused = fusedGate(x: x, gate: gate) {
                        try add(ElementwiseLayer(name: name, function: fused), input: x, output: output)
                        return
                    }
                }
                try add(ProductOperation(name: name), inputs: [a, b], outputNames: [output])
            } else {
                throw LiftCAMError("\(node.label): \(node.opType) of two computed tensors is not supported")
            }
        case (.computed(let x, let shape)?, .some(.constant(let c))), (.some(.constant(let c)), .computed(let x, let shape)?):
            let constantFirst: Bool
            if case .constant? = inputs[0] { constantFirst = true } else { constantFirst = false }
            let operation: ConstantArithmeticLayer.Operation
            switch node.opType {
            case "Add": operation = .add
            case "Mul": operation = .multiply
            case "Sub": operation = constantFirst ? .subtractFromConstant : .subtractConstant
            default:
                guard !constantFirst else { throw LiftCAMError("\(node.label): dividing a constant by a computed tensor is not supported") }
                operation = .divide
            }
            let tensor = floatTensor(c)
            guard broadcastShape(shape, tensor.shape) == shape else {
                throw LiftCAMError("\(node.label): a constant of shape \(tensor.shape) does not fit \(shape)")
            }
            try add(ConstantArithmeticLayer(name: name, operation: operation, constant: tensor), input: x, output: output)
        default:
            throw LiftCAMError("\(node.label): an input is missing")
        }
    }

    /// The SiLU or HardSwish that Mul(x, gate) computes when `gate` is sigmoid(x) or hardsigmoid(x)
    /// (α = 1/6, β = 1/2) and nothing else reads the gate.
    private func fusedGate(x: Int, gate: Int) -> ElementwiseFunction? {
        guard let (layer, input) = layerWriting[gate], input == x, readers[slotNames[gate]] == 1,
              let elementwise = layer as? ElementwiseLayer else { return nil }
        switch elementwise.function {
        case .sigmoid: return .silu
        case .hardSigmoid(let alpha, let beta) where abs(alpha - 1 / 6) < 1e-6 && beta == 0.5: return .hardSwish
        default: return nil
        }
    }
}
