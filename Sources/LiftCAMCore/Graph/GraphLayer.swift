// A network that is a graph rather than a chain (DenseNet's concatenations, MobileNet's residual
// sums, squeeze-and-excitation products): named tensors ("slots") and operations in topological
// order. As a `Layer` it maps its one input tensor to its one output tensor, so a body or a head cut
// from an ONNX model runs through the same CAM methods as VGG's and ResNet's chains.
//
// Backward passes walk the operations in reverse, and a tensor read by several operations receives
// the sum of their multipliers: the multivariate chain rule for gradients, and DeepLIFT's
// (Shrikumar et al. 2017, §3.3) for multipliers, which is what keeps summation-to-delta exact.

/// One operation of a graph and the slots it reads and writes.
public struct GraphStep: Sendable {
    /// The operation.
    public let operation: any GraphOperation
    /// The slots of its inputs, in the operation's order.
    public let inputs: [Int]
    /// The slots it writes.
    public let outputs: [Int]

    /// The step running `operation` on `inputs` into `outputs`.
    public init(operation: any GraphOperation, inputs: [Int], outputs: [Int]) {
        self.operation = operation
        self.inputs = inputs
        self.outputs = outputs
    }
}

/// A directed acyclic graph of operations from one input tensor to one output tensor.
public final class GraphLayer: Layer {
    public let name: String
    /// The operations, each after every operation whose output it reads.
    public let steps: [GraphStep]
    /// Every slot's tensor name (ONNX's), for splits and messages.
    public let slotNames: [String]
    /// The slot the input is written to, and the slot read as the output.
    public let inputSlot: Int, outputSlot: Int
    /// For each slot, the last step that reads it (−1 for none): a forward pass frees it after that.
    private let lastReader: [Int]

    /// A graph of `steps` over slots named `slotNames`. The steps must be in topological order, every
    /// slot read must be `inputSlot` or written by an earlier step (`GraphBuilder` ensures it).
    public init(name: String, steps: [GraphStep], slotNames: [String], inputSlot: Int, outputSlot: Int) {
        self.name = name
        self.steps = steps
        self.slotNames = slotNames
        self.inputSlot = inputSlot
        self.outputSlot = outputSlot
        var lastReader = [Int](repeating: -1, count: slotNames.count)
        for (index, step) in steps.enumerated() {
            for slot in step.inputs { lastReader[slot] = index }
        }
        lastReader[outputSlot] = steps.count
        self.lastReader = lastReader
    }

    public func using(_ kernels: KernelChoice) -> GraphLayer {
        GraphLayer(name: name, steps: steps.map { GraphStep(operation: $0.operation.using(kernels), inputs: $0.inputs, outputs: $0.outputs) },
                   slotNames: slotNames, inputSlot: inputSlot, outputSlot: outputSlot)
    }

    /// Every slot's shape for one input item of `inputShape` (batch 1), step by step.
    public func slotShapes(for inputShape: [Int]) throws(LiftCAMError) -> [[Int]?] {
        var shapes = [[Int]?](repeating: nil, count: slotNames.count)
        shapes[inputSlot] = [1] + inputShape
        for step in steps {
            var inputShapes: [[Int]] = []
            for slot in step.inputs {
                guard let shape = shapes[slot] else { throw LiftCAMError("\(step.operation.name): input '\(oneLine(slotNames[slot]))' is not computed") }
                inputShapes.append(shape)
            }
            let outputShapes = try step.operation.outputShapes(for: inputShapes)
            for (slot, shape) in zip(step.outputs, outputShapes) { shapes[slot] = shape }
        }
        return shapes
    }

    public func outputShape(for inputShape: [Int]) throws(LiftCAMError) -> [Int] {
        guard let shape = try slotShapes(for: inputShape)[outputSlot] else {
            throw LiftCAMError("\(name): the output '\(oneLine(slotNames[outputSlot]))' is not computed")
        }
        return Array(shape.dropFirst())
    }

    public func forward(_ input: Tensor) -> Tensor {
        var values = [Tensor?](repeating: nil, count: slotNames.count)
        values[inputSlot] = input
        for (index, step) in steps.enumerated() {
            let outputs = step.operation.forward(step.inputs.map { values[$0]! })
            for (slot, value) in zip(step.outputs, outputs) { values[slot] = value }
            // Free what no later step reads, so a deep graph holds only its live tensors.
            for slot in step.inputs where lastReader[slot] == index { values[slot] = nil }
        }
        return values[outputSlot]!
    }

    /// Parts: one trace per step, in step order.
    public func forwardTrace(_ input: Tensor) -> Trace {
        var values = [Tensor?](repeating: nil, count: slotNames.count)
        values[inputSlot] = input
        var parts: [Trace] = []
        parts.reserveCapacity(steps.count)
        for (index, step) in steps.enumerated() {
            let (outputs, trace) = step.operation.forwardTrace(step.inputs.map { values[$0]! })
            for (slot, value) in zip(step.outputs, outputs) { values[slot] = value }
            for slot in step.inputs where lastReader[slot] == index { values[slot] = nil }
            parts.append(trace)
        }
        return Trace(input: input, output: values[outputSlot]!, parts: parts)
    }

    /// The steps in reverse; each slot's multipliers are the sum over the steps that read it.
    public func backward(_ outputMultipliers: Tensor, trace: Trace, reference: Trace?) -> Tensor {
        var multipliers = [Tensor?](repeating: nil, count: slotNames.count)
        multipliers[outputSlot] = outputMultipliers
        for index in steps.indices.reversed() {
            let step = steps[index]
            let incoming = step.outputs.map { multipliers[$0] }
            guard incoming.contains(where: { $0 != nil }) else { continue }
            for slot in step.outputs where slot != inputSlot { multipliers[slot] = nil }
            let outgoing = step.operation.backward(incoming, trace: trace.parts[index], reference: reference?.parts[index])
            for (slot, m) in zip(step.inputs, outgoing) {
                if let existing = multipliers[slot] { multipliers[slot] = add(existing, m) } else { multipliers[slot] = m }
            }
        }
        return multipliers[inputSlot] ?? Tensor(shape: trace.input.shape)
    }
}

extension GraphLayer {
    /// The slot named `name`, if any.
    public func slot(named name: String) -> Int? { slotNames.firstIndex(of: name) }

    /// The step writing each slot (nil for the input and for slots nothing writes).
    var producers: [Int?] {
        var producers = [Int?](repeating: nil, count: slotNames.count)
        for (index, step) in steps.enumerated() {
            for slot in step.outputs { producers[slot] = index }
        }
        return producers
    }

    /// The part of the graph that computes slot `to` from slot `from`: the steps `to` depends on,
    /// walking back until `from`. Refused, naming a tensor, when `to` also depends on a tensor
    /// computed before `from` by another path (a skip connection around the cut).
    public func subgraph(name: String, from: Int, to: Int) throws(LiftCAMError) -> GraphLayer {
        let producers = self.producers
        var needed = [Bool](repeating: false, count: steps.count)
        var pending = [to]
        var seen = Set<Int>([to])
        while let slot = pending.popLast() {
            if slot == from { continue }
            guard let producer = producers[slot] else {
                throw LiftCAMError("the part after '\(oneLine(slotNames[from]))' also needs '\(oneLine(slotNames[slot]))', which is computed before it or not at all: split at a tensor that every path to the output goes through")
            }
            needed[producer] = true
            for input in steps[producer].inputs where seen.insert(input).inserted { pending.append(input) }
        }
        let kept = steps.indices.filter { needed[$0] }.map { steps[$0] }
        return GraphLayer(name: name, steps: kept, slotNames: slotNames, inputSlot: from, outputSlot: to)
    }

    /// The layers in order when the graph is a plain chain of single-layer steps (each reading the
    /// previous one's output), so the chain's fast paths (head decomposition, the map game's
    /// shortcut) apply; nil otherwise.
    public var chain: [any Layer]? {
        var layers: [any Layer] = []
        var current = inputSlot
        for step in steps {
            guard let operation = step.operation as? LayerOperation, step.inputs == [current], step.outputs.count == 1 else { return nil }
            layers.append(operation.layer)
            current = step.outputs[0]
        }
        return current == outputSlot ? layers : nil
    }

    /// The same computation with each convolution whose only reader is a batch-norm merged with it
    /// (`Sequential.fused`'s rule, on a graph) and, when `mergingReLUs`, each convolution whose only
    /// reader is a ReLU or a clip (ReLU6) computing both in one pass (for forward passes).
    public func fused(mergingReLUs: Bool = false) -> GraphLayer {
        var readers = [Int](repeating: 0, count: slotNames.count)
        for step in steps { for slot in step.inputs { readers[slot] += 1 } }
        readers[outputSlot] += 1
        var result: [GraphStep] = []
        var writerOf: [Int: Int] = [:]  // slot → index in `result` of the step writing it
        for step in steps {
            if let operation = step.operation as? LayerOperation, step.inputs.count == 1, readers[step.inputs[0]] == 1,
               let producer = writerOf[step.inputs[0]], let convStep = result[producer].operation as? LayerOperation,
               let conv = convStep.layer as? Conv2dLayer {
                var merged: (any Layer)?
                if let affine = operation.layer as? ChannelAffineLayer {
                    let folded = foldChannelAffine(intoWeight: conv.weight, bias: conv.bias, scale: affine.scale, shift: affine.shift)
                    merged = Conv2dLayer(name: conv.name, weight: folded.weight, bias: folded.bias, geometry: conv.geometry, kernels: conv.kernels)
                } else if mergingReLUs, let relu = operation.layer as? ReLULayer {
                    merged = ConvolutionReLU(convolution: conv, relu: relu)
                } else if mergingReLUs, let clip = operation.layer as? ElementwiseLayer {
                    merged = ConvolutionReLU(convolution: conv, clip: clip)   // ReLU6; nil for other functions
                }
                if let merged {
                    result[producer] = GraphStep(operation: LayerOperation(merged), inputs: result[producer].inputs, outputs: step.outputs)
                    writerOf[step.outputs[0]] = producer
                    continue
                }
            }
            for slot in step.outputs { writerOf[slot] = result.count }
            result.append(step)
        }
        return GraphLayer(name: name, steps: result, slotNames: slotNames, inputSlot: inputSlot, outputSlot: outputSlot)
    }
}
