// Layers that move elements without arithmetic (reshape, transpose, slice), and arithmetic with a
// constant operand (ONNX Add/Sub/Mul/Div by a weight tensor). All are linear in their input (up to a
// constant), so their DeepLIFT multiplier is their gradient: the transpose of the move, or the
// constant factor. Shapes here are per item; the batch stays dimension 0 and is never moved.

/// ONNX Reshape (and Flatten at an axis other than 1): `[N, …]` → `[N] + itemShape`.
public final class ReshapeLayer: Layer {
    public let name: String
    /// One item's shape after the reshape.
    public let itemShape: [Int]

    /// The reshape `name` to `itemShape` per item.
    public init(name: String, itemShape: [Int]) {
        self.name = name
        self.itemShape = itemShape
    }

    public func using(_ kernels: KernelChoice) -> ReshapeLayer { self }

    public func outputShape(for inputShape: [Int]) throws(LiftCAMError) -> [Int] {
        guard inputShape.reduce(1, *) == itemShape.reduce(1, *) else {
            throw LiftCAMError("\(name): cannot reshape \(inputShape) to \(itemShape)")
        }
        return itemShape
    }

    public func forward(_ input: Tensor) -> Tensor { input.reshaped([input.shape[0]] + itemShape) }

    public func backward(_ outputMultipliers: Tensor, trace: Trace, reference: Trace?) -> Tensor {
        outputMultipliers.reshaped(trace.input.shape)
    }
}

/// ONNX Transpose with a permutation that keeps the batch first: output dimension i is input
/// dimension `permutation[i]` (ShuffleNet's channel shuffle swaps groups and channels).
public final class TransposeLayer: Layer {
    public let name: String
    /// The permutation of one item's dimensions (the ONNX `perm` without its leading 0, minus 1).
    public let permutation: [Int]

    /// The transpose `name` by `permutation` of the item dimensions.
    public init(name: String, permutation: [Int]) {
        self.name = name
        self.permutation = permutation
    }

    public func using(_ kernels: KernelChoice) -> TransposeLayer { self }

    public func outputShape(for inputShape: [Int]) throws(LiftCAMError) -> [Int] {
        guard inputShape.count == permutation.count else {
            throw LiftCAMError("\(name): permutation \(permutation) of a rank-\(inputShape.count) item")
        }
        return permutation.map { inputShape[$0] }
    }

    public func forward(_ input: Tensor) -> Tensor { permuted(input, by: [0] + permutation.map { $0 + 1 }) }

    /// The inverse permutation carries the multipliers back.
    public func backward(_ outputMultipliers: Tensor, trace: Trace, reference: Trace?) -> Tensor {
        var inverse = [Int](repeating: 0, count: permutation.count + 1)
        for (i, p) in ([0] + permutation.map { $0 + 1 }).enumerated() { inverse[p] = i }
        return permuted(outputMultipliers, by: inverse)
    }
}

/// `tensor` with its dimensions reordered: output dimension i is input dimension `order[i]`.
func permuted(_ tensor: Tensor, by order: [Int]) -> Tensor {
    let shape = tensor.shape, rank = shape.count
    var inputStrides = [Int](repeating: 1, count: rank)
    for d in stride(from: rank - 2, through: 0, by: -1) { inputStrides[d] = inputStrides[d + 1] * shape[d + 1] }
    let outputShape = order.map { shape[$0] }
    let strides = order.map { inputStrides[$0] }
    var output = Tensor(shape: outputShape)
    output.storage.withUnsafeMutableBufferPointer { y in
        tensor.storage.withUnsafeBufferPointer { x in
            var index = [Int](repeating: 0, count: rank)
            var offset = 0
            for i in 0..<y.count {
                y[i] = x[offset]
                var d = rank - 1
                while d >= 0 {
                    index[d] += 1
                    offset += strides[d]
                    if index[d] < outputShape[d] { break }
                    offset -= strides[d] * outputShape[d]
                    index[d] = 0
                    d -= 1
                }
            }
        }
    }
    return output
}

/// ONNX Slice with positive steps, on item dimensions: keeps `starts[i]`, `starts[i] + steps[i]`, …
/// below `ends[i]` of each dimension. The gradient puts the multipliers back and zeros elsewhere.
public final class SliceLayer: Layer {
    public let name: String
    /// Per item dimension: first index, bound (exclusive), step (all resolved and clamped).
    public let starts: [Int], ends: [Int], steps: [Int]

    /// The slice `name`; the three lists have one entry per item dimension.
    public init(name: String, starts: [Int], ends: [Int], steps: [Int]) {
        self.name = name
        self.starts = starts
        self.ends = ends
        self.steps = steps
    }

    public func using(_ kernels: KernelChoice) -> SliceLayer { self }

    public func outputShape(for inputShape: [Int]) throws(LiftCAMError) -> [Int] {
        guard inputShape.count == starts.count else {
            throw LiftCAMError("\(name): slice of \(starts.count) dimensions on a rank-\(inputShape.count) item")
        }
        return inputShape.indices.map { d in max(0, (min(ends[d], inputShape[d]) - starts[d] + steps[d] - 1) / steps[d]) }
    }

    /// Flat input offsets of every kept element, in output order (batch item 0).
    private func sourceOffsets(itemShape: [Int]) -> [Int] {
        let kept = itemShape.indices.map { d in Array(stride(from: starts[d], to: min(ends[d], itemShape[d]), by: steps[d])) }
        var offsets = [0]
        for d in itemShape.indices {
            let stride = itemShape[(d + 1)...].reduce(1, *)
            offsets = offsets.flatMap { base in kept[d].map { base + $0 * stride } }
        }
        return offsets
    }

    public func forward(_ input: Tensor) -> Tensor {
        let itemShape = Array(input.shape.dropFirst())
        let outputItem = (try? outputShape(for: itemShape)) ?? itemShape
        let offsets = sourceOffsets(itemShape: itemShape)
        let itemSize = itemShape.reduce(1, *)
        var storage: [Float] = []
        storage.reserveCapacity(input.shape[0] * offsets.count)
        for n in 0..<input.shape[0] {
            for offset in offsets { storage.append(input.storage[n * itemSize + offset]) }
        }
        return Tensor(shape: [input.shape[0]] + outputItem, storage: storage)
    }

    public func backward(_ outputMultipliers: Tensor, trace: Trace, reference: Trace?) -> Tensor {
        let itemShape = Array(trace.input.shape.dropFirst())
        let offsets = sourceOffsets(itemShape: itemShape)
        let itemSize = itemShape.reduce(1, *)
        var result = Tensor(shape: trace.input.shape)
        for n in 0..<trace.input.shape[0] {
            for (j, offset) in offsets.enumerated() {
                result.storage[n * itemSize + offset] += outputMultipliers.storage[n * offsets.count + j]
            }
        }
        return result
    }
}

/// x combined with a constant tensor c (ONNX Add, Sub, Mul or Div with a weight operand), broadcast
/// to x's shape: affine in x, so the multiplier is the gradient (1, −1, c or 1/c).
public final class ConstantArithmeticLayer: Layer {
    /// Which combination of x and the constant c.
    public enum Operation: Sendable {
        /// x + c.
        case add
        /// c − x.
        case subtractFromConstant
        /// x − c.
        case subtractConstant
        /// x · c.
        case multiply
        /// x / c.
        case divide
    }

    public let name: String
    /// The combination.
    public let operation: Operation
    /// c, with the batch dimension as ONNX shapes it (it must not stretch x).
    public let constant: Tensor

    /// The layer `name` computing `operation` with `constant`.
    public init(name: String, operation: Operation, constant: Tensor) {
        self.name = name
        self.operation = operation
        self.constant = constant
    }

    public func using(_ kernels: KernelChoice) -> ConstantArithmeticLayer { self }

    public func outputShape(for inputShape: [Int]) throws(LiftCAMError) -> [Int] {
        guard broadcastShape([1] + inputShape, constant.shape) == [1] + inputShape else {
            throw LiftCAMError("\(name): a constant of shape \(constant.shape) does not fit [N] + \(inputShape)")
        }
        return inputShape
    }

    public func forward(_ input: Tensor) -> Tensor {
        switch operation {
        case .add: return broadcastBinary(input, constant, outputShape: input.shape, +)
        case .subtractFromConstant: return broadcastBinary(input, constant, outputShape: input.shape) { $1 - $0 }
        case .subtractConstant: return broadcastBinary(input, constant, outputShape: input.shape, -)
        case .multiply: return broadcastBinary(input, constant, outputShape: input.shape, *)
        case .divide: return broadcastBinary(input, constant, outputShape: input.shape, /)
        }
    }

    public func backward(_ outputMultipliers: Tensor, trace: Trace, reference: Trace?) -> Tensor {
        let m = outputMultipliers
        switch operation {
        case .add, .subtractConstant: return m
        case .subtractFromConstant: return Tensor(shape: m.shape, storage: m.storage.map { -$0 })
        case .multiply: return broadcastBinary(m, constant, outputShape: m.shape, *)
        case .divide: return broadcastBinary(m, constant, outputShape: m.shape, /)
        }
    }
}
