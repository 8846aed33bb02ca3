// ModelProto, GraphProto, NodeProto, AttributeProto and ValueInfoProto from the protobuf wire
// format (field numbers from onnx.proto, ONNX 1.23). Tensors are ONNXTensorDecoder.swift's.
// Fields LiftCAM does not use are skipped, whatever their number; a field it uses with the wrong
// wire type is refused. Every error is one line: "<path>: <where in the model>: <what>", where
// is "GraphProto.node[12] (Conv '/features/0/Conv'): attribute 'pads'" and the like, and a
// wire-format error ends in "byte N: truncated varint".

/// How the decoder gets the bytes of a tensor stored outside the model file: `location` has been
/// checked to be a relative path without "..", to be read relative to the model's folder.
public struct ONNXExternalData: Sendable {
    /// The tensor's name, for messages.
    public var tensorName: String
    /// external_data "location": a relative path without "." or ".." components.
    public var location: String
    /// external_data "offset" (0 when absent).
    public var offset: Int
    /// external_data "length"; nil when absent (to the end of the file).
    public var length: Int?

    /// A request from its parts.
    public init(tensorName: String, location: String, offset: Int, length: Int?) {
        self.tensorName = tensorName
        self.location = location
        self.offset = offset
        self.length = length
    }

    /// The fetcher of `ONNXModel(decoding:path:)` when none is given: refuses every request.
    public static func unavailable(_ request: ONNXExternalData) throws(LiftCAMError) -> [UInt8] {
        throw LiftCAMError("the data are in the external file '\(oneLine(request.location))', which decoding bytes alone cannot read")
    }
}

extension ONNXModel {
    /// Decodes the bytes of an ONNX file (a serialized ModelProto). `path` starts every error
    /// message; `externalData` supplies the bytes of tensors whose data_location is EXTERNAL
    /// (`read(path:in:)` reads them from the model's folder).
    public init(decoding bytes: [UInt8], path: String,
                externalData: (ONNXExternalData) throws(LiftCAMError) -> [UInt8] = ONNXExternalData.unavailable) throws(LiftCAMError) {
        do {
            self = try decodeModel(ProtobufReader(bytes), externalData)
        } catch {
            throw LiftCAMError.file(path, error.description)
        }
    }

    /// Reads the ONNX file at `path`, and the external data files its tensors name (relative to
    /// the model's folder), through `files`.
    public static func read(path: String, in files: some FileSystem) throws(LiftCAMError) -> ONNXModel {
        let bytes = try files.readFile(path)
        var external = ExternalDataFiles(files: files, directory: parentDirectory(of: path))
        return try ONNXModel(decoding: bytes, path: path) { (request) throws(LiftCAMError) -> [UInt8] in
            try external.read(request)
        }
    }
}

/// What the decoding functions take to fetch external data.
typealias ExternalDataFetcher = (ONNXExternalData) throws(LiftCAMError) -> [UInt8]

/// Runs `body`; an error it throws gets "`place`: " in front.
func within<T>(_ place: @autoclosure () -> String, _ body: () throws(LiftCAMError) -> T) throws(LiftCAMError) -> T {
    do {
        return try body()
    } catch {
        throw LiftCAMError("\(place()): \(error.description)")
    }
}

/// "GraphProto.node[3]" and the like: a repeated field's element.
func element(_ message: String, _ field: String, _ index: Int) -> String { "\(message).\(field)[\(index)]" }

private func decodeModel(_ message: ProtobufReader, _ fetch: ExternalDataFetcher) throws(LiftCAMError) -> ONNXModel {
    var reader = message
    var irVersion: Int64 = 0, opsetVersion: Int64 = 0, producer = ""
    var metadata: [String: String] = [:]
    var graph: ONNXGraph?
    var opsets = 0, entries = 0
    while let field = try reader.nextField() {
        switch field.number {
        case 1: irVersion = Int64(bitPattern: try reader.readVarint(field, "ir_version"))
        case 2: producer = try reader.readString(field, "producer_name")
        case 7:
            var graphReader = try reader.readMessage(field, "graph")
            if graph != nil { throw ProtobufReader.error(at: field.offset, "a second ModelProto.graph") }
            graph = try decodeGraph(&graphReader, fetch)
        case 8:
            var entry = try reader.readMessage(field, "opset_import")
            let (domain, version) = try within(element("ModelProto", "opset_import", opsets)) { () throws(LiftCAMError) in
                try decodeOperatorSet(&entry)
            }
            if domain.isEmpty || domain == "ai.onnx" { opsetVersion = version }
            opsets += 1
        case 14:
            var entry = try reader.readMessage(field, "metadata_props")
            let (key, value) = try within(element("ModelProto", "metadata_props", entries)) { () throws(LiftCAMError) in
                try decodeStringPair(&entry)
            }
            metadata[key] = value
            entries += 1
        default: try reader.skip(field)
        }
    }
    guard let graph else { throw LiftCAMError("ModelProto has no graph") }
    return ONNXModel(irVersion: irVersion, opsetVersion: opsetVersion, producerName: producer, metadata: metadata, graph: graph)
}

/// OperatorSetIdProto: domain (1), version (2).
private func decodeOperatorSet(_ reader: inout ProtobufReader) throws(LiftCAMError) -> (String, Int64) {
    var domain = "", version: Int64 = 0
    while let field = try reader.nextField() {
        switch field.number {
        case 1: domain = try reader.readString(field, "domain")
        case 2: version = Int64(bitPattern: try reader.readVarint(field, "version"))
        default: try reader.skip(field)
        }
    }
    return (domain, version)
}

/// StringStringEntryProto: key (1), value (2).
func decodeStringPair(_ reader: inout ProtobufReader) throws(LiftCAMError) -> (String, String) {
    var key = "", value = ""
    while let field = try reader.nextField() {
        switch field.number {
        case 1: key = try reader.readString(field, "key")
        case 2: value = try reader.readString(field, "value")
        default: try reader.skip(field)
        }
    }
    return (key, value)
}

private func decodeGraph(_ reader: inout ProtobufReader, _ fetch: ExternalDataFetcher) throws(LiftCAMError) -> ONNXGraph {
    var graph = ONNXGraph()
    while let field = try reader.nextField() {
        switch field.number {
        case 1:
            var node = try reader.readMessage(field, "node")
            graph.nodes.append(try decodeNode(&node, place: element("GraphProto", "node", graph.nodes.count), fetch))
        case 2: graph.name = try reader.readString(field, "name")
        case 5:
            var tensor = try reader.readMessage(field, "initializer")
            graph.initializers.append(try decodeTensor(&tensor, place: element("GraphProto", "initializer", graph.initializers.count), fetch))
        case 11, 12, 13:
            let name = field.number == 11 ? "input" : field.number == 12 ? "output" : "value_info"
            var info = try reader.readMessage(field, name)
            let index = field.number == 11 ? graph.inputs.count : field.number == 12 ? graph.outputs.count : graph.valueInfo.count
            let value = try within(element("GraphProto", name, index)) { () throws(LiftCAMError) in try decodeValueInfo(&info) }
            switch field.number {
            case 11: graph.inputs.append(value)
            case 12: graph.outputs.append(value)
            default: graph.valueInfo.append(value)
            }
        case 15: throw LiftCAMError("GraphProto.sparse_initializer[0]: sparse initializers are not supported")
        default: try reader.skip(field)
        }
    }
    return graph
}

/// NodeProto: input (1), output (2), name (3), op_type (4), attribute (5), domain (7). The
/// attributes are decoded after the node's other fields, so their errors can name the node.
private func decodeNode(_ reader: inout ProtobufReader, place: String, _ fetch: ExternalDataFetcher) throws(LiftCAMError) -> ONNXNode {
    var node = ONNXNode(opType: "", inputs: [], outputs: [])
    var attributes: [ProtobufReader] = []
    // Exporters write name and op_type before the attributes, so even an error in the node's
    // fields can usually name it.
    func label() -> String {
        node.opType.isEmpty && node.name.isEmpty ? place : "\(place) (\(oneLine(node.opType)) '\(oneLine(node.name))')"
    }
    do {
        while let field = try reader.nextField() {
            switch field.number {
            case 1: node.inputs.append(try reader.readString(field, "input"))
            case 2: node.outputs.append(try reader.readString(field, "output"))
            case 3: node.name = try reader.readString(field, "name")
            case 4: node.opType = try reader.readString(field, "op_type")
            case 5: attributes.append(try reader.readMessage(field, "attribute"))
            case 7: node.domain = try reader.readString(field, "domain")
            default: try reader.skip(field)
            }
        }
    } catch {
        throw LiftCAMError("\(label()): \(error.description)")
    }
    let nodeLabel = label()
    for (index, var attribute) in attributes.enumerated() {
        node.attributes.append(try within(nodeLabel) { () throws(LiftCAMError) in try decodeAttribute(&attribute, index: index, fetch) })
    }
    return node
}

/// AttributeProto: name (1), f (2), i (3), s (4), t (5), floats (7), ints (8), strings (9),
/// type (20); g, graphs, sparse tensors, type protos and tensors lists are skipped and the value
/// is `.unsupported(type)`. A file without `type` (before IR 3) has it inferred from the field set.
private func decodeAttribute(_ reader: inout ProtobufReader, index: Int, _ fetch: ExternalDataFetcher) throws(LiftCAMError) -> ONNXAttribute {
    var name = ""
    var type: UInt64?
    var inferred: UInt64 = 0
    var float: Float = 0, int: Int64 = 0, string = ""
    var tensor: ProtobufReader?
    var floatRanges: [Range<Int>] = [], ints: [UInt64] = [], strings: [String] = []
    try within("attribute[\(index)]") { () throws(LiftCAMError) in
        while let field = try reader.nextField() {
            switch field.number {
            case 1: name = try reader.readString(field, "name")
            case 2:
                try reader.expect(field, .fixed32, "f")
                float = Float(bitPattern: try reader.readFixed32())
                inferred = 1
            case 3: int = Int64(bitPattern: try reader.readVarint(field, "i")); inferred = 2
            case 4: string = try reader.readString(field, "s"); inferred = 3
            case 5: tensor = try reader.readMessage(field, "t"); inferred = 4
            case 7: try reader.appendFixed(field, "floats", width: 4, to: &floatRanges); inferred = 6
            case 8: try reader.appendVarints(field, "ints", to: &ints); inferred = 7
            case 9: strings.append(try reader.readString(field, "strings")); inferred = 8
            case 20: type = try reader.readVarint(field, "type")
            case 6: inferred = 5; try reader.skip(field)     // g: GRAPH
            case 10: inferred = 9; try reader.skip(field)    // tensors: TENSORS
            case 11: inferred = 10; try reader.skip(field)   // graphs: GRAPHS
            case 14: inferred = 13; try reader.skip(field)   // tp: TYPE_PROTO
            case 15: inferred = 14; try reader.skip(field)   // type_protos: TYPE_PROTOS
            case 22: inferred = 11; try reader.skip(field)   // sparse_tensor: SPARSE_TENSOR
            case 23: inferred = 12; try reader.skip(field)   // sparse_tensors: SPARSE_TENSORS
            default: try reader.skip(field)
            }
        }
    }
    let kind = type ?? inferred
    let value: ONNXAttributeValue = try within("attribute '\(oneLine(name))'") { () throws(LiftCAMError) in
        switch kind {
        case 1: return .float(float)
        case 2: return .int(int)
        case 3: return .string(string)
        case 4:
            guard var tensor else { throw LiftCAMError("of type TENSOR has no tensor") }
            return .tensor(try decodeTensor(&tensor, place: "tensor", fetch))
        case 6: return .floats(floatsFromFixed32(reader.bytes, floatRanges))
        case 7: return .ints(ints.map { Int64(bitPattern: $0) })
        case 8: return .strings(strings)
        default: return .unsupported(Int32(truncatingIfNeeded: kind))
        }
    }
    return ONNXAttribute(name: name, value: value)
}

/// ValueInfoProto: name (1), type (2) → TypeProto.tensor_type (1) → elem_type (1), shape (2) →
/// dim (1) → dim_value (1) or dim_param (2). A value of another type (sequence, map, …) has
/// element type 0 and no shape.
private func decodeValueInfo(_ reader: inout ProtobufReader) throws(LiftCAMError) -> ONNXValueInfo {
    var info = ONNXValueInfo(name: "", elementType: 0)
    while let field = try reader.nextField() {
        switch field.number {
        case 1: info.name = try reader.readString(field, "name")
        case 2:
            var type = try reader.readMessage(field, "type")
            while let typeField = try type.nextField() {
                guard typeField.number == 1 else { try type.skip(typeField); continue }
                var tensorType = try type.readMessage(typeField, "tensor_type")
                while let tensorField = try tensorType.nextField() {
                    switch tensorField.number {
                    case 1: info.elementType = Int32(truncatingIfNeeded: try tensorType.readVarint(tensorField, "elem_type"))
                    case 2:
                        var shape = try tensorType.readMessage(tensorField, "shape")
                        info.shape = try within("'\(oneLine(info.name))'") { () throws(LiftCAMError) in try decodeShape(&shape) }
                    default: try tensorType.skip(tensorField)
                    }
                }
            }
        default: try reader.skip(field)
        }
    }
    return info
}

/// TensorShapeProto: its dims, each a size, a symbol or neither.
private func decodeShape(_ reader: inout ProtobufReader) throws(LiftCAMError) -> [ONNXDimension] {
    var dims: [ONNXDimension] = []
    while let field = try reader.nextField() {
        guard field.number == 1 else { try reader.skip(field); continue }
        var dim = try reader.readMessage(field, "dim")
        var value = ONNXDimension.unknown
        while let dimField = try dim.nextField() {
            switch dimField.number {
            case 1:
                let size = Int64(bitPattern: try dim.readVarint(dimField, "dim_value"))
                guard size >= 0, size <= Int64(Int.max) else { throw LiftCAMError("dimension \(dims.count) has dim_value \(size)") }
                value = .size(Int(size))
            case 2: value = .symbol(try dim.readString(dimField, "dim_param"))
            default: try dim.skip(dimField)
            }
        }
        dims.append(value)
    }
    return dims
}
