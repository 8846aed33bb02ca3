// Exporters compute some operands at run time from other constants or from a tensor's shape: a
// Reshape's target as Shape → Gather → Unsqueeze → Concat, a Clip's bounds as Constant nodes. The
// input size is fixed when a model is loaded, so every such chain has one value; it is computed
// here, once, and the operations that use it see a constant (the "folded at load time" of the
// ONNX issue). Only small tensors take this path: shapes, indices, scalars.

/// The operators evaluated when all their inputs are known at load time.
let foldableOperators: Set<String> = ["Constant", "Identity", "Shape", "Gather", "Unsqueeze", "Squeeze", "Concat",
                                      "Cast", "Slice", "Add", "Sub", "Mul", "Div", "Reshape", "ConstantOfShape"]

/// The integer elements of a folded tensor (floats are truncated), for attributes given as inputs.
func integers(_ tensor: ONNXTensor) -> [Int] {
    switch tensor.data {
    case .integers(let values): return values.map { Int(clamping: $0) }
    // Clamped in Float first: Int64(v) traps from 2^63 on (and Float(Int64.max) rounds up to it).
    case .floats(let values): return values.map { v in v.isNaN ? 0 : v >= 9.2e18 ? Int.max : v <= -9.2e18 ? Int.min : Int(v) }
    }
}

/// The float elements of a folded tensor.
func floats(_ tensor: ONNXTensor) -> [Float] {
    switch tensor.data {
    case .integers(let values): return values.map { Float($0) }
    case .floats(let values): return values
    }
}

/// A folded tensor as a float `Tensor` (weights and constant operands).
func floatTensor(_ tensor: ONNXTensor) -> Tensor {
    Tensor(shape: tensor.dims, storage: floats(tensor))
}

/// Evaluates `node` whose inputs are all constants (`inputs[i]` nil for an omitted optional input).
func foldConstant(_ node: ONNXNode, inputs: [ONNXTensor?], opset: Int64) throws(LiftCAMError) -> [ONNXTensor] {
    func input(_ i: Int) throws(LiftCAMError) -> ONNXTensor {
        guard i < inputs.count, let value = inputs[i] else { throw LiftCAMError("\(node.label): input \(i) is missing") }
        return value
    }
    func axesOperand() throws(LiftCAMError) -> [Int] {
        if opset >= 13, inputs.count > 1, let axes = inputs[1] { return integers(axes) }
        return try node.ints("axes", default: [])
    }
    switch node.opType {
    case "Constant":
        if case .tensor(let t)? = node.attribute("value") { return [t] }
        if case .float(let f)? = node.attribute("value_float") { return [ONNXTensor(dims: [], data: .floats([f]))] }
        if case .floats(let f)? = node.attribute("value_floats") { return [ONNXTensor(dims: [f.count], data: .floats(f))] }
        if case .int(let i)? = node.attribute("value_int") { return [ONNXTensor(dims: [], data: .integers([i]))] }
        if case .ints(let i)? = node.attribute("value_ints") { return [ONNXTensor(dims: [i.count], data: .integers(i))] }
        throw LiftCAMError("\(node.label): no value LiftCAM can read (value, value_float(s) or value_int(s))")
    case "Identity":
        return [try input(0)]
    case "Gather":
        let data = try input(0), indices = try input(1)
        let axis = try node.int("axis", default: 0)
        guard data.dims.count == 1, axis == 0 || axis == -1 else {
            throw LiftCAMError("\(node.label): gathering from a constant of shape \(data.dims) is not supported (only 1-D shape values)")
        }
        let length = data.dims[0]
        var picked: [Int] = []
        for index in integers(indices) {
            let i = index < 0 ? index + length : index
            guard i >= 0 && i < length else { throw LiftCAMError("\(node.label): index \(index) out of range for length \(length)") }
            picked.append(i)
        }
        let data64: [Int64] = integers(data).map { Int64($0) }
        switch data.data {
        case .integers: return [ONNXTensor(dims: indices.dims, data: .integers(picked.map { data64[$0] }))]
        case .floats(let values): return [ONNXTensor(dims: indices.dims, data: .floats(picked.map { values[$0] }))]
        }
    case "Unsqueeze":
        var t = try input(0)
        let rank = t.dims.count + (try axesOperand()).count
        for axis in (try axesOperand()).map({ $0 < 0 ? $0 + rank : $0 }).sorted() {
            guard axis >= 0 && axis <= t.dims.count else { throw LiftCAMError("\(node.label): axis \(axis) out of range") }
            t.dims.insert(1, at: axis)
        }
        return [t]
    case "Squeeze":
        var t = try input(0)
        let rank = t.dims.count
        let axes = try axesOperand().map { $0 < 0 ? $0 + rank : $0 }
        guard axes.allSatisfy({ $0 >= 0 && $0 < rank && t.dims[$0] == 1 }) else {
            throw LiftCAMError("\(node.label): cannot squeeze axes \(axes) of shape \(t.dims) (each must have size 1)")
        }
        t.dims = t.dims.enumerated().filter { axes.isEmpty ? $0.element != 1 : !axes.contains($0.offset) }.map { $0.element }
        return [t]
    case "Concat":
        var dims = 0
        var ints: [Int64] = [], values: [Float] = [], anyFloat = false
        for i in inputs.indices {
            let t = try input(i)
            guard t.dims.count <= 1 else { throw LiftCAMError("\(node.label): joining constants of shape \(t.dims) is not supported (only 1-D shape values)") }
            dims += t.elementCount
            if case .floats = t.data { anyFloat = true }
            ints += integers(t).map { Int64($0) }
            values += floats(t)
        }
        return [ONNXTensor(dims: [dims], data: anyFloat ? .floats(values) : .integers(ints))]
    case "Cast":
        let t = try input(0)
        let to = try node.int("to", default: 1)
        let isFloat = to == 1 || to == 10 || to == 11 || to == 16
        return [ONNXTensor(dims: t.dims, data: isFloat ? .floats(floats(t)) : .integers(integers(t).map { Int64($0) }))]
    case "Shape":
        let dims = try shapeSlice(node, try input(0).dims)
        return [ONNXTensor(dims: [dims.count], data: .integers(dims.map { Int64($0) }))]
    case "Reshape":
        var t = try input(0)
        t.dims = try resolveReshape(node, from: t.dims, to: integers(try input(1)))
        return [t]
    case "ConstantOfShape":
        let dims = integers(try input(0))
        guard let count = checkedProduct(dims), count <= 1 << 20 else {
            throw LiftCAMError("\(node.label): shape \(dims) is not a small constant")
        }
        var fill = ONNXTensor(dims: [1], data: .floats([0]))
        if case .tensor(let value)? = node.attribute("value") { fill = value }
        switch fill.data {
        case .floats(let v): return [ONNXTensor(dims: dims, data: .floats([Float](repeating: v.first ?? 0, count: count)))]
        case .integers(let v): return [ONNXTensor(dims: dims, data: .integers([Int64](repeating: v.first ?? 0, count: count)))]
        }
    case "Slice":
        let t = try input(0)
        guard t.dims.count == 1 else { throw LiftCAMError("\(node.label): slicing a constant of shape \(t.dims) is not supported (only 1-D shape values)") }
        let range = try sliceBounds(node, inputs: inputs, opset: opset, shape: t.dims)[0]
        let picked = Array(stride(from: range.start, to: range.end, by: range.step))
        switch t.data {
        case .integers(let v): return [ONNXTensor(dims: [picked.count], data: .integers(picked.map { v[$0] }))]
        case .floats(let v): return [ONNXTensor(dims: [picked.count], data: .floats(picked.map { v[$0] }))]
        }
    case "Add", "Sub", "Mul", "Div":
        return [try foldArithmetic(node, try input(0), try input(1))]
    default:
        throw LiftCAMError("\(node.label): cannot be computed at load time")
    }
}

/// The dimensions ONNX Shape returns: `dims[start..<end]` (opset 15's attributes, negative from the
/// end, clamped).
func shapeSlice(_ node: ONNXNode, _ dims: [Int]) throws(LiftCAMError) -> [Int] {
    let start = try node.int("start", default: 0), end = try node.int("end", default: dims.count)
    func clamp(_ v: Int) -> Int { min(max(v < 0 ? v + dims.count : v, 0), dims.count) }
    return Array(dims[clamp(start)..<max(clamp(start), clamp(end))])
}

/// Elementwise arithmetic of two constants, broadcast; integer division truncates, as ONNX Runtime.
private func foldArithmetic(_ node: ONNXNode, _ a: ONNXTensor, _ b: ONNXTensor) throws(LiftCAMError) -> ONNXTensor {
    guard let shape = broadcastShape(a.dims, b.dims) else {
        throw LiftCAMError("\(node.label): shapes \(a.dims) and \(b.dims) do not broadcast")
    }
    if case .integers = a.data, case .integers = b.data {
        let x = Tensor(shape: a.dims, storage: integers(a).map { Float($0) })
        let y = Tensor(shape: b.dims, storage: integers(b).map { Float($0) })
        guard (x.storage + y.storage).allSatisfy({ abs($0) < 16_777_216 }) else {
            throw LiftCAMError("\(node.label): integer constants too large to fold")
        }
        let op = node.opType
        if op == "Div" && y.storage.contains(0) { throw LiftCAMError("\(node.label): division by zero") }
        let result = broadcastBinary(x, y, outputShape: shape) { p, q in
            switch op {
            case "Add": return p + q
            case "Sub": return p - q
            case "Mul": return p * q
            default: return (p / q).rounded(.towardZero)
            }
        }
        return ONNXTensor(dims: shape, data: .integers(result.storage.map { Int64($0) }))
    }
    let x = floatTensor(a), y = floatTensor(b)
    let op = node.opType
    let result = broadcastBinary(x, y, outputShape: shape) { p, q in
        switch op {
        case "Add": return p + q
        case "Sub": return p - q
        case "Mul": return p * q
        default: return p / q
        }
    }
    return ONNXTensor(dims: shape, data: .floats(result.storage))
}

/// The product of `dims`, or nil when it overflows or a dimension is negative.
func checkedProduct(_ dims: [Int]) -> Int? {
    var product = 1
    for size in dims {
        guard size >= 0 else { return nil }
        let (next, overflow) = product.multipliedReportingOverflow(by: size)
        if overflow { return nil }
        product = next
    }
    return product
}

/// ONNX Reshape's target: 0 copies the input's dimension (unless allowzero), one −1 takes the rest.
func resolveReshape(_ node: ONNXNode, from input: [Int], to target: [Int]) throws(LiftCAMError) -> [Int] {
    let allowZero = try node.int("allowzero", default: 0) != 0
    var shape = target
    guard let total = checkedProduct(input) else { throw LiftCAMError("\(node.label): cannot reshape \(input)") }
    var inferred: Int?
    for (i, size) in target.enumerated() {
        if size == 0 && !allowZero {
            guard i < input.count else { throw LiftCAMError("\(node.label): target \(target) copies a dimension \(input) lacks") }
            shape[i] = input[i]
        } else if size == -1 {
            guard inferred == nil else { throw LiftCAMError("\(node.label): target \(target) has two −1") }
            inferred = i
        } else if size < 0 {
            throw LiftCAMError("\(node.label): target \(target) has a negative size")
        }
    }
    guard let known = checkedProduct(shape.enumerated().filter { $0.offset != inferred }.map { $0.element }) else {
        throw LiftCAMError("\(node.label): cannot reshape \(input) to \(target)")
    }
    if let inferred {
        guard known > 0, total % known == 0 else { throw LiftCAMError("\(node.label): cannot reshape \(input) to \(target)") }
        shape[inferred] = total / known
    }
    guard checkedProduct(shape) == total else { throw LiftCAMError("\(node.label): cannot reshape \(input) to \(target)") }
    return shape
}

/// ONNX Slice's ranges per dimension of `shape` (start, end, step), clamped as the operator defines;
/// starts/ends/axes/steps come from inputs 1–4 (opset ≥ 10) or attributes.
func sliceBounds(_ node: ONNXNode, inputs: [ONNXTensor?], opset: Int64, shape: [Int]) throws(LiftCAMError)
    -> [(start: Int, end: Int, step: Int)] {
    var starts: [Int], ends: [Int], axes: [Int], steps: [Int]
    if opset >= 10 {
        guard inputs.count >= 3, let s = inputs[1], let e = inputs[2] else {
            throw LiftCAMError("\(node.label): starts and ends must be constants")
        }
        starts = integers(s)
        ends = integers(e)
        axes = inputs.count > 3 ? inputs[3].map(integers) ?? Array(starts.indices) : Array(starts.indices)
        steps = inputs.count > 4 ? inputs[4].map(integers) ?? starts.map { _ in 1 } : starts.map { _ in 1 }
    } else {
        starts = try node.ints("starts", default: [])
        ends = try node.ints("ends", default: [])
        axes = try node.ints("axes", default: Array(starts.indices))
        steps = starts.map { _ in 1 }
    }
    guard starts.count == ends.count, axes.count == starts.count, steps.count == starts.count else {
        throw LiftCAMError("\(node.label): starts, ends, axes and steps differ in length")
    }
    var bounds = shape.map { (start: 0, end: $0, step: 1) }
    for (i, rawAxis) in axes.enumerated() {
        let axis = rawAxis < 0 ? rawAxis + shape.count : rawAxis
        guard axis >= 0 && axis < shape.count else { throw LiftCAMError("\(node.label): axis \(rawAxis) out of range for \(shape)") }
        guard steps[i] >= 1 else { throw LiftCAMError("\(node.label): step \(steps[i]) is not supported (only positive steps)") }
        let size = shape[axis]
        func clamp(_ v: Int) -> Int { min(max(v < 0 ? (v < -size ? 0 : v + size) : v, 0), size) }
        // A step past the size keeps only the first element, as a step of the size does.
        bounds[axis] = (clamp(starts[i]), clamp(ends[i]), min(steps[i], max(size, 1)))
    }
    return bounds
}
