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

/// Changed only between pieces of work, never while kernels run (the benchmark's `--threads` sets
/// it before timing and restores it after): that is what makes the unchecked access safe. A program
/// that runs kernels from several threads at once must not change it meanwhile.
nonisolated(unsafe) private var workerThreadLimit: Int = processorCount

/// Uses at most `threads` worker threads from now on (at least 1, at most the cores). Not while
/// kernels run on other threads (see `workerThreadLimit`).
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
