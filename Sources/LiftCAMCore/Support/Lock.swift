/// A lock, for the few values threads may share: a layer's weights transformed on first use.
///
/// The core has no threads, so its own lock does nothing; a platform that runs the core on several
/// threads at once installs a real one (LiftCAM installs a pthread mutex).
public protocol Lock: AnyObject {
    /// Waits until no other thread holds the lock, then holds it.
    func lock()
    /// Releases the lock, which the calling thread holds.
    func unlock()
}

/// Where the core gets its locks.
public enum MutualExclusion {
    /// Makes one lock. Set once at start-up, before any layer is built.
    nonisolated(unsafe) public static var make: () -> any Lock = { NoLock() }
}

/// The lock of a program with one thread.
final class NoLock: Lock {
    func lock() {}
    func unlock() {}
}
