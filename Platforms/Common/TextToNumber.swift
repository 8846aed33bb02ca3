// Decimal text to Double and Float, which the standard library's `Double(String)` asks the C
// library for (`_swift_stdlib_strtod_clocale`); a bare target has none, so here it is in Swift.
//
// Up to 19 significant digits are kept exactly; a value whose digits fit in 2^53 and whose decimal
// exponent is at most 22 in size is then one exact product or quotient, so correctly rounded
// (Clinger's fast path): every number the tool reads in practice ("0.485", "224", "1e-5").
// Longer or more extreme values are scaled step by step and may be off by an ulp.

/// Parses a decimal number at `start` (optional sign, digits, point, exponent; "inf", "infinity"
/// and "nan" in any case); returns where the parse stopped (`start` when nothing was read).
func parseDecimal(_ start: UnsafePointer<UInt8>) -> (value: Double, end: UnsafePointer<UInt8>) {
    var p = start
    var negative = false
    if p.pointee == UInt8(ascii: "+") || p.pointee == UInt8(ascii: "-") {
        negative = p.pointee == UInt8(ascii: "-")
        p += 1
    }
    for (word, value) in [("infinity", Double.infinity), ("inf", Double.infinity), ("nan", Double.nan)] {
        let bytes = Array(word.utf8)
        var matched = true
        for (offset, byte) in bytes.enumerated() where p[offset] | 0x20 != byte {
            matched = false
            break
        }
        if matched { return (negative ? -value : value, p + bytes.count) }
    }
    var significand: UInt64 = 0, digits = 0, exponent = 0, sawDigit = false
    func isDigit(_ byte: UInt8) -> Bool { byte >= 48 && byte <= 57 }
    while isDigit(p.pointee) {
        sawDigit = true
        if digits < 19 { significand = significand * 10 + UInt64(p.pointee - 48); if significand > 0 { digits += 1 } } else { exponent += 1 }
        p += 1
    }
    if p.pointee == UInt8(ascii: ".") {
        p += 1
        while isDigit(p.pointee) {
            sawDigit = true
            if digits < 19 { significand = significand * 10 + UInt64(p.pointee - 48); exponent -= 1; if significand > 0 { digits += 1 } }
            p += 1
        }
    }
    guard sawDigit else { return (0, start) }
    if p.pointee | 0x20 == UInt8(ascii: "e") {
        var q = p + 1
        var exponentNegative = false
        if q.pointee == UInt8(ascii: "+") || q.pointee == UInt8(ascii: "-") {
            exponentNegative = q.pointee == UInt8(ascii: "-")
            q += 1
        }
        if isDigit(q.pointee) {
            var written = 0
            while isDigit(q.pointee) {
                written = min(written * 10 + Int(q.pointee - 48), 100_000)
                q += 1
            }
            exponent += exponentNegative ? -written : written
            p = q
        }
    }
    var value = Double(significand)
    if significand < (1 << 53) && exponent.magnitude <= 22 {
        value = exponent >= 0 ? value * exactPowerOfTen(exponent) : value / exactPowerOfTen(-exponent)
    } else if significand != 0 {
        var remaining = exponent
        while remaining > 0 { let step = min(remaining, 22); value *= exactPowerOfTen(step); remaining -= step }
        while remaining < 0 { let step = min(-remaining, 22); value /= exactPowerOfTen(step); remaining += step }
    }
    return (negative ? -value : value, p)
}

/// 10ⁿ for 0 ≤ n ≤ 22, all exact in Double.
private func exactPowerOfTen(_ n: Int) -> Double {
    var result = 1.0
    for _ in 0..<n { result *= 10 }
    return result
}

@_cdecl("_swift_stdlib_strtod_clocale")
func stringToDouble(_ text: UnsafePointer<UInt8>, _ result: UnsafeMutablePointer<Double>) -> UnsafePointer<UInt8> {
    let (value, end) = parseDecimal(text)
    result.pointee = value
    return end
}

@_cdecl("_swift_stdlib_strtof_clocale")
func stringToFloat(_ text: UnsafePointer<UInt8>, _ result: UnsafeMutablePointer<Float>) -> UnsafePointer<UInt8> {
    let (value, end) = parseDecimal(text)
    result.pointee = Float(value)
    return end
}
