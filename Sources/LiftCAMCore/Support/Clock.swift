/// Seconds on the platform's monotonic clock, for the `seconds` an explanation reports.
///
/// The core has no clock of its own (it imports nothing); a platform layer installs one (LiftCAM
/// does, with the standard library's `ContinuousClock`; the WebAssembly build reads WASI's
/// monotonic clock). Without one, every duration reads 0.
public enum MonotonicClock {
    /// Set once at start-up, before any explanation runs.
    nonisolated(unsafe) public static var now: () -> Double = { 0 }
}
