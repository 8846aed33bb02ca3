/// Netpbm gray and colour maps: PGM (P5 binary, P2 plain) and PPM (P6 binary, P3 plain).
///
/// Header fields are separated by whitespace and may be interleaved with '#' comments running to
/// the end of the line. Any maxval 1...65535 is accepted; samples are scaled to 8 bits as
/// round(v · 255 / maxval) (halves up), so maxval 255 is read unchanged and 16-bit files
/// (two bytes per sample, most significant first) lose only precision. Bytes after the raster are
/// ignored (a Netpbm stream may hold several images; the first is read).
public enum PNM {
    /// Decodes a P2, P3, P5 or P6 file held in memory: 1 channel for PGM, 3 for PPM.
    public static func decode(_ bytes: [UInt8]) throws -> Image {
        guard bytes.count >= 2, bytes[0] == UInt8(ascii: "P") else { throw ImageError("PNM: not a PGM/PPM file (bad magic number)") }
        let kind = bytes[1]
        let channels: Int, isPlain: Bool
        switch kind {
        case UInt8(ascii: "2"): (channels, isPlain) = (1, true)
        case UInt8(ascii: "3"): (channels, isPlain) = (3, true)
        case UInt8(ascii: "5"): (channels, isPlain) = (1, false)
        case UInt8(ascii: "6"): (channels, isPlain) = (3, false)
        default:
            // A damaged byte is shown as its number: a raw newline would split the message.
            let shown = (0x21...0x7E).contains(kind) ? "P\(Character(Unicode.Scalar(kind)))" : "P followed by byte \(kind)"
            throw ImageError("PNM: format \(shown) is not supported (expected P2, P3, P5 or P6)")
        }
        var scanner = Scanner(bytes: bytes, position: 2)
        let width = try scanner.number("width"), height = try scanner.number("height")
        let maxval = try scanner.number("maxval")
        guard (1...65535).contains(maxval) else { throw ImageError("PNM: maxval \(maxval) is outside 1...65535") }
        try Image.checkGeometry(width: width, height: height, channels: channels, context: "PNM")
        let count = width * height * channels
        // Check the file can hold the raster before allocating it (a plain sample takes at least
        // one byte), so a forged header in a tiny file cannot claim hundreds of megabytes.
        let bytesPerSample = isPlain ? 1 : (maxval > 255 ? 2 : 1)
        guard bytes.count - scanner.position >= count * bytesPerSample else {
            throw ImageError("PNM: raster is \(bytes.count - scanner.position) bytes, \(width)x\(height) needs \(count * bytesPerSample)")
        }
        var pixels = [UInt8](repeating: 0, count: count)   // [H, W, C]
        // Rounded scaling, as a table: at most 65536 entries, built once per file.
        let scale = (0...maxval).map { UInt8((($0 * 255) + maxval / 2) / maxval) }
        if isPlain {
            for i in 0..<count {
                let value = try scanner.number("sample \(i + 1) of \(count)")
                guard value <= maxval else { throw ImageError("PNM: sample \(value) exceeds maxval \(maxval)") }
                pixels[i] = scale[value]
            }
        } else {
            // Exactly one whitespace byte separates maxval from the raster.
            guard scanner.position < bytes.count, Scanner.isSpace(bytes[scanner.position]) else {
                throw ImageError("PNM: no whitespace between maxval and the raster")
            }
            let start = scanner.position + 1
            guard bytes.count - start >= count * bytesPerSample else {
                throw ImageError("PNM: raster is \(bytes.count - start) bytes, \(width)x\(height) needs \(count * bytesPerSample)")
            }
            for i in 0..<count {
                let value = bytesPerSample == 1
                    ? Int(bytes[start + i]) : Int(bytes[start + 2 * i]) << 8 | Int(bytes[start + 2 * i + 1])
                guard value <= maxval else { throw ImageError("PNM: sample \(value) exceeds maxval \(maxval)") }
                pixels[i] = scale[value]
            }
        }
        return Image(trusted: width, height, channels, pixels)
    }

    /// Binary PPM (P6, maxval 255) of `image.rgb()`: gray is replicated and alpha dropped.
    public static func encodePPM(_ image: Image) -> [UInt8] {
        let rgb = image.rgb()
        return Array("P6\n\(rgb.width) \(rgb.height)\n255\n".utf8) + rgb.pixels
    }

    /// Binary PGM (P5, maxval 255) of `image.gray()`: colour becomes ITU-R 601-2 luma.
    public static func encodePGM(_ image: Image) -> [UInt8] {
        let gray = image.gray()
        return Array("P5\n\(gray.width) \(gray.height)\n255\n".utf8) + gray.pixels
    }

    /// Reads the decimal numbers of a header (and of a plain raster), skipping whitespace and comments.
    struct Scanner {
        let bytes: [UInt8]
        var position: Int

        static func isSpace(_ byte: UInt8) -> Bool { byte == 32 || (9...13).contains(byte) }

        mutating func number(_ what: String) throws -> Int {
            while position < bytes.count {
                if Scanner.isSpace(bytes[position]) {
                    position += 1
                } else if bytes[position] == UInt8(ascii: "#") {
                    while position < bytes.count && bytes[position] != 10 && bytes[position] != 13 { position += 1 }
                } else {
                    break
                }
            }
            guard position < bytes.count else { throw ImageError("PNM: file ends before the \(what)") }
            var value = 0, digits = 0
            while position < bytes.count, (48...57).contains(bytes[position]) {
                value = value * 10 + Int(bytes[position] - 48)
                digits += 1
                position += 1
                // Ten digits already exceed every limit checked later; stop before Int could overflow.
                guard digits <= 10 else { throw ImageError("PNM: \(what) is too large") }
            }
            guard digits > 0 else {
                throw ImageError("PNM: expected a number for the \(what), found byte \(bytes[position])")
            }
            return value
        }
    }
}
