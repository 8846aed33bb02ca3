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

/// The number of worker threads kernels split their work over (all cores).
public let workerCount: Int = max(1, activeProcessorCount())

/// Runs `body(chunk)` for chunks `0..<chunks` on all cores; serially when there is one chunk or
/// the work is too small to be worth a thread hand-off.
@inlinable
public func parallelFor(_ chunks: Int, _ body: (Int) -> Void) {
    if chunks <= 1 {
        if chunks == 1 { body(0) }
        return
    }
    DispatchQueue.concurrentPerform(iterations: chunks, execute: body)
}

#if canImport(Glibc)
import Glibc
func activeProcessorCount() -> Int { Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) }
#elseif canImport(Darwin)
import Darwin
func activeProcessorCount() -> Int { Int(sysconf(_SC_NPROCESSORS_ONLN)) }
#else
func activeProcessorCount() -> Int { 1 }
#endif
