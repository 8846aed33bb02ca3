/// How `Deflate` (and so `PNG.encode`) compresses.
public enum PNGCompression: Sendable {
    /// Stored blocks: no compression, fastest, output ≈ input + 5 bytes per 64 KiB.
    case stored
    /// One block with the fixed Huffman code of RFC 1951 §3.2.6 over LZ77 matches found through
    /// hash chains (greedy matching, 32 KiB window, lengths 3...258).
    case fixedHuffman
}

/// zlib (RFC 1950) compression with stored or fixed-Huffman DEFLATE blocks (RFC 1951).
public enum Deflate {
    /// Compresses `bytes` into a complete zlib stream: 2-byte header, DEFLATE blocks, Adler-32.
    public static func compress(zlib bytes: [UInt8], level: PNGCompression = .fixedHuffman) -> [UInt8] {
        // CMF 0x78 = deflate with a 32 KiB window; FLG makes CMF·256 + FLG a multiple of 31 and
        // records the level (0x01 "fastest" for stored, 0x5E "fast" for fixed Huffman).
        var out: [UInt8] = [0x78, level == .stored ? 0x01 : 0x5E]
        switch level {
        case .stored: appendStoredBlocks(bytes, to: &out)
        case .fixedHuffman: appendFixedHuffmanBlock(bytes, to: &out)
        }
        let adler = Checksum.adler32(bytes)
        out += [UInt8(adler >> 24), UInt8(truncatingIfNeeded: adler >> 16), UInt8(truncatingIfNeeded: adler >> 8), UInt8(truncatingIfNeeded: adler)]
        return out
    }

    /// Stored blocks of at most 65535 bytes each: header bits, LEN, ~LEN, raw bytes.
    static func appendStoredBlocks(_ bytes: [UInt8], to out: inout [UInt8]) {
        var start = 0
        repeat {
            let length = min(65535, bytes.count - start)
            let isFinal = start + length == bytes.count
            out.append(isFinal ? 1 : 0)   // BFINAL, BTYPE = 00, then padding to the byte boundary
            out += [UInt8(length & 0xFF), UInt8(length >> 8), UInt8(~length & 0xFF), UInt8((~length >> 8) & 0xFF)]
            out += bytes[start..<start + length]
            start += length
        } while start < bytes.count
    }

    static let windowSize = 32768
    static let hashBits = 15
    static let maxChainSteps = 128
    static let minMatch = 3, maxMatch = 258

    /// One final fixed-Huffman block (BTYPE = 01) of literals and (length, distance) pairs.
    static func appendFixedHuffmanBlock(_ bytes: [UInt8], to out: inout [UInt8]) {
        var writer = BitWriter()
        writer.write(1, 1)   // BFINAL
        writer.write(1, 2)   // BTYPE = 01
        let n = bytes.count
        // head[h]: the latest position whose next three bytes hash to h; prev[p % window]: the
        // position before p with the same hash. Both hold -1 for "none".
        var head = [Int32](repeating: -1, count: 1 << hashBits)
        var prev = [Int32](repeating: -1, count: windowSize)
        bytes.withUnsafeBufferPointer { data in
            @inline(__always) func hash(_ p: Int) -> Int {
                let key = UInt32(data[p]) << 16 | UInt32(data[p + 1]) << 8 | UInt32(data[p + 2])
                return Int((key &* 2_654_435_761) >> UInt32(32 - hashBits))   // Knuth's multiplicative hash
            }
            @inline(__always) func insert(_ p: Int) {
                guard p + minMatch <= n else { return }
                let h = hash(p)
                prev[p & (windowSize - 1)] = head[h]
                head[h] = Int32(p)
            }
            var position = 0
            while position < n {
                var bestLength = 0, bestDistance = 0
                if position + minMatch <= n {
                    let limit = min(maxMatch, n - position)
                    var candidate = Int(head[hash(position)])
                    var steps = 0
                    while candidate >= 0 && position - candidate <= windowSize && steps < maxChainSteps {
                        // Only a candidate that also matches one byte past the best so far can beat it.
                        if bestLength == 0 || data[candidate + bestLength] == data[position + bestLength] {
                            var length = 0
                            while length < limit && data[candidate + length] == data[position + length] { length += 1 }
                            if length > bestLength {
                                bestLength = length; bestDistance = position - candidate
                                if length == limit { break }
                            }
                        }
                        let next = Int(prev[candidate & (windowSize - 1)])
                        // A slot overwritten by a newer position would point forward: stop there.
                        guard next < candidate else { break }
                        candidate = next
                        steps += 1
                    }
                }
                if bestLength >= minMatch {
                    writer.writeLength(bestLength)
                    writer.writeDistance(bestDistance)
                    for p in position..<position + bestLength { insert(p) }
                    position += bestLength
                } else {
                    writer.writeLiteral(Int(data[position]))
                    insert(position)
                    position += 1
                }
            }
        }
        writer.writeLiteral(256)   // end of block
        writer.flush(into: &out)
    }
}

/// Writes bits least significant first (RFC 1951 §3.1.1) and Huffman codes most significant first.
struct BitWriter {
    var bytes: [UInt8] = []
    private var buffer: UInt64 = 0
    private var bitCount = 0

    /// Appends the low `count` bits of `value`, least significant first.
    mutating func write(_ value: Int, _ count: Int) {
        buffer |= UInt64(value) << UInt64(bitCount)
        bitCount += count
        while bitCount >= 8 {
            bytes.append(UInt8(truncatingIfNeeded: buffer))
            buffer >>= 8
            bitCount -= 8
        }
    }

    /// The fixed literal/length code of `symbol` (0...287), already bit-reversed for `write`.
    static let fixedCodes: [(code: Int, length: Int)] = (0..<288).map { symbol in
        let (first, firstSymbol, length) =
            symbol < 144 ? (0x30, 0, 8) : symbol < 256 ? (0x190, 144, 9) : symbol < 280 ? (0, 256, 7) : (0xC0, 280, 8)
        var code = first + symbol - firstSymbol, reversed = 0
        for _ in 0..<length { reversed = reversed << 1 | code & 1; code >>= 1 }
        return (reversed, length)
    }

    mutating func writeLiteral(_ symbol: Int) {
        let entry = BitWriter.fixedCodes[symbol]
        write(entry.code, entry.length)
    }

    /// Length code index (0...28) of each match length 0...258 (entries below 3 are unused).
    static let lengthCodeOf: [Int] = (0...258).map { length in
        length < 3 ? 0 : (Inflate.lengthBase.lastIndex { $0 <= length } ?? 0)
    }

    mutating func writeLength(_ length: Int) {
        let code = BitWriter.lengthCodeOf[length]
        writeLiteral(257 + code)
        write(length - Inflate.lengthBase[code], Inflate.lengthExtra[code])
    }

    /// A distance symbol as 5 bits (fixed code: symbol value, most significant bit first) + extra bits.
    mutating func writeDistance(_ distance: Int) {
        let code = Inflate.distanceBase.lastIndex { $0 <= distance } ?? 0
        var reversed = 0, symbol = code
        for _ in 0..<5 { reversed = reversed << 1 | symbol & 1; symbol >>= 1 }
        write(reversed, 5)
        write(distance - Inflate.distanceBase[code], Inflate.distanceExtra[code])
    }

    /// Appends the written bytes, the last one zero-padded.
    mutating func flush(into out: inout [UInt8]) {
        if bitCount > 0 { write(0, 8 - bitCount) }
        out += bytes
    }
}
