extension PNG {
    /// Encodes an 8-bit image as PNG: gray (colour type 0), RGB (2) or RGBA (6), not interlaced.
    ///
    /// With `.fixedHuffman` every scanline gets the filter whose output has the smallest sum of
    /// absolute values read as signed bytes (the heuristic the PNG spec §12.8 suggests), then the
    /// data is LZ77 + fixed-Huffman compressed. With `.stored` rows are left unfiltered and stored.
    /// It cannot fail: `Image` already guarantees a valid size and channel count.
    public static func encode(_ image: Image, compression: PNGCompression = .fixedHuffman) -> [UInt8] {
        let rowBytes = image.width * image.channels
        var filtered = [UInt8]()   // [H, 1 + W·C]: filter type, then filtered bytes
        filtered.reserveCapacity(image.height * (rowBytes + 1))
        var candidate = [UInt8](repeating: 0, count: rowBytes)
        var best = [UInt8](repeating: 0, count: rowBytes)
        image.pixels.withUnsafeBufferPointer { pixels in
            for y in 0..<image.height {
                let row = pixels.baseAddress! + y * rowBytes
                let above = y > 0 ? UnsafePointer(row - rowBytes) : nil
                if compression == .stored {
                    filtered.append(0)
                    filtered.append(contentsOf: UnsafeBufferPointer(start: row, count: rowBytes))
                    continue
                }
                var bestFilter: UInt8 = 0, bestCost = Int.max
                for filter: UInt8 in 0...4 {
                    let cost = applyFilter(filter, row: row, above: above, count: rowBytes, stride: image.channels, into: &candidate)
                    if cost < bestCost { bestCost = cost; bestFilter = filter; swap(&best, &candidate) }
                }
                filtered.append(bestFilter)
                filtered.append(contentsOf: best)
            }
        }
        var header = [UInt8]()
        for value in [UInt32(image.width), UInt32(image.height)] { appendUInt32(value, to: &header) }
        header += [8, image.channels == 1 ? 0 : (image.channels == 3 ? 2 : 6), 0, 0, 0]

        var out = signature
        appendChunk("IHDR", header, to: &out)
        let compressed = Deflate.compress(zlib: filtered, level: compression)
        let chunkSize = 1 << 20   // several IDATs keep each chunk's CRC run (and any reader's buffer) modest
        var start = 0
        repeat {
            let end = min(start + chunkSize, compressed.count)
            appendChunk("IDAT", compressed[start..<end], to: &out)
            start = end
        } while start < compressed.count
        appendChunk("IEND", [], to: &out)
        return out
    }

    /// Filters one scanline (PNG spec §9.2) into `out` and returns its cost: Σ |Int8(byte)|.
    static func applyFilter(_ filter: UInt8, row: UnsafePointer<UInt8>, above: UnsafePointer<UInt8>?, count: Int,
                            stride: Int, into out: inout [UInt8]) -> Int {
        var cost = 0
        out.withUnsafeMutableBufferPointer { out in
            // Above the first row every byte is 0: read a row of zeros instead of branching per byte.
            let zeros = [UInt8](repeating: 0, count: above == nil ? count : 0)
            zeros.withUnsafeBufferPointer { zeroRow in
                let b = above ?? zeroRow.baseAddress!
                for i in 0..<count {
                    let a = i >= stride ? Int(row[i - stride]) : 0, c = i >= stride ? Int(b[i - stride]) : 0
                    let prediction: Int
                    switch filter {
                    case 0: prediction = 0
                    case 1: prediction = a
                    case 2: prediction = Int(b[i])
                    case 3: prediction = (a + Int(b[i])) >> 1
                    default: prediction = paethPredictor(a, Int(b[i]), c)
                    }
                    let value = row[i] &- UInt8(truncatingIfNeeded: prediction)
                    out[i] = value
                    cost += abs(Int(Int8(bitPattern: value)))
                }
            }
        }
        return cost
    }

    static func appendUInt32(_ value: UInt32, to out: inout [UInt8]) {
        out += [UInt8(value >> 24), UInt8(truncatingIfNeeded: value >> 16), UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)]
    }

    /// Length, type, data, CRC-32 of type + data.
    static func appendChunk(_ type: String, _ data: some Collection<UInt8>, to out: inout [UInt8]) {
        appendUInt32(UInt32(data.count), to: &out)
        let typeBytes = Array(type.utf8)
        out += typeBytes
        out += data
        appendUInt32(Checksum.crc32Update(Checksum.crc32(typeBytes), data), to: &out)
    }
}
