import LiftCAMCore

// Numbers as text for tables, without the C library's printf (the core and this module import
// nothing, so the WebAssembly build prints the same tables as the native tool).

/// Four significant digits: fixed notation from 0.001 to 99999 ("0.1235", "12.35", "1235"),
/// scientific outside it ("1.235e-05", "1.235e+07"), as printf's "%.Nf" and "%.3e" would print.
public func formatNumber(_ value: Double) -> String {
    if value == 0 || !value.isFinite { return "\(value)" }
    let magnitude = value.magnitude
    if magnitude >= 1e5 || magnitude < 1e-3 {
        return scientificText(value, decimals: 3)
    }
    return fixedText(value, decimals: max(0, 3 - decimalExponent(of: magnitude)))
}

/// `value` with `decimals` digits after the point, rounded to nearest (ties to even), like "%.Nf"
/// for values whose scaled magnitude fits in 2^53.
public func fixedText(_ value: Double, decimals: Int) -> String {
    guard value.isFinite else { return "\(value)" }
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let scaled = (value.magnitude * scale).rounded(.toNearestOrEven)
    guard scaled < 9.007_199_254_740_992e15 else { return "\(value)" }
    let digits = UInt64(scaled)
    let unit = UInt64(scale)
    var text = value < 0 && digits > 0 ? "-" : ""
    text += String(digits / unit)
    if decimals > 0 {
        let fraction = String(digits % unit)
        text += "." + String(repeating: "0", count: decimals - fraction.count) + fraction
    }
    return text
}

/// d.ddd…e±XX with `decimals` digits after the point, like "%.3e".
public func scientificText(_ value: Double, decimals: Int) -> String {
    guard value.isFinite, value != 0 else { return "\(value)" }
    var exponent = decimalExponent(of: value.magnitude)
    var mantissa = value.magnitude / powerOfTen(exponent)
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    if (mantissa * scale).rounded(.toNearestOrEven) >= 10 * scale {   // 9.9996 → 1.000e+1
        exponent += 1
        mantissa = value.magnitude / powerOfTen(exponent)
    }
    let sign = value < 0 ? "-" : ""
    let exponentDigits = String(exponent.magnitude)
    return sign + fixedText(mantissa, decimals: decimals) + "e" + (exponent < 0 ? "-" : "+")
        + (exponentDigits.count < 2 ? "0" : "") + exponentDigits
}

/// ⌊log₁₀ x⌋ for finite x > 0, by comparing with powers of ten (no log10 in the core).
func decimalExponent(of x: Double) -> Int {
    var exponent = 0
    while x >= powerOfTen(exponent + 1) { exponent += 1 }
    while x < powerOfTen(exponent) { exponent -= 1 }
    return exponent
}

/// 10ⁿ, exact up to 10²².
func powerOfTen(_ n: Int) -> Double {
    var result = 1.0
    if n >= 0 {
        for _ in 0..<n { result *= 10 }
    } else {
        for _ in 0..<(-n) { result /= 10 }
    }
    return result
}

/// The table `liftcam explain` prints when its JSON does not go to standard output.
public func explanationSummary(explainer: Explainer, target: Int, explanations: [Explanation], classNames: [String]?) -> String {
    func name(_ c: Int) -> String { classNames.map { " (\($0[c]))" } ?? "" }
    var lines = ["layer \(explainer.network.layer), maps \(explainer.activations.shape), predicted \(explainer.predictedClass)\(name(explainer.predictedClass)), explaining \(target)\(name(target))",
                 "", "| method | seconds | Σα | top maps (α) |", "|---|---:|---:|---|"]
    for e in explanations {
        let top = e.coefficients.indices.sorted { e.coefficients[$0] > e.coefficients[$1] }.prefix(3)
            .map { "\($0) (\(formatNumber(Double(e.coefficients[$0]))))" }.joined(separator: ", ")
        lines.append("| \(e.method.rawValue) | \(formatNumber(e.seconds)) | \(formatNumber(Double(e.coefficients.reduce(0, +)))) | \(top) |")
    }
    return lines.joined(separator: "\n")
}
