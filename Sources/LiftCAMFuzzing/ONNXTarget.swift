import LiftCAM

// ONNX: a protobuf message whose every length encloses the next, so a byte flipped deep inside
// usually breaks an outer length and is refused at the surface. Most mutations therefore work on
// the parsed field tree and serialize it again with every enclosing length right: a varint set to a
// boundary value, a string or raw_data mutated, fields dropped, doubled, swapped, renumbered or
// given another wire type, unknown fields and groups inserted, one inner length made to lie.

/// One field of a message as the mutator sees it.
struct WireField {
    var number: Int
    var wireType: Int
    var value: WireValue
}

/// A field's value: the bytes of a varint or fixed value (nothing for a group tag), a
/// length-delimited value that does not parse as a message, an embedded message, or bytes written
/// as they are (a lying length and its payload).
enum WireValue {
    case scalar([UInt8])
    case bytes([UInt8])
    case message([WireField])
    case raw([UInt8])
}

/// A varint's bytes.
func varintBytes(_ value: UInt64) -> [UInt8] {
    var out: [UInt8] = []
    var rest = value
    while rest >= 0x80 {
        out.append(UInt8(truncatingIfNeeded: rest) | 0x80)
        rest >>= 7
    }
    return out + [UInt8(rest)]
}

/// The varint at `start` and the index after it, or nil.
private func readVarint(_ bytes: ArraySlice<UInt8>, _ start: Int) -> (UInt64, Int)? {
    var value: UInt64 = 0
    var index = start
    for shift in stride(from: 0, to: 64, by: 7) {
        guard index < bytes.endIndex else { return nil }
        value |= UInt64(bytes[index] & 0x7F) << UInt64(shift)
        index += 1
        if bytes[index - 1] < 0x80 { return (value, index) }
    }
    return nil
}

/// The fields of `bytes` if they are a well-formed message (group tags kept as fields), else nil.
/// A length-delimited value becomes a message when it parses as one (strings rarely do).
func parseWireFields(_ bytes: ArraySlice<UInt8>, depth: Int = 0) -> [WireField]? {
    var fields: [WireField] = []
    var index = bytes.startIndex
    while index < bytes.endIndex {
        guard let (tag, afterTag) = readVarint(bytes, index), tag >> 3 >= 1, tag >> 3 < 1 << 29 else { return nil }
        let wireType = Int(tag & 7)
        var end = afterTag
        var value = WireValue.scalar([])
        switch wireType {
        case 0:
            guard let (_, next) = readVarint(bytes, afterTag) else { return nil }
            end = next
            value = .scalar(Array(bytes[afterTag..<end]))
        case 1, 5:
            end = afterTag + (wireType == 1 ? 8 : 4)
            guard end <= bytes.endIndex else { return nil }
            value = .scalar(Array(bytes[afterTag..<end]))
        case 2:
            guard let (length, start) = readVarint(bytes, afterTag), length <= UInt64(bytes.endIndex - start) else { return nil }
            end = start + Int(length)
            let payload = bytes[start..<end]
            if depth < 12, !payload.isEmpty, let inner = parseWireFields(payload, depth: depth + 1) {
                value = .message(inner)
            } else {
                value = .bytes(Array(payload))
            }
        case 3, 4: break
        default: return nil
        }
        fields.append(WireField(number: Int(tag >> 3), wireType: wireType, value: value))
        index = end
    }
    return fields
}

/// The message's bytes, every length computed afresh (except a `.raw` value's).
func serializeWireFields(_ fields: [WireField]) -> [UInt8] {
    var out: [UInt8] = []
    for field in fields {
        out += varintBytes(UInt64(field.number) << 3 | UInt64(field.wireType & 7))
        switch field.value {
        case .scalar(let bytes), .raw(let bytes): out += bytes
        case .bytes(let bytes): out += varintBytes(UInt64(bytes.count)) + bytes
        case .message(let inner):
            let bytes = serializeWireFields(inner)
            out += varintBytes(UInt64(bytes.count)) + bytes
        }
    }
    return out
}

/// Descends into a random embedded message (three times in four at each level) and mutates the
/// fields there.
private func mutateTree(_ fields: inout [WireField], _ mutator: inout Mutator) {
    let messages = fields.indices.filter { if case .message = fields[$0].value { return true } else { return false } }
    if !messages.isEmpty && mutator.chance(3, in: 4) {
        let index = mutator.pick(messages)
        if case .message(var inner) = fields[index].value {
            mutateTree(&inner, &mutator)
            fields[index].value = .message(inner)
        }
        return
    }
    mutateFields(&fields, &mutator)
}

/// One mutation of a list of sibling fields.
private func mutateFields(_ fields: inout [WireField], _ mutator: inout Mutator) {
    guard !fields.isEmpty else {
        fields.append(WireField(number: mutator.int(1...16), wireType: 0, value: .scalar(varintBytes(UInt64(mutator.int(0...300))))))
        return
    }
    let index = mutator.int(0...fields.count - 1)
    switch mutator.int(0...9) {
    case 0, 1:   // a varint at a boundary: dims, data_type, lengths of things, attribute type
        var value = mutator.pick(Mutator.boundaryIntegers + (0...30).map { UInt64($0) })
        if mutator.chance(1, in: 4) { value = 0 &- value }   // a negative int64: ten bytes
        fields[index] = WireField(number: fields[index].number, wireType: 0, value: .scalar(varintBytes(value)))
    case 2:   // a string, raw_data or packed run mutated, its length kept right
        switch fields[index].value {
        case .bytes(let bytes): fields[index].value = .bytes(mutator.mutate(bytes))
        case .message(let inner): fields[index].value = .bytes(mutator.mutate(serializeWireFields(inner)))
        case .scalar(let bytes): fields[index].value = .scalar(mutator.mutate(bytes))
        case .raw(let bytes): fields[index].value = .raw(mutator.mutate(bytes))
        }
    case 3: fields.remove(at: index)
    case 4: fields.insert(fields[index], at: mutator.int(0...fields.count))
    case 5: fields[index].number = mutator.chance(1, in: 8) ? mutator.pick([0, 1 << 29, 99_999]) : mutator.int(1...25)
    case 6: fields[index].wireType = mutator.int(0...7)
    case 7:   // an unknown field, or a group around a few fields
        let number = mutator.pick([3, 6, 12, 17, 19, 24, 99, 1000])
        let unknown = mutator.pick([WireField(number: number, wireType: 0, value: .scalar(varintBytes(mutator.random.next()))),
                                    WireField(number: number, wireType: 5, value: .scalar([1, 2, 3, 4])),
                                    WireField(number: number, wireType: 1, value: .scalar([UInt8](repeating: 7, count: 8))),
                                    WireField(number: number, wireType: 2, value: .bytes([0xFF, 0x00, 0x0A]))])
        if mutator.chance(1, in: 3) {
            let end = mutator.int(index...fields.count)
            fields.insert(WireField(number: number, wireType: mutator.chance(1, in: 4) ? 4 : 3, value: .scalar([])), at: index)
            fields.insert(WireField(number: mutator.chance(1, in: 4) ? number + 1 : number, wireType: 4, value: .scalar([])), at: end + 1)
        } else {
            fields.insert(unknown, at: mutator.int(0...fields.count))
        }
    case 8:   // an inner length that lies, its enclosing lengths right
        let payload: [UInt8]
        switch fields[index].value {
        case .bytes(let bytes), .raw(let bytes): payload = bytes
        case .message(let inner): payload = serializeWireFields(inner)
        case .scalar(let bytes): payload = bytes
        }
        let claimed = mutator.chance(1, in: 2) ? UInt64(max(0, payload.count + mutator.int(-3...3))) : mutator.pick(Mutator.boundaryIntegers)
        fields[index] = WireField(number: fields[index].number, wireType: 2, value: .raw(varintBytes(claimed) + payload))
    default:   // two fields swapped (raw_data before dims, attributes before the node's name)
        fields.swapAt(index, mutator.int(0...fields.count - 1))
    }
}

/// A mutation of a valid ONNX file: on the field tree (most), or on the bytes.
func mutateONNX(_ mutator: inout Mutator, _ seed: [UInt8]) -> [UInt8] {
    guard mutator.chance(5, in: 6), var fields = parseWireFields(seed[...]) else { return mutator.mutate(seed) }
    for _ in 0..<mutator.int(1...3) { mutateTree(&fields, &mutator) }
    let bytes = serializeWireFields(fields)
    return mutator.chance(1, in: 8) ? mutator.mutate(bytes) : bytes
}

/// The fixture files of Fixtures/onnx/reader that hold their data (Fixtures/onnx/reader/
/// generate_reader_fixtures.py), read from this source file's checkout.
func onnxSeeds() throws -> [[UInt8]] {
    let directory = parentDirectory(of: parentDirectory(of: parentDirectory(of: #filePath))) + "/Fixtures/onnx/reader"
    return try ["tensors.onnx", "attributes.onnx", "wire.onnx", "torch_cnn.onnx", "external.onnx", "bad_raw_size.onnx"].map {
        (name) throws(LiftCAMError) in try readFileBytes(directory + "/" + name)
    }
}

/// `ONNXModel(decoding:)` on the bytes, external data refused; every tensor it returns must hold
/// the elements its dims describe.
func onnxTarget() throws -> FuzzTarget {
    FuzzTarget(name: "onnx", seeds: try onnxSeeds(), errorPrefix: "case.onnx: ", mutate: mutateONNX) { bytes in
        let model = try ONNXModel(decoding: bytes, path: "case.onnx")
        var tensors = model.graph.initializers
        for node in model.graph.nodes {
            for attribute in node.attributes { if case .tensor(let tensor) = attribute.value { tensors.append(tensor) } }
        }
        for tensor in tensors {
            let count: Int
            switch tensor.data {
            case .floats(let values): count = values.count
            case .integers(let values): count = values.count
            }
            var product = 1, overflow = false
            for dim in tensor.dims where !overflow { (product, overflow) = product.multipliedReportingOverflow(by: dim) }
            if tensor.dims.contains(0) { (product, overflow) = (0, false) }
            guard tensor.dims.allSatisfy({ $0 >= 0 && $0 <= ONNXTensor.maximumElementCount }), !overflow, count == product,
                  count <= ONNXTensor.maximumElementCount else {
                throw FuzzInvariantViolation("tensor '\(tensor.name)' has dims \(tensor.dims) and \(count) elements")
            }
        }
        return []
    }
}

/// Small fixture models of Fixtures/onnx/models (a ShuffleNet, a DenseNet) and the torch export of
/// Fixtures/onnx/reader: real graphs for the graph builder to meet damaged.
func onnxGraphSeeds() throws -> [[UInt8]] {
    let root = parentDirectory(of: parentDirectory(of: parentDirectory(of: #filePath))) + "/Fixtures/onnx"
    return try ["models/shufflenet_v2_k12.onnx", "models/densenet.onnx", "reader/torch_cnn.onnx"].map {
        (name) throws(LiftCAMError) in try readFileBytes(root + "/" + name)
    }
}

/// Decoding, then building the network (`GraphModel(onnx:path:)`: topological order, folding, every
/// operator's checks, shapes), then, when the model's activations are small, a forward pass on a
/// zero image: a graph the builder accepts must run without a trap.
func onnxGraphTarget() throws -> FuzzTarget {
    FuzzTarget(name: "onnx-graph", seeds: try onnxGraphSeeds(), errorPrefix: "case.onnx: ", mutate: mutateONNX) { bytes in
        let model = try GraphModel(onnx: try ONNXModel(decoding: bytes, path: "case.onnx"), path: "case.onnx")
        let shapes = try model.graph.slotShapes(for: model.inputShape)
        let elements = shapes.reduce(0) { total, shape in total + (shape?.reduce(1, *) ?? 0) }
        if elements <= 1 << 22 {
            let logits = Network(graph: model).forward(Tensor(shape: [1] + model.inputShape))
            guard logits.shape == [1, model.classCount] else {
                throw FuzzInvariantViolation("logits of shape \(logits.shape) for \(model.classCount) classes")
            }
        }
        return []
    }
}
