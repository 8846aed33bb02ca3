/// PNG (ISO/IEC 15948, W3C PNG 2nd edition) decoding and encoding, written on our own inflate.
///
/// Decoding accepts every standard colour type and bit depth, all five filters, Adam7 interlacing
/// and IDAT data split over many chunks. What comes out (`Image` has 1, 3 or 4 channels):
/// - gray (1/2/4/8/16 bit) → 1 channel; depths below 8 are scaled exactly (v · 255 / (2^d − 1));
/// - gray + alpha → 4 channels, RGBA with the gray replicated (alpha is kept, never composited);
/// - RGB → 3, RGBA → 4 channels;
/// - palette → RGB, or RGBA when a tRNS chunk gives alphas (entries past its end are opaque);
///   tRNS colour keys of gray and RGB images are ignored;
/// - 16-bit samples keep their high byte (as libpng's `png_set_strip_16` and Pillow's RGB reader).
/// Every chunk's CRC-32 and the zlib Adler-32 are verified; a damaged file throws `ImageError`.
public enum PNG {
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    /// The IHDR fields this decoder needs.
    struct Header {
        let width: Int, height: Int, bitDepth: Int, colorType: Int, interlaced: Bool

        /// Samples per pixel in the file: gray 1, RGB 3, palette 1, gray+alpha 2, RGBA 4.
        var samplesPerPixel: Int { [0: 1, 2: 3, 3: 1, 4: 2, 6: 4][colorType] ?? 1 }
        /// Bytes per complete pixel, at least 1: the distance the Sub/Average/Paeth filters look back.
        var filterStride: Int { max(1, samplesPerPixel * bitDepth / 8) }
        func rowBytes(_ pixels: Int) -> Int { (pixels * samplesPerPixel * bitDepth + 7) / 8 }
    }

    /// The Adam7 passes as (x0, y0, dx, dy); a non-interlaced image is one pass (0, 0, 1, 1).
    static let adam7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]

    static func passes(_ header: Header) -> [(x0: Int, y0: Int, dx: Int, dy: Int, width: Int, height: Int)] {
        let steps = header.interlaced ? adam7 : [(0, 0, 1, 1)]
        return steps.map { x0, y0, dx, dy in
            (x0, y0, dx, dy, (header.width - x0 + dx - 1) / dx, (header.height - y0 + dy - 1) / dy)
        }
    }

    /// Decodes a whole PNG file held in memory.
    public static func decode(_ bytes: [UInt8]) throws -> Image {
        guard bytes.count >= 8, Array(bytes[0..<8]) == signature else {
            throw ImageError("PNG: not a PNG file (bad signature)")
        }
        var header: Header?
        var palette: [UInt8] = []        // [entries, 3]
        var alphas: [UInt8]?             // tRNS of a palette image, one alpha per entry
        var compressed: [UInt8] = []     // all IDAT data, in order
        var idatState = 0                // 0: none seen, 1: inside the IDAT run, 2: run ended
        var offset = 8
        var sawEnd = false
        while !sawEnd {
            guard offset + 8 <= bytes.count else {
                throw ImageError(header == nil ? "PNG: missing IHDR chunk" : "PNG: missing IEND chunk (file truncated)")
            }
            let length = Int(readUInt32(bytes, offset))
            let type = String(decoding: bytes[offset + 4..<offset + 8], as: UTF8.self)
            guard bytes[offset + 4..<offset + 8].allSatisfy({ (65...90).contains($0) || (97...122).contains($0) }) else {
                throw ImageError("PNG: chunk type at byte \(offset + 4) is not four letters (file corrupted)")
            }
            guard length <= 0x7FFF_FFFF else { throw ImageError("PNG: chunk \(type) declares an invalid length \(length)") }
            guard offset + 12 + length <= bytes.count else {
                throw ImageError("PNG: file is truncated inside chunk \(type)")
            }
            let data = bytes[offset + 8..<offset + 8 + length]
            let storedCRC = readUInt32(bytes, offset + 8 + length)
            guard Checksum.crc32(bytes[offset + 4..<offset + 8 + length]) == storedCRC else {
                throw ImageError("PNG: CRC mismatch in chunk \(type)")
            }
            let isAncillary = bytes[offset + 4] & 0x20 != 0   // bit 5 of the first letter: lower case
            offset += 12 + length
            if header == nil && type != "IHDR" { throw ImageError("PNG: first chunk is \(type), not IHDR") }
            if idatState == 1 && type != "IDAT" { idatState = 2 }
            switch type {
            case "IHDR":
                guard header == nil else { throw ImageError("PNG: second IHDR chunk") }
                header = try parseHeader(data)
            case "PLTE":
                guard length % 3 == 0, (3...768).contains(length) else {
                    throw ImageError("PNG: PLTE chunk of \(length) bytes (must hold 1 to 256 RGB entries)")
                }
                guard idatState == 0 else { throw ImageError("PNG: PLTE chunk after image data") }
                palette = Array(data)
            case "tRNS":
                if header?.colorType == 3 { alphas = Array(data) }   // colour keys of other types are ignored
            case "IDAT":
                guard idatState != 2 else { throw ImageError("PNG: IDAT chunks are not consecutive") }
                idatState = 1
                compressed += data
            case "IEND":
                sawEnd = true
            default:
                guard isAncillary else {
                    throw ImageError("PNG: unknown critical chunk \(type)")
                }
            }
        }
        guard let header else { throw ImageError("PNG: missing IHDR chunk") }
        guard !compressed.isEmpty else { throw ImageError("PNG: no IDAT chunk (no image data)") }
        if header.colorType == 3 {
            guard !palette.isEmpty else { throw ImageError("PNG: palette image without a PLTE chunk") }
            if let count = alphas?.count, count > palette.count / 3 {
                throw ImageError("PNG: tRNS has \(count) alphas for a palette of \(palette.count / 3)")
            }
        }

        let layout = passes(header)
        let expected = layout.reduce(0) { total, pass in
            pass.width == 0 || pass.height == 0 ? total : total + pass.height * (1 + header.rowBytes(pass.width))
        }
        var raw: [UInt8]
        do {
            raw = try Inflate.decompress(zlib: compressed, maxOutputCount: expected)
        } catch let error as ImageError {
            throw ImageError("PNG: image data: \(error.description)")
        }
        guard raw.count == expected else {
            throw ImageError("PNG: image data is \(raw.count) bytes, shorter than the \(expected) the header implies")
        }
        return try assemble(header, layout, &raw, palette: palette, alphas: alphas)
    }

    static func readUInt32(_ bytes: [UInt8], _ at: Int) -> UInt32 {
        UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3])
    }

    /// IHDR: width, height (4 bytes each), bit depth, colour type, compression, filter, interlace.
    static func parseHeader(_ data: ArraySlice<UInt8>) throws -> Header {
        guard data.count == 13 else { throw ImageError("PNG: IHDR chunk is \(data.count) bytes, not 13") }
        let d = Array(data)
        let width = Int(readUInt32(d, 0)), height = Int(readUInt32(d, 4))
        let bitDepth = Int(d[8]), colorType = Int(d[9])
        guard width >= 1, height >= 1, width <= 0x7FFF_FFFF, height <= 0x7FFF_FFFF else {
            throw ImageError("PNG: invalid size \(width)x\(height) in IHDR")
        }
        guard width <= Image.maxPixelCount, height <= Image.maxPixelCount, width * height <= Image.maxPixelCount else {
            throw ImageError("PNG: size \(width)x\(height) exceeds the limit of \(Image.maxPixelCount) pixels")
        }
        let allowedDepths: [Int: [Int]] = [0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16]]
        guard let depths = allowedDepths[colorType] else { throw ImageError("PNG: invalid colour type \(colorType)") }
        guard depths.contains(bitDepth) else {
            throw ImageError("PNG: bit depth \(bitDepth) is not allowed for colour type \(colorType)")
        }
        guard d[10] == 0 else { throw ImageError("PNG: unknown compression method \(d[10])") }
        guard d[11] == 0 else { throw ImageError("PNG: unknown filter method \(d[11])") }
        guard d[12] <= 1 else { throw ImageError("PNG: unknown interlace method \(d[12])") }
        return Header(width: width, height: height, bitDepth: bitDepth, colorType: colorType, interlaced: d[12] == 1)
    }

    /// Undoes the filters in place (PNG spec §9), then converts each pass's samples to 8-bit
    /// output pixels and places them on the image grid.
    static func assemble(_ header: Header, _ layout: [(x0: Int, y0: Int, dx: Int, dy: Int, width: Int, height: Int)],
                         _ raw: inout [UInt8], palette: [UInt8], alphas: [UInt8]?) throws -> Image {
        let outChannels: Int
        switch header.colorType {
        case 0: outChannels = 1
        case 2: outChannels = 3
        case 3: outChannels = alphas == nil ? 3 : 4
        default: outChannels = 4
        }
        var pixels = [UInt8](repeating: 0, count: header.width * header.height * outChannels)   // [H, W, C]
        // Palette as RGBA (alpha 255 past the end of tRNS), so a lookup is one fixed-size copy.
        var rgbaPalette = [UInt8](repeating: 255, count: 256 * 4)
        for entry in 0..<palette.count / 3 {
            for c in 0..<3 { rgbaPalette[4 * entry + c] = palette[3 * entry + c] }
            if let alphas, entry < alphas.count { rgbaPalette[4 * entry + 3] = alphas[entry] }
        }
        let paletteCount = palette.count / 3
        var start = 0
        var rowPixels = [UInt8]()
        for pass in layout where pass.width > 0 && pass.height > 0 {
            let rowBytes = header.rowBytes(pass.width)
            for y in 0..<pass.height {
                let row = start + y * (rowBytes + 1)
                try unfilter(&raw, row: row + 1, previous: y == 0 ? nil : row + 1 - (rowBytes + 1),
                             count: rowBytes, stride: header.filterStride, filter: raw[row], line: y)
                try convertRow(raw, from: row + 1, width: pass.width, header: header, palette: rgbaPalette,
                               paletteCount: paletteCount, outChannels: outChannels, into: &rowPixels)
                let outY = pass.y0 + y * pass.dy
                for x in 0..<pass.width {
                    let target = (outY * header.width + pass.x0 + x * pass.dx) * outChannels
                    for c in 0..<outChannels { pixels[target + c] = rowPixels[x * outChannels + c] }
                }
            }
            start += pass.height * (rowBytes + 1)
        }
        return Image(trusted: header.width, header.height, outChannels, pixels)
    }

    /// Reverses one scanline's filter: x − prediction, where the prediction comes from the byte
    /// `stride` to the left (a), above (b) and above-left (c), taken as 0 outside the image.
    static func unfilter(_ raw: inout [UInt8], row: Int, previous: Int?, count: Int, stride: Int,
                         filter: UInt8, line: Int) throws {
        guard filter <= 4 else { throw ImageError("PNG: invalid filter type \(filter) on scanline \(line)") }
        raw.withUnsafeMutableBufferPointer { buffer in
            let x = buffer.baseAddress! + row
            guard let previous else {
                // First scanline of a pass: b = c = 0, so Up adds nothing, Average adds a / 2 and
                // Paeth always predicts a (the same as Sub).
                var i = stride
                while i < count {
                    x[i] &+= filter == 3 ? x[i - stride] >> 1 : (filter == 1 || filter == 4 ? x[i - stride] : 0)
                    i += 1
                }
                return
            }
            let above = UnsafePointer(buffer.baseAddress! + previous)
            switch filter {
            case 1:
                var i = stride
                while i < count { x[i] &+= x[i - stride]; i += 1 }
            case 2:
                for i in 0..<count { x[i] &+= above[i] }
            case 3:
                for i in 0..<count {
                    let a = i >= stride ? Int(x[i - stride]) : 0
                    x[i] &+= UInt8((a + Int(above[i])) >> 1)
                }
            case 4:
                for i in 0..<count {
                    let a = i >= stride ? Int(x[i - stride]) : 0, c = i >= stride ? Int(above[i - stride]) : 0
                    x[i] &+= UInt8(paethPredictor(a, Int(above[i]), c))
                }
            default: break
            }
        }
    }

    /// Paeth's predictor: of a, b, c the one closest to a + b − c, ties going to a, then b.
    @inline(__always) static func paethPredictor(_ a: Int, _ b: Int, _ c: Int) -> Int {
        let pa = abs(b - c), pb = abs(a - c), pc = abs(a + b - 2 * c)
        return pa <= pb && pa <= pc ? a : (pb <= pc ? b : c)
    }

    /// One unfiltered scanline (`width` pixels starting at raw[from]) as 8-bit output pixels.
    static func convertRow(_ raw: [UInt8], from: Int, width: Int, header: Header, palette: [UInt8],
                           paletteCount: Int, outChannels: Int, into out: inout [UInt8]) throws {
        out.removeAll(keepingCapacity: true)
        let depth = header.bitDepth
        // Sample i of the row, reduced to 8 bits (palette indices are returned unscaled).
        func sample(_ i: Int) -> Int {
            switch depth {
            case 8: return Int(raw[from + i])
            case 16: return Int(raw[from + 2 * i])   // high byte
            default:
                let bit = i * depth
                let value = Int(raw[from + bit / 8] >> UInt8(8 - depth - bit % 8)) & (1 << depth - 1)
                return header.colorType == 3 ? value : value * 255 / (1 << depth - 1)
            }
        }
        switch header.colorType {
        case 3:
            for x in 0..<width {
                let index = sample(x)
                guard index < paletteCount else {
                    throw ImageError("PNG: palette index \(index) out of range (\(paletteCount) entries)")
                }
                out.append(contentsOf: palette[4 * index..<4 * index + outChannels])
            }
        case 4:
            for x in 0..<width {
                let g = UInt8(sample(2 * x))
                out += [g, g, g, UInt8(sample(2 * x + 1))]
            }
        default:
            for i in 0..<width * header.samplesPerPixel { out.append(UInt8(sample(i))) }
        }
    }
}
