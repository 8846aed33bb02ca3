import Foundation

/// Where the tool writes: standard output and standard error, or buffers in tests.
final class Console: @unchecked Sendable {
    private let lock = NSLock()
    private let writeOut: (String) -> Void
    private let writeError: (String) -> Void
    /// Whether standard error is a terminal (a live progress bar) or not (plain periodic lines).
    let errorIsTerminal: Bool

    init(out: @escaping (String) -> Void, error: @escaping (String) -> Void, errorIsTerminal: Bool) {
        writeOut = out
        writeError = error
        self.errorIsTerminal = errorIsTerminal
    }

    static let standard = Console(
        out: { FileHandle.standardOutput.write(Data($0.utf8)) },
        error: { FileHandle.standardError.write(Data($0.utf8)) },
        errorIsTerminal: isatty(2) == 1)

    func print(_ text: String) { lock.withLock { writeOut(text + "\n") } }
    func printError(_ text: String) { lock.withLock { writeError(text + "\n") } }
    func writeErrorRaw(_ text: String) { lock.withLock { writeError(text) } }
}

/// Progress of long work on standard error: a live bar on a terminal, a plain line every few
/// seconds otherwise (logs stay readable). Shows items done, rate, and the time left.
final class Progress: @unchecked Sendable {
    private let console: Console
    private let label: String
    private let total: Int
    private let start = Date()
    private var lastReport = Date.distantPast
    private let lock = NSLock()

    init(console: Console, label: String, total: Int) {
        self.console = console
        self.label = label
        self.total = total
    }

    func update(done: Int) {
        lock.withLock {
            let now = Date()
            let interval = console.errorIsTerminal ? 0.1 : 5.0
            guard done == total || now.timeIntervalSince(lastReport) >= interval else { return }
            lastReport = now
            let elapsed = now.timeIntervalSince(start)
            let rate = elapsed > 0 ? Double(done) / elapsed : 0
            let left = rate > 0 ? Double(total - done) / rate : 0
            let stats = "\(done)/\(total)  \(String(format: "%.2f", rate))/s  \(formatDuration(left)) left"
            if console.errorIsTerminal {
                let width = 30
                let filled = total > 0 ? width * done / total : width
                let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
                console.writeErrorRaw("\r\(label) \(bar) \(stats)\u{1B}[K" + (done == total ? "\n" : ""))
            } else {
                console.printError("\(label): \(stats)")
            }
        }
    }
}

func formatDuration(_ seconds: Double) -> String {
    let s = Int(seconds.rounded())
    return s >= 3600 ? "\(s / 3600)h\(String(format: "%02d", s % 3600 / 60))m" : s >= 60 ? "\(s / 60)m\(String(format: "%02d", s % 60))s" : "\(s)s"
}
