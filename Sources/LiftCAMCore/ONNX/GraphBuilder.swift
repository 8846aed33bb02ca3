// From an ONNX model to a `GraphLayer`: nodes sorted so that every tensor is computed before it is
// read, constant chains folded (ConstantFolding.swift), every other node turned into an operation
// (ONNXOperators.swift) whose output shapes are checked as it is added. Anything the builder cannot
// place is refused with the node's name, never run half-understood.

/// A model read from ONNX, ready to split and run: its graph (as the file states it, batch-norms
/// not yet folded) and what the tool needs to know about it.
public struct GraphModel: Sendable {
    /// The whole network, input → logits.
    public let graph: GraphLayer
    /// One input item's shape `[C, H, W]`.
    public let inputShape: [Int]
    /// The number of logits.
    public let classCount: Int
    /// Class names from the file's metadata (`liftcam.classes`, one per line), or ImageNet's for a
    /// 1000-class model; nil otherwise.
    public let classNames: [String]?
    /// The tensor the CAM methods split at by default (`liftcam.default_layer`, or the last map
    /// tensor every path goes through, `defaultSplitTensor`).
    public let defaultLayer: String
    /// The file it came from, for messages.
    public let path: String
    /// The input normalisation the file's metadata states (`liftcam.mean`, `liftcam.std`: "R,G,B"),
    /// nil when it states none (the tool then uses ImageNet's).
    public let mean: [Float]?, std: [Float]?
    /// Tensor names that stand for a slot of another name (the outputs of Identity and Dropout,
    /// which pass their input on): splits accept them too.
    public let aliases: [String: Int]

    /// The slot that `name` (a tensor name, or an alias of one) names, if any.
    public func slot(named name: String) -> Int? { graph.slot(named: name) ?? aliases[name] }
}

extension GraphModel: Equatable {
    /// The same model: the same loaded graph (by identity) and description.
    public static func == (a: GraphModel, b: GraphModel) -> Bool {
        a.graph === b.graph && a.inputShape == b.inputShape && a.classCount == b.classCount
            && a.classNames == b.classNames && a.defaultLayer == b.defaultLayer && a.path == b.path
            && a.mean == b.mean && a.std == b.std
    }
}

/// What a tensor name stands for while the graph is built.
enum BuildValue {
    /// Known at load time (an initializer, a Constant, a folded chain).
    case constant(ONNXTensor)
    /// Computed at run time into `slot`; `shape` is its shape for a batch of one.
    case computed(slot: Int, shape: [Int])
}

/// The state of one build: slots so far, steps so far, what every name stands for.
struct GraphBuilder {
    let model: ONNXModel
    var values: [String: BuildValue] = [:]
    var slotNames: [String] = []
    var steps: [GraphStep] = []
    /// How many nodes read each tensor (to fuse x · sigmoid(x) only when nothing else reads the sigmoid).
    var readers: [String: Int] = [:]
    /// For each slot written by a single-layer step: that layer and its input slot (for fusions).
    var layerWriting: [Int: (layer: any Layer, input: Int)] = [:]

    var opset: Int64 { model.opsetVersion }

    init(model: ONNXModel) { self.model = model }

    /// A new slot named `name`.
    mutating func newSlot(_ name: String) -> Int {
        slotNames.append(name)
        return slotNames.count - 1
    }

    /// Adds `operation` reading `inputs`, checks its output shapes and names its outputs.
    mutating func add(_ operation: any GraphOperation, inputs: [Int], outputNames: [String]) throws(LiftCAMError) {
        var shapes: [[Int]] = []
        for slot in inputs {
            guard case .computed(_, let shape)? = values[slotNames[slot]] else { preconditionFailure("slot without a shape") }
            shapes.append(shape)
        }
        let outputShapes = try operation.outputShapes(for: shapes)
        for shape in outputShapes {
            guard shape.allSatisfy({ $0 >= 1 }) else {
                throw LiftCAMError("\(operation.name): an output of shape \(shape) is empty")
            }
            guard let elements = checkedProduct(shape), elements <= Network.maximumActivationElements else {
                throw LiftCAMError("\(operation.name): an output of shape \(shape) is too large (more than \(Network.maximumActivationElements) values)")
            }
        }
        var outputs: [Int] = []
        for (name, shape) in zip(outputNames, outputShapes) {
            let slot = newSlot(name)
            values[name] = .computed(slot: slot, shape: shape)
            outputs.append(slot)
        }
        if let layer = (operation as? LayerOperation)?.layer { layerWriting[outputs[0]] = (layer, inputs[0]) }
        steps.append(GraphStep(operation: operation, inputs: inputs, outputs: outputs))
    }

    /// Adds a single-layer step from `input` to the tensor `output`.
    mutating func add(_ layer: any Layer, input: Int, output: String) throws(LiftCAMError) {
        try add(LayerOperation(layer), inputs: [input], outputNames: [output])
    }
}

extension GraphModel {
    /// Builds the network of `model`, read from `path` (for messages). Every error starts with the
    /// path and names the node.
    public init(onnx model: ONNXModel, path: String) throws(LiftCAMError) {
        do throws(LiftCAMError) {
            self = try GraphModel.build(model, path: path)
        } catch {
            throw LiftCAMError.file(path, error.description)
        }
    }

    private static func build(_ model: ONNXModel, path: String) throws(LiftCAMError) -> GraphModel {
        let graph = model.graph
        var builder = GraphBuilder(model: model)
        for initializer in graph.initializers { builder.values[initializer.name] = .constant(initializer) }
        let imageInputs = graph.inputs.filter { builder.values[$0.name] == nil }
        guard imageInputs.count == 1 else {
            throw LiftCAMError("the graph has \(imageInputs.count) inputs besides its weights (\(imageInputs.map { oneLine($0.name) }.joined(separator: ", "))); LiftCAM explains networks of one image input")
        }
        guard graph.outputs.count == 1 else {
            throw LiftCAMError("the graph has \(graph.outputs.count) outputs; LiftCAM explains networks with one output, the logits")
        }
        let inputShape = try imageShape(imageInputs[0], metadata: model.metadata)
        let inputSlot = builder.newSlot(imageInputs[0].name)
        builder.values[imageInputs[0].name] = .computed(slot: inputSlot, shape: [1] + inputShape)
        for node in graph.nodes { for name in node.inputs where !name.isEmpty { builder.readers[name, default: 0] += 1 } }
        for node in try topologicalOrder(graph.nodes, known: Set(builder.values.keys)) {
            try builder.addNode(node)
        }
        let outputName = graph.outputs[0].name
        guard case .computed(let outputSlot, let outputShape)? = builder.values[outputName] else {
            throw LiftCAMError("the output '\(oneLine(outputName))' is \(builder.values[outputName] == nil ? "not computed by any node" : "a constant")")
        }
        guard outputShape.count == 2, outputShape[1] >= 1 else {
            throw LiftCAMError("the output '\(oneLine(outputName))' has shape \(outputShape); expected logits [N, classes]")
        }
        let whole = try GraphLayer(name: "graph", steps: builder.steps, slotNames: builder.slotNames,
                                   inputSlot: inputSlot, outputSlot: outputSlot).subgraph(name: "graph", from: inputSlot, to: outputSlot)
        let classes = outputShape[1]
        var classNames: [String]? = classes == ImageNetClasses.names.count ? ImageNetClasses.names : nil
        if let text = model.metadata["liftcam.classes"] {
            let names = text.split(separator: "\n", omittingEmptySubsequences: false).map { oneLine($0) }
            if names.count == classes { classNames = names }
        }
        var aliases: [String: Int] = [:]
        for (name, value) in builder.values {
            if case .computed(let slot, _) = value, builder.slotNames[slot] != name { aliases[name] = slot }
        }
        var defaultLayer: String
        if let named = model.metadata["liftcam.default_layer"] {
            guard whole.slot(named: named) != nil || aliases[named] != nil else {
                throw LiftCAMError("metadata liftcam.default_layer names '\(oneLine(named))', which the graph does not compute")
            }
            defaultLayer = named
        } else {
            defaultLayer = try defaultSplitTensor(whole, inputShape: inputShape, classes: classes)
        }
        func triple(_ key: String) -> [Float]? {
            guard let values = model.metadata[key]?.split(separator: ",").compactMap({ Float(String($0.trimmingSpaces)) }),
                  values.count == 3, values.allSatisfy({ $0.isFinite }) else { return nil }
            return values
        }
        let std = triple("liftcam.std")
        return GraphModel(graph: whole, inputShape: inputShape, classCount: classes, classNames: classNames,
                          defaultLayer: defaultLayer, path: path, mean: triple("liftcam.mean"),
                          std: std?.allSatisfy({ $0 > 0 }) == true ? std : nil, aliases: aliases)
    }

    /// One image's `[C, H, W]` from the input's declared `[N, C, H, W]`; a symbolic height or width
    /// comes from `liftcam.input_shape` ("3,224,224") or is 224, torchvision's size.
    private static func imageShape(_ input: ONNXValueInfo, metadata: [String: String]) throws(LiftCAMError) -> [Int] {
        let stated = metadata["liftcam.input_shape"].map { $0.split(separator: ",").compactMap { Int($0.trimmingSpaces) } }
        if let stated, stated.count == 3, stated.allSatisfy({ $0 >= 1 && $0 <= Architecture.maximumInputSide }) { return stated }
        guard let dims = input.shape, dims.count == 4 else {
            throw LiftCAMError("input '\(oneLine(input.name))' must be an image batch [N, C, H, W], found \(input.shape.map { "rank \($0.count)" } ?? "no shape")")
        }
        var shape: [Int] = []
        for (i, dim) in dims.dropFirst().enumerated() {
            if case .size(let size) = dim, size >= 1, size <= Architecture.maximumInputSide { shape.append(size) } else { shape.append(i == 0 ? 3 : 224) }
        }
        return shape
    }
}

extension Substring {
    /// Without leading and trailing spaces.
    var trimmingSpaces: Substring {
        var s = self
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return s
    }
}

/// The nodes ordered so that each comes after the nodes whose outputs it reads (Kahn's algorithm,
/// keeping file order among ready nodes). Refuses a tensor written twice, a name nothing computes
/// and a cycle, naming a node.
func topologicalOrder(_ nodes: [ONNXNode], known: Set<String>) throws(LiftCAMError) -> [ONNXNode] {
    var writer: [String: Int] = [:]
    for (index, node) in nodes.enumerated() {
        for name in node.outputs where !name.isEmpty {
            guard writer[name] == nil, !known.contains(name) else {
                throw LiftCAMError("\(node.label): tensor '\(oneLine(name))' is written twice")
            }
            writer[name] = index
        }
    }
    var waitingOn = [Int](repeating: 0, count: nodes.count)
    var dependents = [[Int]](repeating: [], count: nodes.count)
    for (index, node) in nodes.enumerated() {
        for name in node.inputs where !name.isEmpty && !known.contains(name) {
            guard let source = writer[name] else {
                throw LiftCAMError("\(node.label): input '\(oneLine(name))' is not computed by any node, nor an initializer or graph input")
            }
            waitingOn[index] += 1
            dependents[source].append(index)
        }
    }
    var ready = nodes.indices.filter { waitingOn[$0] == 0 }.reversed().map { $0 }
    var order: [ONNXNode] = []
    while let next = ready.popLast() {
        order.append(nodes[next])
        var released: [Int] = []
        for dependent in dependents[next] {
            waitingOn[dependent] -= 1
            if waitingOn[dependent] == 0 { released.append(dependent) }
        }
        ready = (ready + released).sorted(by: >)
    }
    guard order.count == nodes.count else {
        let stuck = nodes.indices.first { waitingOn[$0] > 0 }!
        throw LiftCAMError("\(nodes[stuck].label): the graph has a cycle through this node")
    }
    return order
}

/// The default split: the last tensor of activation maps `[1, K, h, w]` (h·w > 1, K not the class
/// count, so a SqueezeNet's 1×1 classifier convolution is not taken) through which every path from
/// the input to the logits goes — the output of the last feature block, which the CAM libraries use.
func defaultSplitTensor(_ graph: GraphLayer, inputShape: [Int], classes: Int) throws(LiftCAMError) -> String {
    let shapes = try graph.slotShapes(for: inputShape)
    for step in graph.steps.reversed() {
        for slot in step.outputs {
            guard let shape = shapes[slot], shape.count == 4, shape[2] * shape[3] > 1, shape[1] != classes else { continue }
            if (try? graph.subgraph(name: "", from: slot, to: graph.outputSlot)) != nil { return graph.slotNames[slot] }
        }
    }
    throw LiftCAMError("no tensor of activation maps lies on every path to the output; name one with --layer")
}
