// The operations of a graph network (a model read from ONNX): like layers, but with any number of
// inputs and outputs. Most are a single layer (`LayerOperation`); the others join or part tensors:
// a sum, a product, a concatenation, a split. Every tensor keeps the batch as its dimension 0.

/// One node of a `GraphLayer`, with the three passes every layer has (Layer.swift): forward, the
/// gradient (reference nil) and DeepLIFT-Rescale multipliers (reference given).
public protocol GraphOperation: AnyObject, Sendable {
    /// The node's name, for messages.
    var name: String { get }
    /// The output shapes for inputs of these shapes (batch included), or an error naming the node.
    func outputShapes(for inputShapes: [[Int]]) throws(LiftCAMError) -> [[Int]]
    /// The outputs and what the backward passes need.
    func forwardTrace(_ inputs: [Tensor]) -> (outputs: [Tensor], trace: Trace)
    /// The forward pass alone.
    func forward(_ inputs: [Tensor]) -> [Tensor]
    /// The multipliers of every input from those of the outputs; a nil output multiplier is zero
    /// (no path from that output reaches the logits).
    func backward(_ outputMultipliers: [Tensor?], trace: Trace, reference: Trace?) -> [Tensor]
    /// The same operation running `kernels`.
    func using(_ kernels: KernelChoice) -> any GraphOperation
}

/// A layer as a graph node: one input, one output, its own three passes.
public final class LayerOperation: GraphOperation {
    /// The layer.
    public let layer: any Layer

    /// The node computing `layer`.
    public init(_ layer: any Layer) { self.layer = layer }

    public var name: String { layer.name }

    public func outputShapes(for inputShapes: [[Int]]) throws(LiftCAMError) -> [[Int]] {
        let shape = inputShapes[0]
        guard !shape.isEmpty else { throw LiftCAMError("\(name): expects a batch, got a scalar") }
        return [[shape[0]] + (try layer.outputShape(for: Array(shape.dropFirst())))]
    }

    public func forward(_ inputs: [Tensor]) -> [Tensor] { [layer.forward(inputs[0])] }

    public func forwardTrace(_ inputs: [Tensor]) -> (outputs: [Tensor], trace: Trace) {
        let trace = layer.forwardTrace(inputs[0])
        return ([trace.output], trace)
    }

    public func backward(_ outputMultipliers: [Tensor?], trace: Trace, reference: Trace?) -> [Tensor] {
        [layer.backward(outputMultipliers[0] ?? Tensor(shape: trace.output.shape), trace: trace, reference: reference)]
    }

    public func using(_ kernels: KernelChoice) -> any GraphOperation { LayerOperation(layer.using(kernels)) }
}

/// a + b of two computed tensors, broadcast (ONNX Add): a residual connection. Linear, so both
/// operands receive the output's multipliers (summed over the dimensions they were stretched along).
public final class SumOperation: GraphOperation {
    public let name: String

    /// The sum node `name`.
    public init(name: String) { self.name = name }

    public func outputShapes(for inputShapes: [[Int]]) throws(LiftCAMError) -> [[Int]] {
        // Equal ranks: with fewer dimensions, an operand's first one would meet the batch.
        guard inputShapes[0].count == inputShapes[1].count, let shape = broadcastShape(inputShapes[0], inputShapes[1]) else {
            throw LiftCAMError("\(name): cannot add shapes \(inputShapes[0]) and \(inputShapes[1])")
        }
        return [shape]
    }

    public func forward(_ inputs: [Tensor]) -> [Tensor] {
        let (a, b) = (inputs[0], inputs[1])
        if a.shape == b.shape { return [add(a, b)] }
        return [broadcastBinary(a, b, outputShape: broadcastShape(a.shape, b.shape)!, +)]
    }

    public func forwardTrace(_ inputs: [Tensor]) -> (outputs: [Tensor], trace: Trace) {
        let output = forward(inputs)[0]
        return ([output], Trace(input: inputs[0], output: output, operands: inputs))
    }

    public func backward(_ outputMultipliers: [Tensor?], trace: Trace, reference: Trace?) -> [Tensor] {
        let m = outputMultipliers[0] ?? Tensor(shape: trace.output.shape)
        return trace.operands.map { sumBroadcast(m, to: $0.shape) }
    }

    public func using(_ kernels: KernelChoice) -> any GraphOperation { self }
}

/// z = x · y of two computed tensors, broadcast (ONNX Mul): squeeze-and-excitation's channel
/// weighting.
///
/// Gradient: m_x = y·m_z, m_y = x·m_z. Rescale: no single ratio Δz/Δx exists for a product of two
/// variables, so the change is split between them as the two-player Shapley value does,
/// Δ(xy) = ½(y + y₀)Δx + ½(x + x₀)Δy (exact: the right side expands to xy − x₀y₀), which gives
/// m_x = ½(y + y₀)·m_z and m_y = ½(x + x₀)·m_z and keeps summation-to-delta (Eq 4) exact.
/// Captum has no rule for products and uses the gradient (SPEC.md, "DeepLIFT rules").
public final class ProductOperation: GraphOperation {
    public let name: String

    /// The product node `name`.
    public init(name: String) { self.name = name }

    public func outputShapes(for inputShapes: [[Int]]) throws(LiftCAMError) -> [[Int]] {
        guard inputShapes[0].count == inputShapes[1].count, let shape = broadcastShape(inputShapes[0], inputShapes[1]) else {
            throw LiftCAMError("\(name): cannot multiply shapes \(inputShapes[0]) and \(inputShapes[1])")
        }
        return [shape]
    }

    public func forward(_ inputs: [Tensor]) -> [Tensor] {
        [broadcastBinary(inputs[0], inputs[1], outputShape: broadcastShape(inputs[0].shape, inputs[1].shape)!, *)]
    }

    public func forwardTrace(_ inputs: [Tensor]) -> (outputs: [Tensor], trace: Trace) {
        let output = forward(inputs)[0]
        return ([output], Trace(input: inputs[0], output: output, operands: inputs))
    }

    public func backward(_ outputMultipliers: [Tensor?], trace: Trace, reference: Trace?) -> [Tensor] {
        let m = outputMultipliers[0] ?? Tensor(shape: trace.output.shape)
        let (x, y) = (trace.operands[0], trace.operands[1])
        // The factor each operand's multiplier takes from the other: y (gradient) or ½(y + y₀).
        func partner(_ value: Tensor, _ referenceValue: Tensor?) -> Tensor {
            guard let referenceValue else { return value }
            return broadcastBinary(value, referenceValue, outputShape: value.shape) { ($0 + $1) / 2 }
        }
        let towardX = partner(y, reference?.operands[1]), towardY = partner(x, reference?.operands[0])
        let shape = trace.output.shape
        return [sumBroadcast(broadcastBinary(m, towardX, outputShape: shape, *), to: x.shape),
                sumBroadcast(broadcastBinary(m, towardY, outputShape: shape, *), to: y.shape)]
    }

    public func using(_ kernels: KernelChoice) -> any GraphOperation { self }
}

/// Tensors joined along `axis` (ONNX Concat; DenseNet's dense connections, ShuffleNet's halves).
/// Linear: each input receives its own slice of the output's multipliers.
public final class ConcatOperation: GraphOperation {
    public let name: String
    /// The joined dimension (never 0, the batch).
    public let axis: Int

    /// The node `name` joining along `axis` ≥ 1.
    public init(name: String, axis: Int) {
        self.name = name
        self.axis = axis
    }

    public func outputShapes(for inputShapes: [[Int]]) throws(LiftCAMError) -> [[Int]] {
        var shape = inputShapes[0]
        guard axis < shape.count else { throw LiftCAMError("\(name): axis \(axis) of a rank-\(shape.count) tensor") }
        for other in inputShapes.dropFirst() {
            guard other.count == shape.count,
                  other.indices.allSatisfy({ $0 == axis || other[$0] == shape[$0] }) else {
                throw LiftCAMError("\(name): cannot join \(inputShapes[0]) and \(other) along axis \(axis)")
            }
            shape[axis] += other[axis]
        }
        return [shape]
    }

    public func forward(_ inputs: [Tensor]) -> [Tensor] { [concatenate(inputs, axis: axis)] }

    public func forwardTrace(_ inputs: [Tensor]) -> (outputs: [Tensor], trace: Trace) {
        let output = concatenate(inputs, axis: axis)
        return ([output], Trace(input: inputs[0], output: output, operands: inputs))
    }

    public func backward(_ outputMultipliers: [Tensor?], trace: Trace, reference: Trace?) -> [Tensor] {
        let m = outputMultipliers[0] ?? Tensor(shape: trace.output.shape)
        return split(m, axis: axis, sizes: trace.operands.map { $0.shape[axis] })
    }

    public func using(_ kernels: KernelChoice) -> any GraphOperation { self }
}

/// One tensor parted along `axis` into pieces of `sizes` (ONNX Split; ShuffleNet's two halves).
/// Linear: the input's multipliers are the pieces' joined again (zero for a piece no path uses).
public final class SplitOperation: GraphOperation {
    public let name: String
    /// The parted dimension (never 0, the batch).
    public let axis: Int
    /// The pieces' sizes along `axis`.
    public let sizes: [Int]

    /// The node `name` parting along `axis` ≥ 1 into `sizes`.
    public init(name: String, axis: Int, sizes: [Int]) {
        self.name = name
        self.axis = axis
        self.sizes = sizes
    }

    public func outputShapes(for inputShapes: [[Int]]) throws(LiftCAMError) -> [[Int]] {
        let shape = inputShapes[0]
        guard axis < shape.count, sizes.allSatisfy({ $0 >= 0 && $0 <= shape[axis] }), sizes.reduce(0, +) == shape[axis] else {
            throw LiftCAMError("\(name): cannot split \(shape) into \(sizes) along axis \(axis)")
        }
        return sizes.map { size in
            var piece = shape
            piece[axis] = size
            return piece
        }
    }

    public func forward(_ inputs: [Tensor]) -> [Tensor] { split(inputs[0], axis: axis, sizes: sizes) }

    public func forwardTrace(_ inputs: [Tensor]) -> (outputs: [Tensor], trace: Trace) {
        let outputs = forward(inputs)
        return (outputs, Trace(input: inputs[0], output: outputs[0]))
    }

    public func backward(_ outputMultipliers: [Tensor?], trace: Trace, reference: Trace?) -> [Tensor] {
        var pieces: [Tensor] = []
        for (index, size) in sizes.enumerated() {
            var shape = trace.input.shape
            shape[axis] = size
            pieces.append(outputMultipliers[index] ?? Tensor(shape: shape))
        }
        return [concatenate(pieces, axis: axis)]
    }

    public func using(_ kernels: KernelChoice) -> any GraphOperation { self }
}

/// The tensors joined along `axis`: each is read as [outer, size_i·inner] blocks.
func concatenate(_ tensors: [Tensor], axis: Int) -> Tensor {
    var shape = tensors[0].shape
    shape[axis] = tensors.reduce(0) { $0 + $1.shape[axis] }
    let outer = shape[..<axis].reduce(1, *), inner = shape[(axis + 1)...].reduce(1, *)
    var storage: [Float] = []
    storage.reserveCapacity(shape.reduce(1, *))
    for o in 0..<outer {
        for tensor in tensors {
            let block = tensor.shape[axis] * inner
            storage.append(contentsOf: tensor.storage[(o * block)..<((o + 1) * block)])
        }
    }
    return Tensor(shape: shape, storage: storage)
}

/// `tensor` parted along `axis` into pieces of `sizes`.
func split(_ tensor: Tensor, axis: Int, sizes: [Int]) -> [Tensor] {
    let shape = tensor.shape
    let outer = shape[..<axis].reduce(1, *), inner = shape[(axis + 1)...].reduce(1, *)
    var start = 0
    return sizes.map { size in
        var pieceShape = shape
        pieceShape[axis] = size
        var storage: [Float] = []
        storage.reserveCapacity(outer * size * inner)
        for o in 0..<outer {
            let base = (o * shape[axis] + start) * inner
            storage.append(contentsOf: tensor.storage[base..<(base + size * inner)])
        }
        start += size
        return Tensor(shape: pieceShape, storage: storage)
    }
}
