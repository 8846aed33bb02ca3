// The core runs single-threaded by itself: it imports nothing, so it has no threads to start.
// A platform layer that has threads installs a `ParallelLoop` (LiftCAM does, with Dispatch); the
// kernels then split their work into chunks and hand them to it through `parallelFor`.

/// How the platform runs the chunks of a parallel loop.
public struct ParallelLoop {
    /// How many chunks run at once at most; kernels size their chunks from it.
    public var workers: Int
    /// Runs `body(chunk)` for every chunk in `0..<chunks`, in any order and on any threads, and
    /// returns when all have run. Each chunk writes memory no other chunk touches.
    public var run: (_ chunks: Int, _ body: (Int) -> Void) -> Void

    /// A loop running at most `workers` chunks at once (at least one) through `run`.
    public init(workers: Int, run: @escaping (_ chunks: Int, _ body: (Int) -> Void) -> Void) {
        self.workers = max(1, workers)
        self.run = run
    }

    /// One chunk after the other on the calling thread: the core's own loop.
    public static var serial: ParallelLoop {
        ParallelLoop(workers: 1) { chunks, body in
            for chunk in 0..<max(chunks, 0) { body(chunk) }
        }
    }

    /// The loop the kernels use. Set it between pieces of work, never while kernels run: that is
    /// what makes the unchecked access safe.
    nonisolated(unsafe) public static var current: ParallelLoop = .serial
}

/// A raw pointer marked as safe to send to another thread.
///
/// `parallelFor`'s body is not `@Sendable`, so most kernels capture their buffers' pointers as they
/// are. One kernel wraps them: `blockwiseLinear` (its output in this, its inputs in
/// `SendableConstPointer`), whose chunks each write their own rows of the result. That is what makes
/// the `@unchecked` promise true there, and what any other use must keep to: no two chunks write
/// the same element.
struct SendablePointer<T>: @unchecked Sendable {
    let base: UnsafeMutablePointer<T>
    init(_ base: UnsafeMutablePointer<T>) { self.base = base }
}

/// A read-only pointer that may cross into workers.
struct SendableConstPointer<T>: @unchecked Sendable {
    let base: UnsafePointer<T>
    init(_ base: UnsafePointer<T>) { self.base = base }
}

/// The number of chunks that run at once: the installed loop's workers (1 for the core alone).
@inlinable
public var workerCount: Int { ParallelLoop.current.workers }

/// Runs `body(chunk)` for chunks `0..<chunks` on the installed parallel loop; serially when there is
/// one chunk or one worker.
@inlinable
public func parallelFor(_ chunks: Int, _ body: (Int) -> Void) {
    let loop = ParallelLoop.current
    if chunks <= 1 || loop.workers == 1 {
        for chunk in 0..<max(chunks, 0) { body(chunk) }
        return
    }
    loop.run(chunks, body)
}
