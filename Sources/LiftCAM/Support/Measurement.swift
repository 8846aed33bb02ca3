// What the benchmarks and the fuzz harness measure of the process itself: wall time of repeated
// runs, their median, and peak resident memory; and the one allocator setting the executables use.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Wall times in seconds of `runs` calls of `body`, after one untimed warm-up call.
public func timedRuns(_ runs: Int, _ body: () throws -> Void) rethrows -> [Double] {
    usePlatformServices()
    try body()
    let clock = ContinuousClock()
    return try (0 ..< runs).map { _ in
        let start = clock.now
        try body()
        return seconds(clock.now - start)
    }
}

/// A duration in seconds.
public func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
}

/// The middle value (the mean of the two middle ones for an even count; 0 for none).
public func median(_ values: [Double]) -> Double {
    let sorted = values.sorted(), half = sorted.count / 2
    guard !sorted.isEmpty else { return 0 }
    return sorted.count % 2 == 1 ? sorted[half] : (sorted[half - 1] + sorted[half]) / 2
}

/// The process's peak resident set size so far, in KiB.
///
/// On Linux this is VmHWM from /proc/self/status, the peak of this program's own memory. getrusage's
/// ru_maxrss is the fallback; on Linux it can report more, since a process started by fork and exec
/// keeps the peak of the process it was forked from when that was higher (a benchmark started by a
/// Python script that has PyTorch loaded would report Python's memory).
public func peakResidentKiB() -> Int {
    #if canImport(Glibc)
    if let file = fopen("/proc/self/status", "r") {
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(cString: line)
            if text.hasPrefix("VmHWM:"), let kib = Int(text.dropFirst(6).filter(\.isNumber)) { return kib }
        }
    }
    #endif
    var usage = rusage()
    #if canImport(Glibc)
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Int(usage.ru_maxrss)
    #else
    getrusage(RUSAGE_SELF, &usage)
    return Int(usage.ru_maxrss) / 1024   // bytes on Darwin
    #endif
}

/// Asks the C allocator to serve large blocks from its heap and keep freed memory there, instead of
/// mapping each large block anew and unmapping it on free (glibc's default above 128 KiB–32 MiB).
///
/// Every layer returns a fresh tensor, so with the default each forward pass page-faults its
/// activations in again: a fifth of Score-CAM's time on VGG16, and of SHAP-CAM's batches, went to
/// the kernel. A process-wide setting, so the library never calls it itself: the `liftcam` and
/// `liftcam-bench` executables do, first thing, and a program embedding the library may. Linux
/// (glibc) only; elsewhere it does nothing.
public func keepFreedMemoryInHeap() {
    usePlatformServices()
    #if canImport(Glibc)
    // mallopt is not in Swift's Glibc module (malloc.h), so it is looked up by name; the option
    // numbers are malloc.h's M_MMAP_MAX (-4) and M_TRIM_THRESHOLD (-1).
    guard let symbol = dlsym(nil, "mallopt") else { return }
    let mallopt = unsafeBitCast(symbol, to: (@convention(c) (Int32, Int32) -> Int32).self)
    _ = mallopt(-4, 0)
    _ = mallopt(-1, Int32.max)
    #endif
}
