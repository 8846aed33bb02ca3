// Worker threads that wait for the next parallel loop by spinning a short while before they sleep.
//
// A forward pass hands work to the workers about a hundred times (ResNet50: 107, `liftcam-bench
// handoff`), usually after a few microseconds of work on the calling thread alone. Dispatch's
// concurrentPerform puts its idle workers to sleep at once, and waking one after 20 µs of serial work
// cost 5–23 µs here, a few percent of a 60 ms forward pass. These workers keep looking for work for
// about `spinsBeforeSleep` loads (some tens of microseconds) and only then sleep on a condition
// variable, so a loop that follows another soon starts on all cores at once.
#if os(Linux)
import Glibc
import Synchronization

/// `helpers` threads that run parallel loops together with the thread that calls `run`.
final class SpinningWorkerPool: @unchecked Sendable {
    /// Loads of the job counter a worker makes before it sleeps (about 50 µs).
    private static let spinsBeforeSleep = 100_000

    /// Bumped for every loop handed out; workers compare it with the last one they saw.
    private let generation = Atomic<Int>(0)
    /// The next chunk to take and how many chunks are done, of the current loop.
    private let nextChunk = Atomic<Int>(0)
    private let finishedChunks = Atomic<Int>(0)
    /// Workers that took the current loop and have not yet let go of it.
    private let holders = Atomic<Int>(0)
    /// Set while a loop runs: a loop started inside a chunk, or on another thread meanwhile, runs on
    /// its own thread instead of waiting.
    private let busy = Atomic<Bool>(false)

    // Guarded by `mutex`: the loop's body (a pointer to the caller's closure, valid until every
    // holder has let go), its chunk count, and how many workers sleep on `wake`.
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var body: UnsafeRawPointer?
    private var chunks = 0
    private var sleepers = 0

    /// Starts `helpers` threads; they live as long as the process (pools are made once per size).
    init(helpers: Int) {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(wake, nil)
        for _ in 0 ..< helpers {
            var thread = pthread_t()
            let context = Unmanaged.passRetained(self).toOpaque()
            let started = pthread_create(&thread, nil, { context in
                Unmanaged<SpinningWorkerPool>.fromOpaque(context!).takeUnretainedValue().workLoop()
            }, context)
            precondition(started == 0, "could not start a worker thread (error \(started))")
            pthread_detach(thread)
        }
    }

    /// Runs `body(chunk)` for every chunk in `0..<chunks` on this thread and the helpers, each chunk
    /// taken by whoever asks first, and returns when all are done.
    func run(_ chunks: Int, _ body: (Int) -> Void) {
        guard busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            for chunk in 0 ..< chunks { body(chunk) }
            return
        }
        withoutActuallyEscaping(body) { escapable in
            var closure = escapable
            withUnsafePointer(to: &closure) { pointer in
                pthread_mutex_lock(mutex)
                self.body = UnsafeRawPointer(pointer)
                self.chunks = chunks
                nextChunk.store(0, ordering: .relaxed)
                finishedChunks.store(0, ordering: .relaxed)
                generation.wrappingAdd(1, ordering: .releasing)
                if sleepers > 0 { pthread_cond_broadcast(wake) }
                pthread_mutex_unlock(mutex)

                runChunks(of: pointer, count: chunks)
                while finishedChunks.load(ordering: .acquiring) < chunks {}
                // No worker may take the loop from now on; wait for those that did to let go.
                pthread_mutex_lock(mutex)
                self.body = nil
                pthread_mutex_unlock(mutex)
                while holders.load(ordering: .acquiring) > 0 {}
            }
        }
        busy.store(false, ordering: .releasing)
    }

    /// Takes chunks of the current loop until none is left.
    private func runChunks(of body: UnsafePointer<(Int) -> Void>, count: Int) {
        while true {
            let chunk = nextChunk.wrappingAdd(1, ordering: .relaxed).oldValue
            if chunk >= count { return }
            body.pointee(chunk)
            finishedChunks.wrappingAdd(1, ordering: .releasing)
        }
    }

    /// A helper's life: wait for a new loop (spinning, then sleeping), take part in it, repeat.
    private func workLoop() -> Never {
        var seen = 0
        while true {
            var spins = 0
            while generation.load(ordering: .acquiring) == seen {
                spins += 1
                if spins < Self.spinsBeforeSleep { continue }
                pthread_mutex_lock(mutex)
                sleepers += 1
                while generation.load(ordering: .acquiring) == seen { pthread_cond_wait(wake, mutex) }
                sleepers -= 1
                pthread_mutex_unlock(mutex)
            }
            pthread_mutex_lock(mutex)
            seen = generation.load(ordering: .acquiring)
            let loop = body.map { (body: $0.assumingMemoryBound(to: ((Int) -> Void).self), count: chunks) }
            if loop != nil { holders.wrappingAdd(1, ordering: .relaxed) }
            pthread_mutex_unlock(mutex)
            if let loop {
                runChunks(of: loop.body, count: loop.count)
                holders.wrappingSubtract(1, ordering: .releasing)
            }
        }
    }
}
#endif
