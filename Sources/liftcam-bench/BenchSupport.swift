// Timing, formatting and input data for the benchmark table (standard library and Glibc only).
import LiftCAM
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Seconds on the monotonic clock.
func monotonicSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
}

/// The fastest of `repetitions` runs, in seconds, after one untimed warm-up run when asked. The
/// minimum, not the mean: the machine is shared, and other processes only ever add time.
func fastestRun(repetitions: Int, warmUp: Bool = true, _ body: () -> Void) -> Double {
    if warmUp { body() }
    var best = Double.infinity
    for _ in 0 ..< repetitions {
        let start = monotonicSeconds()
        body()
        best = min(best, monotonicSeconds() - start)
    }
    return best
}

/// `value` with `digits` decimals (no Foundation formatting in this target).
func formatted(_ value: Double, digits: Int) -> String {
    guard value.isFinite else { return "—" }
    var scale = 1.0
    for _ in 0 ..< digits { scale *= 10 }
    let rounded = (abs(value) * scale).rounded()
    let whole = Int(rounded / scale), fraction = Int(rounded) - whole * Int(scale)
    var text = (value < 0 ? "-" : "") + String(whole)
    if digits > 0 {
        let fractionText = String(fraction)
        text += "." + String(repeating: "0", count: digits - fractionText.count) + fractionText
    }
    return text
}

/// Reproducible input values in [-1, 1) (a 64-bit LCG; quality does not matter here).
func benchTensor(_ shape: [Int], seed: UInt64 = 1) -> Tensor {
    var state = seed &* 0x9E37_79B9_7F4A_7C15
    let values = (0 ..< shape.product).map { _ -> Float in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Float(state >> 40) / Float(1 << 23) - 1
    }
    return Tensor(shape: shape, storage: values)
}

/// One row of the table: a kernel timed fast and naive in the same run.
struct BenchmarkRow {
    var kernel: String
    var size: String
    /// Floating-point operations of one fast call (nil for kernels that move data, not arithmetic).
    var flops: Double?
    var fastSeconds: Double
    /// What the naive twin was timed on when not the same size, e.g. "N = 4".
    var naiveSize: String
    var naiveFlops: Double?
    var naiveSeconds: Double
    /// How many times more work the fast call does than the naive call (1 when the sizes match).
    var workRatio: Double

    var markdown: String {
        let fastRate = flops.map { formatted($0 / fastSeconds / 1e9, digits: 1) } ?? "—"
        let naiveRate = naiveFlops.map { formatted($0 / naiveSeconds / 1e9, digits: 2) } ?? "—"
        let speedUp = naiveSeconds * workRatio / fastSeconds
        return "| \(kernel) | \(size) | \(formatted(fastSeconds * 1e3, digits: 2)) | \(fastRate) | "
            + "\(naiveSize) | \(formatted(naiveSeconds * 1e3, digits: 1)) | \(naiveRate) | \(formatted(speedUp, digits: 1))× |"
    }
}

/// Words given on the command line: only rows whose kernel name contains one of them run.
let rowFilters = CommandLine.arguments.dropFirst().map { $0.lowercased() }

/// Whether the row of this kernel was asked for (all rows when no filter was given).
func isSelected(_ kernel: String) -> Bool {
    rowFilters.isEmpty || rowFilters.contains { kernel.lowercased().contains($0) }
}

/// Times `fast` (best of `repetitions`, after a warm-up run) and `naive` (one run by default: it is
/// slow enough for the timer) and prints the row at once, so progress shows while the rest runs.
func measure(_ kernel: String, _ size: String, flops: Double?, repetitions: Int,
             naiveSize: String = "same", naiveFlops: Double? = nil, naiveRepetitions: Int = 1,
             fast: () -> Void, naive: () -> Void) {
    guard isSelected(kernel) else { return }
    let fastSeconds = fastestRun(repetitions: repetitions, fast)
    let naiveSeconds = fastestRun(repetitions: naiveRepetitions, warmUp: false, naive)
    let sameSize = naiveSize == "same"
    let naiveWork = sameSize ? flops : naiveFlops
    let ratio = sameSize ? 1 : (flops ?? 1) / (naiveFlops ?? 1)
    let row = BenchmarkRow(kernel: kernel, size: size, flops: flops, fastSeconds: fastSeconds,
                           naiveSize: naiveSize, naiveFlops: naiveWork, naiveSeconds: naiveSeconds, workRatio: ratio)
    print(row.markdown)
}
