/// zlib (RFC 1950) and DEFLATE (RFC 1951) decompression: stored, fixed-Huffman and
/// dynamic-Huffman blocks, with the Adler-32 of the output verified.
///
/// Every malformed stream throws: bad header, preset dictionary, reserved block type, stored
/// length/complement mismatch, over-subscribed or unusable Huffman codes, code-length repeats past
/// the table, a distance reaching before the start of the output, truncation, output beyond the
/// caller's limit, a wrong Adler-32 and bytes after the stream. Each loop step consumes input or
/// throws, and the output is capped, so no input can hang or exhaust memory.
public enum Inflate {
    /// Decompresses a zlib stream. `maxOutputCount` caps the output (a guard against
    /// decompression bombs); a stream that inflates to more throws.
    public static func decompress(zlib bytes: [UInt8], maxOutputCount: Int = 1 << 30) throws -> [UInt8] {
        try bytes.withUnsafeBufferPointer { input in
            guard input.count >= 2 else { throw ImageError("zlib: stream of \(input.count) bytes is shorter than its header") }
            let method = input[0] & 0x0F, windowLog = Int(input[0] >> 4) + 8
            guard method == 8 else { throw ImageError("zlib: compression method \(method) is not deflate (8)") }
            guard windowLog <= 15 else { throw ImageError("zlib: window size 2^\(windowLog) exceeds 2^15") }
            guard (UInt16(input[0]) << 8 | UInt16(input[1])) % 31 == 0 else { throw ImageError("zlib: header check bits are wrong") }
            guard input[1] & 0x20 == 0 else { throw ImageError("zlib: preset dictionaries are not supported") }

            var reader = BitReader(input, start: 2)
            let output = try inflate(&reader, maxOutputCount: maxOutputCount)

            // The Adler-32 follows the last block, big-endian, starting on a byte boundary.
            reader.alignToByte()
            var stored: UInt32 = 0
            for _ in 0..<4 { stored = stored << 8 | (try reader.bits(8, "zlib: stream ends inside its Adler-32")) }
            guard stored == Checksum.adler32(output) else {
                throw ImageError("zlib: Adler-32 mismatch (the data is corrupted)")
            }
            guard reader.isAtEnd else { throw ImageError("zlib: \(reader.bytesLeft) unexpected bytes after the stream") }
            return output
        }
    }

    /// Decodes DEFLATE blocks until the one marked final (RFC 1951 §3.2.3).
    static func inflate(_ reader: inout BitReader, maxOutputCount: Int) throws -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(min(maxOutputCount, max(reader.bytesLeft * 4, 1024)))
        var isFinal = false
        while !isFinal {
            isFinal = try reader.bits(1, truncated) == 1
            switch try reader.bits(2, truncated) {
            case 0: try copyStored(&reader, into: &out, maxOutputCount: maxOutputCount)
            case 1: try inflateBlock(&reader, HuffmanTable.fixedLiteral, HuffmanTable.fixedDistance, &out, maxOutputCount)
            case 2:
                let (literal, distance) = try readDynamicTables(&reader)
                try inflateBlock(&reader, literal, distance, &out, maxOutputCount)
            default: throw ImageError("deflate: reserved block type 3")
            }
        }
        return out
    }

    static let truncated = "deflate: compressed data is truncated"

    /// A stored block: byte-aligned LEN and its one's complement NLEN, then LEN raw bytes.
    static func copyStored(_ reader: inout BitReader, into out: inout [UInt8], maxOutputCount: Int) throws {
        reader.alignToByte()
        let length = Int(try reader.bits(16, truncated)), complement = Int(try reader.bits(16, truncated))
        guard length == ~complement & 0xFFFF else { throw ImageError("deflate: stored block length does not match its complement") }
        guard out.count + length <= maxOutputCount else { throw tooLong(maxOutputCount) }
        try reader.copyBytes(length, into: &out, truncated)
    }

    static func tooLong(_ limit: Int) -> ImageError {
        ImageError("deflate: data inflates to more than the expected \(limit) bytes")
    }

    /// Base lengths and extra bits of length symbols 257...285 (RFC 1951 §3.2.5): extra bits grow by
    /// one every four codes after the first eight, and 285 means exactly 258.
    static let lengthBase: [Int] = {
        var base = [3]
        for code in 0..<27 { base.append(base[code] + 1 << lengthExtra[code]) }
        return base + [258]
    }()
    static let lengthExtra: [Int] = (0..<28).map { $0 < 8 ? 0 : ($0 - 4) / 4 } + [0]
    /// Base distances and extra bits of distance symbols 0...29: extra bits grow every two codes.
    static let distanceExtra: [Int] = (0..<30).map { $0 < 4 ? 0 : ($0 - 2) / 2 }
    static let distanceBase: [Int] = {
        var base = [1]
        for code in 0..<29 { base.append(base[code] + 1 << distanceExtra[code]) }
        return base
    }()

    /// Literal/length and distance symbols until end-of-block (256), copying back-references.
    static func inflateBlock(_ reader: inout BitReader, _ literal: HuffmanTable, _ distance: HuffmanTable,
                             _ out: inout [UInt8], _ maxOutputCount: Int) throws {
        while true {
            let symbol = try reader.decode(literal)
            if symbol < 256 {
                guard out.count < maxOutputCount else { throw tooLong(maxOutputCount) }
                out.append(UInt8(symbol))
                continue
            }
            if symbol == 256 { return }
            let lengthCode = symbol - 257
            guard lengthCode < 29 else { throw ImageError("deflate: invalid length symbol \(symbol)") }
            let length = lengthBase[lengthCode] + Int(try reader.bits(lengthExtra[lengthCode], truncated))
            let distanceCode = try reader.decode(distance)
            guard distanceCode < 30 else { throw ImageError("deflate: invalid distance symbol \(distanceCode)") }
            let back = distanceBase[distanceCode] + Int(try reader.bits(distanceExtra[distanceCode], truncated))
            guard back <= out.count else {
                throw ImageError("deflate: distance \(back) reaches before the start of the data (\(out.count) bytes)")
            }
            guard out.count + length <= maxOutputCount else { throw tooLong(maxOutputCount) }
            // Byte by byte on purpose: an overlapping copy (back < length) repeats what it just wrote.
            var from = out.count - back
            for _ in 0..<length {
                out.append(out[from])
                from += 1
            }
        }
    }

    /// The order in which code-length code lengths are sent (RFC 1951 §3.2.7).
    static let codeLengthOrder = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]

    /// A dynamic block's header: the code-length code, then the run-length coded code lengths of
    /// the literal/length and distance alphabets.
    static func readDynamicTables(_ reader: inout BitReader) throws -> (HuffmanTable, HuffmanTable) {
        let literalCount = Int(try reader.bits(5, truncated)) + 257
        let distanceCount = Int(try reader.bits(5, truncated)) + 1
        let codeLengthCount = Int(try reader.bits(4, truncated)) + 4
        guard literalCount <= 286, distanceCount <= 30 else {
            throw ImageError("deflate: dynamic block declares \(literalCount) literal and \(distanceCount) distance codes (max 286 and 30)")
        }
        var codeLengthLengths = [UInt8](repeating: 0, count: 19)
        for i in 0..<codeLengthCount { codeLengthLengths[codeLengthOrder[i]] = UInt8(try reader.bits(3, truncated)) }
        let codeLengthTable = try HuffmanTable(lengths: codeLengthLengths, name: "code-length")

        var lengths = [UInt8]()
        lengths.reserveCapacity(literalCount + distanceCount)
        while lengths.count < literalCount + distanceCount {
            let symbol = try reader.decode(codeLengthTable)
            if symbol < 16 { lengths.append(UInt8(symbol)); continue }
            let value: UInt8, repeats: Int
            switch symbol {
            case 16:
                guard let previous = lengths.last else { throw ImageError("deflate: repeat code 16 with no previous length") }
                value = previous; repeats = 3 + Int(try reader.bits(2, truncated))
            case 17: value = 0; repeats = 3 + Int(try reader.bits(3, truncated))
            default: value = 0; repeats = 11 + Int(try reader.bits(7, truncated))
            }
            guard lengths.count + repeats <= literalCount + distanceCount else {
                throw ImageError("deflate: code-length repeat runs past the end of the table")
            }
            lengths.append(contentsOf: repeatElement(value, count: repeats))
        }
        guard lengths[256] != 0 else { throw ImageError("deflate: dynamic block has no end-of-block code") }
        let literal = try HuffmanTable(lengths: Array(lengths[0..<literalCount]), name: "literal/length")
        let distance = try HuffmanTable(lengths: Array(lengths[literalCount...]), name: "distance")
        return (literal, distance)
    }
}

/// A canonical Huffman code as one lookup table indexed by the next `maxLength` input bits.
///
/// DEFLATE packs Huffman codes starting from their most significant bit into a least-significant-
/// bit-first stream, so each code is bit-reversed and its entry repeated for every value of the
/// bits that follow it. An entry holds `symbol << 4 | length`; 0 marks bit patterns that no code
/// uses (an incomplete code), which decode as an error instead of a guess.
struct HuffmanTable {
    let entries: [UInt16]
    let maxLength: Int

    init(lengths: [UInt8], name: String) throws {
        var countPerLength = [Int](repeating: 0, count: 16)
        for length in lengths { countPerLength[Int(length)] += 1 }
        countPerLength[0] = 0
        // Kraft inequality: more codes of a length than the shorter ones leave room for is invalid.
        var unused = 1
        for length in 1...15 {
            unused = unused * 2 - countPerLength[length]
            guard unused >= 0 else { throw ImageError("deflate: over-subscribed \(name) Huffman code") }
        }
        let maxLength = (1...15).last { countPerLength[$0] > 0 } ?? 0
        // First code of each length (RFC 1951 §3.2.2, step 2).
        var nextCode = [Int](repeating: 0, count: 16)
        var code = 0
        for length in 1...15 {
            code = (code + countPerLength[length - 1]) << 1
            nextCode[length] = code
        }
        var entries = [UInt16](repeating: 0, count: 1 << maxLength)
        for (symbol, length) in lengths.enumerated() where length > 0 {
            let length = Int(length)
            var reversed = 0, forward = nextCode[length]
            nextCode[length] += 1
            for _ in 0..<length { reversed = reversed << 1 | forward & 1; forward >>= 1 }
            for index in stride(from: reversed, to: entries.count, by: 1 << length) {
                entries[index] = UInt16(symbol << 4 | length)
            }
        }
        self.entries = entries
        self.maxLength = maxLength
    }

    /// The fixed codes of block type 1 (RFC 1951 §3.2.6); all 32 five-bit distance patterns get an
    /// entry so that symbols 30 and 31 reach the explicit "invalid distance symbol" check.
    static let fixedLiteral = try! HuffmanTable(
        lengths: [UInt8](repeating: 8, count: 144) + [UInt8](repeating: 9, count: 112)
            + [UInt8](repeating: 7, count: 24) + [UInt8](repeating: 8, count: 8), name: "fixed")
    static let fixedDistance = try! HuffmanTable(lengths: [UInt8](repeating: 5, count: 32), name: "fixed")
}

/// Reads a DEFLATE stream's bits, least significant first, through a 64-bit buffer.
struct BitReader {
    private let input: UnsafeBufferPointer<UInt8>
    private var position: Int      // next byte to load into `buffer`
    private var buffer: UInt64 = 0
    private var bitCount = 0       // valid bits in `buffer`

    init(_ input: UnsafeBufferPointer<UInt8>, start: Int) {
        self.input = input
        self.position = start
    }

    var bytesLeft: Int { input.count - position + bitCount / 8 }
    var isAtEnd: Bool { bitCount == 0 && position == input.count }

    @inline(__always) private mutating func refill() {
        while bitCount <= 56 && position < input.count {
            buffer |= UInt64(input[position]) << UInt64(bitCount)
            position += 1
            bitCount += 8
        }
    }

    /// The next `count` (0...16) bits as an integer; throws `message` if the input ends first.
    @inline(__always) mutating func bits(_ count: Int, _ message: @autoclosure () -> String) throws -> UInt32 {
        if bitCount < count {
            refill()
            guard bitCount >= count else { throw ImageError(message()) }
        }
        let value = UInt32(truncatingIfNeeded: buffer & ((1 << UInt64(count)) - 1))
        buffer >>= UInt64(count)
        bitCount -= count
        return value
    }

    /// One symbol of `table`. Near the end of the input fewer than `maxLength` bits may remain; the
    /// missing ones read as zero, and only a code longer than what is really left is truncation.
    @inline(__always) mutating func decode(_ table: HuffmanTable) throws -> Int {
        if bitCount < table.maxLength { refill() }
        let entry = table.entries[Int(truncatingIfNeeded: buffer & ((1 << UInt64(table.maxLength)) - 1))]
        let length = Int(entry & 15)
        guard length > 0 else { throw ImageError("deflate: invalid Huffman code") }
        guard length <= bitCount else { throw ImageError(Inflate.truncated) }
        buffer >>= UInt64(length)
        bitCount -= length
        return Int(entry >> 4)
    }

    mutating func alignToByte() {
        let drop = bitCount & 7
        buffer >>= UInt64(drop)
        bitCount -= drop
    }

    /// Appends `count` raw bytes (a stored block) to `out`; call `alignToByte` first.
    mutating func copyBytes(_ count: Int, into out: inout [UInt8], _ message: String) throws {
        var remaining = count
        while remaining > 0 && bitCount >= 8 {
            out.append(UInt8(truncatingIfNeeded: buffer))
            buffer >>= 8
            bitCount -= 8
            remaining -= 1
        }
        guard remaining <= input.count - position else { throw ImageError(message) }
        out.append(contentsOf: input[position..<position + remaining])
        position += remaining
    }
}
