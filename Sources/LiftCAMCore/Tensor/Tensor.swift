/// A dense, contiguous, row-major Float32 tensor.
///
/// Images and activations are `[C, H, W]` or batched `[N, C, H, W]`; matrices are `[rows, cols]`.
/// The storage is a plain `[Float]`, so copies are cheap until written (copy-on-write); kernels never
/// index it element by element but borrow its buffer once (`withUnsafeBufferPointer`), which keeps
/// both copy-on-write checks and bounds checks out of hot loops.
public struct Tensor: Sendable, Equatable {
    /// Sizes of the dimensions, outermost first.
    public private(set) var shape: [Int]
    /// The elements in row-major order; `storage.count == shape.product`.
    public var storage: [Float]

    /// A tensor from its shape and elements. Traps if the counts disagree: that is a programming
    /// error, not bad input (input is validated where it enters, e.g. by the NPY reader).
    public init(shape: [Int], storage: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        precondition(shape.reduce(1, *) == storage.count,
                     "shape \(shape) holds \(shape.reduce(1, *)) elements, storage has \(storage.count)")
        self.shape = shape
        self.storage = storage
    }

    /// A tensor of the given shape filled with `value`.
    public init(shape: [Int], repeating value: Float = 0) {
        self.init(shape: shape, storage: [Float](repeating: value, count: shape.reduce(1, *)))
    }

    /// Number of elements.
    @inlinable public var count: Int { storage.count }
    /// Number of dimensions.
    @inlinable public var rank: Int { shape.count }

    /// The same elements seen with another shape of equal element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, storage: storage)
    }

    /// Element at a multi-index (slow; for tests and small tools, never for kernels).
    public subscript(_ index: Int...) -> Float {
        get { storage[flatIndex(index)] }
        set { storage[flatIndex(index)] = newValue }
    }

    private func flatIndex(_ index: [Int]) -> Int {
        precondition(index.count == shape.count, "index \(index) for shape \(shape)")
        var flat = 0
        for (i, size) in zip(index, shape) {
            precondition(i >= 0 && i < size, "index \(index) out of shape \(shape)")
            flat = flat * size + i
        }
        return flat
    }

    /// The `n`-th item along the first dimension, e.g. one image `[C,H,W]` of a batch `[N,C,H,W]`.
    public func item(_ n: Int) -> Tensor {
        precondition(rank >= 1 && n >= 0 && n < shape[0], "item \(n) of shape \(shape)")
        let size = count / shape[0]
        return Tensor(shape: Array(shape.dropFirst()), storage: Array(storage[n * size ..< (n + 1) * size]))
    }

    /// Stacks equally shaped tensors along a new first dimension.
    public static func stack(_ items: [Tensor]) -> Tensor {
        precondition(!items.isEmpty, "stack of no tensors")
        let itemShape = items[0].shape
        var storage = [Float]()
        storage.reserveCapacity(items.count * items[0].count)
        for item in items {
            precondition(item.shape == itemShape, "stack of shapes \(itemShape) and \(item.shape)")
            storage.append(contentsOf: item.storage)
        }
        return Tensor(shape: [items.count] + itemShape, storage: storage)
    }

    /// Adds a leading batch dimension of 1: `[C,H,W]` becomes `[1,C,H,W]`.
    public var batched: Tensor { reshaped([1] + shape) }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let head = storage.prefix(8).map { String($0) }.joined(separator: ", ")
        return "Tensor(\(shape), [\(head)\(count > 8 ? ", ..." : "")])"
    }
}

extension Array where Element == Int {
    /// Product of the sizes: the element count of a shape.
    @inlinable public var product: Int { reduce(1, *) }
}
