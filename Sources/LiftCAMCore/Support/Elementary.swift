// exp, log and cos in Swift, so that the core needs no C maths library (Embedded Swift and bare
// targets have none). They are computed in Double by range reduction and a series long enough that
// the truncation error is below Double's rounding; results agree with the C library's to about one
// unit in the last place of a Double, so to the last bit of a Float almost always.

/// The elementary functions the methods need: softmax (exp), LIME's kernel (exp), Box–Muller
/// normal samples for random weights (log, cos).
public enum Elementary {
    private static let ln2High = 6.93147180369123816490e-01   // ln 2 to 32 bits: k·ln2High is exact
    private static let ln2Low = 1.90821492927058770002e-10    // ln 2 − ln2High

    /// eˣ. Overflows to +∞ past 709.78 and underflows to 0 below −745.13, as the C library does.
    public static func exp(_ x: Double) -> Double {
        if x.isNaN { return x }
        if x > 709.782712893384 { return .infinity }
        if x < -745.1332191019412 { return 0 }
        // x = k·ln 2 + r with |r| ≤ ½ ln 2, so eˣ = 2ᵏ·eʳ.
        let k = (x / (ln2High + ln2Low)).rounded()
        let r = (x - k * ln2High) - k * ln2Low
        // Taylor series of eʳ to r¹⁴/14!: the next term is below 4e-18 for |r| ≤ 0.347.
        var term = 1.0, sum = 1.0
        for n in 1...14 {
            term *= r / Double(n)
            sum += term
        }
        return scaled(sum, byPowerOfTwo: Int(k))
    }

    /// ln x: −∞ at 0, NaN below 0.
    public static func log(_ x: Double) -> Double {
        if x.isNaN || x < 0 { return .nan }
        if x == 0 { return -.infinity }
        if x == .infinity { return x }
        // x = m·2ᵉ with m in [√½, √2); ln m = 2·atanh(f), f = (m − 1)/(m + 1), |f| ≤ 0.1716.
        var e = Int(x.exponent)
        var m = x.significand
        if m > 1.4142135623730951 {
            m /= 2
            e += 1
        }
        let f = (m - 1) / (m + 1), f2 = f * f
        // atanh f = f + f³/3 + f⁵/5 + …: the terms past f²³/23 are below 1e-19.
        var power = f, series = 0.0
        for n in stride(from: 1, through: 23, by: 2) {
            series += power / Double(n)
            power *= f2
        }
        return Double(e) * ln2High + (Double(e) * ln2Low + 2 * series)
    }

    /// cos x, for |x| up to about 10⁶ (the methods call it on [0, 2π)).
    public static func cos(_ x: Double) -> Double {
        if !x.isFinite { return .nan }
        // x = q·π/2 + r with |r| ≤ π/4, by Cody and Waite's split of π/2 into two parts.
        let halfPiHigh = 1.57079632673412561417e+00, halfPiLow = 6.07710050650619224932e-11
        let q = (x / (halfPiHigh + halfPiLow)).rounded()
        let r = (x - q * halfPiHigh) - q * halfPiLow
        let quadrant = Int(q.truncatingRemainder(dividingBy: 4)) & 3
        switch quadrant {
        case 0: return cosineSeries(r)
        case 1: return -sineSeries(r)
        case 2: return -cosineSeries(r)
        default: return sineSeries(r)
        }
    }

    /// Float versions, rounded from the Double results.
    public static func exp(_ x: Float) -> Float { Float(exp(Double(x))) }
    /// ln x in Float, rounded from the Double result.
    public static func log(_ x: Float) -> Float { Float(log(Double(x))) }
    /// cos x in Float, rounded from the Double result.
    public static func cos(_ x: Float) -> Float { Float(cos(Double(x))) }

    /// 2ᵏ·v, in two steps so that neither factor overflows or underflows on its own.
    private static func scaled(_ v: Double, byPowerOfTwo k: Int) -> Double {
        let half = k / 2
        return v * Double(sign: .plus, exponent: half, significand: 1)
                 * Double(sign: .plus, exponent: k - half, significand: 1)
    }

    /// Taylor series of cos r to r²⁰/20! (below 1e-20 for |r| ≤ π/4).
    private static func cosineSeries(_ r: Double) -> Double {
        let r2 = r * r
        var term = 1.0, sum = 1.0
        for n in stride(from: 2, through: 20, by: 2) {
            term *= -r2 / Double((n - 1) * n)
            sum += term
        }
        return sum
    }

    /// Taylor series of sin r to r²¹/21!.
    private static func sineSeries(_ r: Double) -> Double {
        let r2 = r * r
        var term = r, sum = r
        for n in stride(from: 3, through: 21, by: 2) {
            term *= -r2 / Double((n - 1) * n)
            sum += term
        }
        return sum
    }
}
