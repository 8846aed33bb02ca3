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

/// Words given on the command line: only rows whose kernel name contains one of them run.
let rowFilters = CommandLine.arguments.dropFirst().map { $0.lowercased() }.filter { !$0.hasPrefix("threads=") }

/// Whether the row of this kernel was asked for (all rows when no filter was given).
func isSelected(_ kernel: String) -> Bool {
    rowFilters.isEmpty || rowFilters.contains { kernel.lowercased().contains($0) }
}

/// What a kernel's speed is measured in: arithmetic (floating-point operations per call) or data
/// movement (bytes read and written per call).
enum Work {
    case flops(Double)
    case bytes(Double)

    /// The rate of `amount` of this work done in `seconds`, with its unit.
    func rate(scaledBy amount: Double, seconds: Double) -> String {
        switch self {
        case .flops(let count): return formatted(count * amount / seconds / 1e9, digits: 1) + " GFLOP/s"
        case .bytes(let count): return formatted(count * amount / seconds / 1e9, digits: 1) + " GB/s"
        }
    }
}

/// Times `fast` (best of `repetitions`, after a warm-up run) and `naive` (one run by default: it is
/// slow enough for the timer) and prints the row at once, so progress shows while the rest runs.
/// `naiveShare` is the naive call's work as a fraction of the fast call's when it is timed on a
/// smaller size (`naiveSize`); the speed-up compares the time per unit of work.
func measure(_ kernel: String, _ size: String, work: Work, repetitions: Int,
             naiveSize: String = "same", naiveShare: Double = 1, naiveRepetitions: Int = 1,
             fast: () -> Void, naive: () -> Void) {
    guard isSelected(kernel) else { return }
    let fastSeconds = fastestRun(repetitions: repetitions, fast)
    let naiveSeconds = fastestRun(repetitions: naiveRepetitions, warmUp: false, naive)
    let speedUp = naiveSeconds / naiveShare / fastSeconds
    print("| \(kernel) | \(size) | \(formatted(fastSeconds * 1e3, digits: 2)) | \(work.rate(scaledBy: 1, seconds: fastSeconds)) | "
        + "\(naiveSize) | \(formatted(naiveSeconds * 1e3, digits: 1)) | \(work.rate(scaledBy: naiveShare, seconds: naiveSeconds)) | "
        + "\(formatted(speedUp, digits: 1))× |")
}
