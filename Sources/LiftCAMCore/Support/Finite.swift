// Finding NaN and infinities before they spread: one NaN weight turns every map into NaN, so
// weights and inputs are checked when they are read and reported by name and position instead.

/// The first element of `values` that is NaN or ±infinity, as (flat index, value); nil when all
/// are finite.
public func firstNonFiniteElement(_ values: [Float]) -> (index: Int, value: Float)? {
    values.withUnsafeBufferPointer { buffer in
        buffer.withMemoryRebound(to: UInt32.self) { bits in
            // A float is NaN or infinite exactly when its exponent bits are all ones. The maximum of
            // the masked exponents over a block vectorises; only a block that has one is searched.
            let exponent: UInt32 = 0x7F80_0000
            let block = 4096
            var start = 0
            while start < bits.count {
                let end = min(bits.count, start + block)
                var largest: UInt32 = 0
                for i in start..<end { largest = max(largest, bits[i] & exponent) }
                if largest == exponent {
                    let index = (start..<end).first { bits[$0] & exponent == exponent }!
                    return (index, buffer[index])
                }
                start = end
            }
            return nil
        }
    }
}

/// "element [0, 2, 5] (flat index 29) is NaN" for the first non-finite element of `tensor`, or
/// nil when every element is finite. The kind is "NaN", "+infinity" or "-infinity".
public func nonFiniteDescription(_ tensor: Tensor) -> String? {
    guard let (index, value) = firstNonFiniteElement(tensor.storage) else { return nil }
    var position = [Int](repeating: 0, count: tensor.shape.count)
    var rest = index
    for axis in tensor.shape.indices.reversed() where tensor.shape[axis] > 0 {
        position[axis] = rest % tensor.shape[axis]
        rest /= tensor.shape[axis]
    }
    let kind = value.isNaN ? "NaN" : (value > 0 ? "+infinity" : "-infinity")
    return "element \(position) (flat index \(index)) is \(kind)"
}
