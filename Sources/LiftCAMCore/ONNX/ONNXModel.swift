// What LiftCAM reads from an ONNX file: the parts of onnx.proto (ModelProto, GraphProto, NodeProto,
// AttributeProto, TensorProto, ValueInfoProto) that a CNN exported by torch.onnx.export uses, as
// plain values. `ONNXDecoder.swift` fills them from the protobuf wire format; `GraphModel` turns
// them into layers.

/// An ONNX model: its graph, the opset of the default operator domain, and its metadata.
public struct ONNXModel: Sendable {
    /// ModelProto.ir_version.
    public var irVersion: Int64
    /// The version of the default domain ("" or "ai.onnx") in opset_import; 0 when absent.
    public var opsetVersion: Int64
    /// ModelProto.producer_name ("pytorch", "onnx-example", …).
    public var producerName: String
    /// ModelProto.metadata_props, key → value (class names, LiftCAM's default layer, …).
    public var metadata: [String: String]
    /// The main graph.
    public var graph: ONNXGraph

    /// A model from its parts.
    public init(irVersion: Int64, opsetVersion: Int64, producerName: String = "", metadata: [String: String] = [:],
                graph: ONNXGraph) {
        self.irVersion = irVersion
        self.opsetVersion = opsetVersion
        self.producerName = producerName
        self.metadata = metadata
        self.graph = graph
    }
}

/// GraphProto: nodes (in file order, which ONNX requires to be topological), the constant tensors
/// (initializers), and the declared inputs, outputs and intermediate value shapes.
public struct ONNXGraph: Sendable {
    /// GraphProto.name.
    public var name: String
    /// The nodes, in file order.
    public var nodes: [ONNXNode]
    /// The initializers (weights and constants), in file order; names are unique.
    public var initializers: [ONNXTensor]
    /// Graph inputs. Exporters may list initializers here too (IR < 4); those are not network inputs.
    public var inputs: [ONNXValueInfo]
    /// Graph outputs.
    public var outputs: [ONNXValueInfo]
    /// GraphProto.value_info: declared types of intermediate tensors (optional in ONNX).
    public var valueInfo: [ONNXValueInfo]

    /// A graph from its parts.
    public init(name: String = "", nodes: [ONNXNode] = [], initializers: [ONNXTensor] = [],
                inputs: [ONNXValueInfo] = [], outputs: [ONNXValueInfo] = [], valueInfo: [ONNXValueInfo] = []) {
        self.name = name
        self.nodes = nodes
        self.initializers = initializers
        self.inputs = inputs
        self.outputs = outputs
        self.valueInfo = valueInfo
    }
}

/// NodeProto: one operator application. An empty string in `inputs` is an omitted optional input.
public struct ONNXNode: Sendable {
    /// NodeProto.name (may be empty; exporters usually set it).
    public var name: String
    /// The operator ("Conv", "Relu", …).
    public var opType: String
    /// The operator's domain; "" (or "ai.onnx") is the default domain.
    public var domain: String
    /// Names of the input tensors, in the operator's order.
    public var inputs: [String]
    /// Names of the output tensors.
    public var outputs: [String]
    /// The attributes, in file order.
    public var attributes: [ONNXAttribute]

    /// A node from its parts.
    public init(name: String = "", opType: String, domain: String = "", inputs: [String], outputs: [String],
                attributes: [ONNXAttribute] = []) {
        self.name = name
        self.opType = opType
        self.domain = domain
        self.inputs = inputs
        self.outputs = outputs
        self.attributes = attributes
    }

    /// How errors name the node: "Conv node '/features/0/Conv'" (or its first output when unnamed).
    public var label: String {
        "\(oneLine(opType)) node '\(oneLine(name.isEmpty ? (outputs.first ?? "?") : name))'"
    }
}

/// AttributeProto: a named value of one of the kinds below.
public struct ONNXAttribute: Sendable {
    /// AttributeProto.name.
    public var name: String
    /// Its value.
    public var value: ONNXAttributeValue

    /// An attribute from its parts.
    public init(name: String, value: ONNXAttributeValue) {
        self.name = name
        self.value = value
    }
}

/// The kinds of attribute value a CNN export uses (AttributeProto.type FLOAT, INT, STRING, TENSOR,
/// FLOATS, INTS, STRINGS). Others (graphs, sparse tensors, type protos) decode as `.unsupported`,
/// which an operator that needs the attribute refuses by name.
public enum ONNXAttributeValue: Sendable {
    /// FLOAT (AttributeProto.type 1): `f`.
    case float(Float)
    /// INT (2): `i`.
    case int(Int64)
    /// STRING (3): `s`, decoded as UTF-8 (invalid bytes become U+FFFD).
    case string(String)
    /// TENSOR (4): `t`.
    case tensor(ONNXTensor)
    /// FLOATS (6): `floats`.
    case floats([Float])
    /// INTS (7): `ints`.
    case ints([Int64])
    /// STRINGS (8): `strings`.
    case strings([String])
    /// A kind LiftCAM does not read, by its AttributeProto.type number.
    case unsupported(Int32)
}

/// TensorProto: dimensions and elements, float or integer. Integer types (int64, int32, int8, uint8,
/// bool, …) are kept as Int64; float16 and double are widened or narrowed to Float.
public struct ONNXTensor: Sendable {
    /// TensorProto.name.
    public var name: String
    /// The dimensions, outermost first; [] for a scalar.
    public var dims: [Int]
    /// The elements, row-major.
    public var data: ONNXTensorData

    /// A tensor from its parts; `data` holds dims.product elements.
    public init(name: String = "", dims: [Int], data: ONNXTensorData) {
        self.name = name
        self.dims = dims
        self.data = data
    }

    /// The number of elements the dimensions describe.
    public var elementCount: Int { dims.reduce(1, *) }
}

/// The elements of a tensor.
public enum ONNXTensorData: Sendable {
    /// FLOAT (and FLOAT16, DOUBLE, converted).
    case floats([Float])
    /// INT64 (and the other integer types and BOOL, widened).
    case integers([Int64])
}

/// ValueInfoProto: a tensor's name, element type and shape, as far as the file states them.
public struct ONNXValueInfo: Sendable {
    /// The tensor's name.
    public var name: String
    /// TensorProto.DataType of the elements (1 = FLOAT, 7 = INT64), 0 when not stated.
    public var elementType: Int32
    /// The dimensions, nil when the file states no shape.
    public var shape: [ONNXDimension]?

    /// A value description from its parts.
    public init(name: String, elementType: Int32 = 1, shape: [ONNXDimension]? = nil) {
        self.name = name
        self.elementType = elementType
        self.shape = shape
    }
}

/// One dimension of a declared shape.
public enum ONNXDimension: Equatable, Sendable {
    /// A fixed size.
    case size(Int)
    /// A named size fixed at run time ("batch_size").
    case symbol(String)
    /// Neither.
    case unknown
}

extension ONNXNode {
    /// The attribute `name`, if present.
    public func attribute(_ name: String) -> ONNXAttributeValue? {
        attributes.first { $0.name == name }?.value
    }

    /// An INT attribute, or `defaultValue` when absent; an error naming the node when it has
    /// another kind.
    public func int(_ name: String, default defaultValue: Int) throws(LiftCAMError) -> Int {
        guard let value = attribute(name) else { return defaultValue }
        guard case .int(let v) = value, let int = Int(exactly: v) else {
            throw LiftCAMError("\(label): attribute '\(name)' is not an integer")
        }
        return int
    }

    /// A FLOAT attribute, or `defaultValue` when absent.
    public func float(_ name: String, default defaultValue: Float) throws(LiftCAMError) -> Float {
        guard let value = attribute(name) else { return defaultValue }
        switch value {
        case .float(let v): return v
        case .int(let v): return Float(v)
        default: throw LiftCAMError("\(label): attribute '\(name)' is not a number")
        }
    }

    /// An INTS attribute, or `defaultValue` when absent.
    public func ints(_ name: String, default defaultValue: [Int]) throws(LiftCAMError) -> [Int] {
        guard let value = attribute(name) else { return defaultValue }
        switch value {
        case .ints(let values):
            var result: [Int] = []
            for v in values {
                guard let int = Int(exactly: v) else { throw LiftCAMError("\(label): attribute '\(name)' is out of range") }
                result.append(int)
            }
            return result
        case .int(let v):
            guard let int = Int(exactly: v) else { throw LiftCAMError("\(label): attribute '\(name)' is out of range") }
            return [int]
        default: throw LiftCAMError("\(label): attribute '\(name)' is not a list of integers")
        }
    }

    /// A STRING attribute, or `defaultValue` when absent.
    public func string(_ name: String, default defaultValue: String) throws(LiftCAMError) -> String {
        guard let value = attribute(name) else { return defaultValue }
        guard case .string(let s) = value else { throw LiftCAMError("\(label): attribute '\(name)' is not a string") }
        return s
    }
}
