import Dispatch

/// A raw pointer that may cross into `DispatchQueue.concurrentPerform` workers.
///
/// Swift 6 checking refuses to send `UnsafeMutablePointer` to another thread. Every use below writes
/// disjoint ranges from different workers, which is what makes the `@unchecked` promise true.
public struct SendablePointer<T>: @unchecked Sendable {
    public let base: UnsafeMutablePointer<T>
    public init(_ base: UnsafeMutablePointer<T>) { self.base = base }
}

/// A read-only pointer that may cross into workers.
public struct SendableConstPointer<T>: @unchecked Sendable {
    public let base: UnsafePointer<T>
    public init(_ base: UnsafePointer<T>) { self.base = base }
}

/// The number of worker threads kernels split their work over: all cores unless
/// `limitWorkerThreads(to:)` asked for fewer.
public var workerCount: Int { workerThreadLimit }

/// Set once, before any parallel work, by a program that wants fewer threads than cores (the
/// benchmark's `--threads`); read-only afterwards, which is what makes the unchecked access safe.
nonisolated(unsafe) private var workerThreadLimit: Int = processorCount

/// Uses at most `threads` worker threads from now on (at least 1, at most the cores). Call it before
/// any kernel runs; it is not meant to change while work is in flight.
public func limitWorkerThreads(to threads: Int) {
    workerThreadLimit = max(1, min(threads, processorCount))
}

/// Runs `body(chunk)` for chunks `0..<chunks` on `workerCount` threads; serially when there is one
/// chunk or one thread. Below the core count, each thread takes every `workerCount`-th chunk, so no
/// more than `workerCount` run at once.
@inlinable
public func parallelFor(_ chunks: Int, _ body: (Int) -> Void) {
    let threads = workerCount
    if chunks <= 1 || threads == 1 {
        for chunk in 0..<max(chunks, 0) { body(chunk) }
        return
    }
    if threads >= processorCount {
        DispatchQueue.concurrentPerform(iterations: chunks, execute: body)
    } else {
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            for chunk in stride(from: thread, to: chunks, by: threads) { body(chunk) }
        }
    }
}

/// The cores online, read once.
public let processorCount: Int = max(1, activeProcessorCount())

#if canImport(Glibc)
import Glibc
func activeProcessorCount() -> Int { Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) }
#elseif canImport(Darwin)
import Darwin
func activeProcessorCount() -> Int { Int(sysconf(_SC_NPROCESSORS_ONLN)) }
#else
func activeProcessorCount() -> Int { 1 }
#endif

/// Asks the C allocator to serve large blocks from its heap and keep freed memory there, instead of
/// mapping each large block anew and unmapping it on free (glibc's default above 128 KiB–32 MiB).
///
/// Every layer returns a fresh tensor, so with the default each forward pass page-faults its
/// activations in again: a fifth of Score-CAM's time on VGG16, and of SHAP-CAM's batches, went to
/// the kernel. A process-wide setting, so the library never calls it itself: the `liftcam` and
/// `liftcam-bench` executables do, first thing, and a program embedding the library may. Linux
/// (glibc) only; elsewhere it does nothing.
public func keepFreedMemoryInHeap() {
    #if canImport(Glibc)
    // mallopt is not in Swift's Glibc module (malloc.h), so it is looked up by name; the option
    // numbers are malloc.h's M_MMAP_MAX (-4) and M_TRIM_THRESHOLD (-1).
    guard let symbol = dlsym(nil, "mallopt") else { return }
    let mallopt = unsafeBitCast(symbol, to: (@convention(c) (Int32, Int32) -> Int32).self)
    _ = mallopt(-4, 0)
    _ = mallopt(-1, Int32.max)
    #endif
}
