import LiftCAM
import LiftCAMCommandLine

/// Seeded byte-level mutations of a valid file: bit flips, truncations, insertions, deletions,
/// duplicated slices, and integers or decimal numbers replaced with boundary values (huge,
/// negative, zero, one past a limit). The same seed always gives the same mutations.
public struct Mutator {
    var random: SplitMix64

    public init(seed: UInt64) { random = SplitMix64(seed: seed) }

    /// A uniform integer in `range` (which must not be empty).
    public mutating func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(random.next() % UInt64(range.upperBound - range.lowerBound + 1))
    }

    public mutating func chance(_ numerator: Int, in denominator: Int) -> Bool { int(1...denominator) <= numerator }

    public mutating func pick<T>(_ items: [T]) -> T { items[int(0...items.count - 1)] }

    /// Integers that sit on the edges of every size check: 0, 1, powers of two and one past them,
    /// the largest signed and unsigned 16/32/64-bit values.
    static let boundaryIntegers: [UInt64] = [0, 1, 2, 3, 7, 8, 15, 16, 255, 256, 4095, 4096, 4097, 65535, 65536,
                                             1 << 24, 1 << 26, (1 << 26) + 1, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF,
                                             1 << 32, 1_000_000_000_000, UInt64(Int64.max), UInt64(Int64.max) + 1, UInt64.max]

    /// Decimal texts for a number field: boundaries, 10^12, past Int64 and Double, negative,
    /// fractional, and what is not a number at all.
    static let boundaryNumbers = ["0", "-1", "1", "2", "3", "255", "256", "4096", "4097", "65535", "65536", "65537",
                                  "16777216", "2147483647", "2147483648", "4294967296", "1000000000000",
                                  "9223372036854775807", "9223372036854775808", "-9223372036854775808",
                                  "99999999999999999999999999", "1e308", "1e309", "-0", "0.5", "1.0", "NaN", "inf", "", "+5", "0x10"]

    /// One to four stacked generic mutations of `bytes`.
    public mutating func mutate(_ bytes: [UInt8]) -> [UInt8] {
        var out = bytes
        for _ in 0..<int(1...4) { out = mutateOnce(out) }
        return out
    }

    public mutating func mutateOnce(_ bytes: [UInt8]) -> [UInt8] {
        var out = bytes
        switch int(0...9) {
        case 0:   // flip 1–8 bits
            guard !out.isEmpty else { return [UInt8(truncatingIfNeeded: random.next())] }
            for _ in 0..<int(1...8) { out[int(0...out.count - 1)] ^= 1 << UInt8(int(0...7)) }
        case 1:   // truncate
            out.removeLast(out.isEmpty ? 0 : int(1...out.count))
        case 2:   // insert random bytes
            let count = int(1...16)
            out.insert(contentsOf: (0..<count).map { _ in UInt8(truncatingIfNeeded: random.next()) }, at: int(0...out.count))
        case 3:   // delete a range
            guard !out.isEmpty else { return out }
            let start = int(0...out.count - 1)
            out.removeSubrange(start..<min(out.count, start + int(1...32)))
        case 4:   // duplicate a slice somewhere else
            guard !out.isEmpty else { return out }
            let start = int(0...out.count - 1)
            let slice = Array(out[start..<min(out.count, start + int(1...64))])
            out.insert(contentsOf: slice, at: int(0...out.count))
        case 5, 6:   // a boundary integer over 1, 2, 4 or 8 bytes, either byte order
            out = overwriteInteger(out, at: out.isEmpty ? 0 : int(0...out.count - 1))
        case 7, 8:   // a decimal number replaced by a boundary text
            out = replaceNumber(out)
        default:  // one byte set to a random or special value
            guard !out.isEmpty else { return out }
            out[int(0...out.count - 1)] = pick([0, 0xFF, 0x7F, 0x80, 0x0A, 0x0D, 0x22, 0x27, 0x2C, 0x5C, UInt8(truncatingIfNeeded: random.next())])
        }
        return out
    }

    /// `bytes` with a boundary integer written at `offset` (1, 2, 4 or 8 bytes, big- or little-endian).
    public mutating func overwriteInteger(_ bytes: [UInt8], at offset: Int, width: Int? = nil, bigEndian: Bool? = nil) -> [UInt8] {
        var out = bytes
        let width = width ?? pick([1, 2, 4, 8])
        var value = pick(Mutator.boundaryIntegers)
        if chance(1, in: 4) { value = value &- 1 }
        let big = bigEndian ?? chance(1, in: 2)
        for i in 0..<width where offset + i < out.count {
            let shift = UInt64(8 * (big ? width - 1 - i : i))
            out[offset + i] = UInt8(truncatingIfNeeded: value >> shift)
        }
        return out
    }

    /// `bytes` with one run of ASCII digits (with its sign) replaced by a boundary number; a random
    /// insertion of one when the bytes hold no digits.
    public mutating func replaceNumber(_ bytes: [UInt8]) -> [UInt8] {
        var runs: [Range<Int>] = []
        var i = 0
        while i < bytes.count {
            guard isDigit(bytes[i]) else { i += 1; continue }
            var start = i
            if start > 0 && bytes[start - 1] == UInt8(ascii: "-") { start -= 1 }
            while i < bytes.count && isDigit(bytes[i]) { i += 1 }
            runs.append(start..<i)
            if runs.count == 256 { break }   // enough to choose from; keeps long rasters cheap
        }
        let replacement = Array(pick(Mutator.boundaryNumbers).utf8)
        var out = bytes
        if runs.isEmpty {
            out.insert(contentsOf: replacement, at: int(0...out.count))
        } else {
            out.replaceSubrange(pick(runs), with: replacement)
        }
        return out
    }

    private func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    /// `bytes` with the first occurrence of `old` replaced by `new` (unchanged when absent).
    public func replacing(_ old: String, with new: String, in bytes: [UInt8]) -> [UInt8] {
        let needle = Array(old.utf8)
        guard !needle.isEmpty, bytes.count >= needle.count else { return bytes }
        for start in 0...(bytes.count - needle.count) where bytes[start..<start + needle.count].elementsEqual(needle) {
            var out = bytes
            out.replaceSubrange(start..<start + needle.count, with: Array(new.utf8))
            return out
        }
        return bytes
    }
}
