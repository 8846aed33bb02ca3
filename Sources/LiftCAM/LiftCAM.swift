// The platform layer: LiftCAMCore (the engine and the paper, which imports nothing) plus what an
// operating system gives, files, threads and a clock. `import LiftCAM` brings in both.
@_exported import LiftCAMCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch

/// Installs the platform's services in the core: its parallel loops on worker threads (all cores)
/// and its clock. Every entry point of this layer that a program starts with (opening weights,
/// reading a file, `limitWorkerThreads(to:)`) calls it, so a program rarely needs to; calling it
/// again does nothing.
public func usePlatformServices() {
    _ = platformServicesInstalled
}

/// Set up once (Swift runs a global's initializer exactly once, thread-safely).
private let platformServicesInstalled: Void = {
    ParallelLoop.current = .threads(processorCount)
    let clock = ContinuousClock()
    let origin = clock.now
    MonotonicClock.now = { seconds(clock.now - origin) }
    MutualExclusion.make = { PThreadMutex() }
}()

/// A pthread mutex, the lock the core's shared values take on this platform.
final class PThreadMutex: Lock {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

    init() { pthread_mutex_init(mutex, nil) }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }
}

extension ParallelLoop {
    /// Chunks on `threads` threads at once at most (the caller's and `threads − 1` workers): on Linux
    /// a `SpinningWorkerPool`, elsewhere Dispatch's worker threads.
    public static func threads(_ threads: Int) -> ParallelLoop {
        let threads = max(1, min(threads, processorCount))
        #if os(Linux)
        if threads == 1 { return .serial }
        let pool = workerPool(helpers: threads - 1)
        return ParallelLoop(workers: threads) { chunks, body in pool.run(chunks, body) }
        #else
        return ParallelLoop(workers: threads) { chunks, body in
            if threads >= processorCount {
                DispatchQueue.concurrentPerform(iterations: chunks, execute: body)
            } else {
                // Each thread takes every `threads`-th chunk, so no more than `threads` run at once.
                DispatchQueue.concurrentPerform(iterations: threads) { thread in
                    for chunk in stride(from: thread, to: chunks, by: threads) { body(chunk) }
                }
            }
        }
        #endif
    }
}

#if os(Linux)
/// One pool per number of helpers, made the first time it is asked for and kept: its threads sleep
/// when no loop comes, and `limitWorkerThreads(to:)` may switch back and forth.
private let workerPools = PThreadMutex()
nonisolated(unsafe) private var poolsByHelpers: [Int: SpinningWorkerPool] = [:]

private func workerPool(helpers: Int) -> SpinningWorkerPool {
    workerPools.lock()
    defer { workerPools.unlock() }
    if let pool = poolsByHelpers[helpers] { return pool }
    let pool = SpinningWorkerPool(helpers: helpers)
    poolsByHelpers[helpers] = pool
    return pool
}
#endif

/// Uses at most `threads` worker threads from now on (at least 1, at most the cores). Not while
/// kernels run on other threads: the loop is read without a lock.
public func limitWorkerThreads(to threads: Int) {
    usePlatformServices()
    ParallelLoop.current = .threads(threads)
}

/// The cores online, read once.
public let processorCount: Int = max(1, activeProcessorCount())

private func activeProcessorCount() -> Int {
    #if canImport(Glibc)
    return Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
    #elseif canImport(Darwin)
    return Int(sysconf(_SC_NPROCESSORS_ONLN))
    #else
    return 1
    #endif
}
