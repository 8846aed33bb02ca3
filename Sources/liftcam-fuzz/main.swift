// liftcam-fuzz: the fuzz harness of Tests/LiftCAMFuzzingTests, for long local runs.
//
//     liftcam-fuzz --parser all --cases 1000000 --seed 7
//     liftcam-fuzz --parser png --seed 7 --case 123456 --dump case.png     (replay one case)
//     liftcam-fuzz --parser png --cases 10000 --kinds 30                  (the commonest refusals)
//
// Prints one line per parser (cases, valid, errors, time, slowest case, peak memory growth,
// failures) and every failure with the command that replays it; exits 1 if any case failed.
// A trap or crash prints the parser and case number before the process dies.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import LiftCAM
import LiftCAMFuzzing

let usage = "usage: liftcam-fuzz [--parser npy|png|pnm|json|manifest|onnx|all] [--cases N] [--seed S] [--first N] [--time-limit SECONDS] [--case N --dump FILE] [--kinds N]"

func fail(_ message: String) -> Never {
    fputs("liftcam-fuzz: \(message)\n\(usage)\n", stderr)
    exit(2)
}

var options: [String: String] = [:]
var arguments = CommandLine.arguments.dropFirst()
while let name = arguments.popFirst() {
    guard name.hasPrefix("--"), let value = arguments.popFirst() else { fail(name == "--help" ? "" : "expected --option value, got '\(name)'") }
    options[String(name.dropFirst(2))] = value
}
for key in options.keys where !["parser", "cases", "seed", "first", "time-limit", "case", "dump", "kinds"].contains(key) { fail("unknown option --\(key)") }
func integer(_ key: String, _ fallback: Int) -> Int {
    guard let text = options[key] else { return fallback }
    guard let value = Int(text), value >= 0 else { fail("--\(key) must be a non-negative integer, got '\(text)'") }
    return value
}
let parserOption = options["parser"] ?? "all"
let parsers = parserOption == "all" ? FuzzTargets.names : [parserOption]
let seed = UInt64(integer("seed", 1))
let timeLimit = options["time-limit"].flatMap(Double.init) ?? 1

extension String {
    func padding(toLength width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}

// The crash report: the parser index and case number are plain globals the handler reads.
nonisolated(unsafe) var currentParser = 0
func crashed(_ signal: Int32) {
    var text = Array("\nliftcam-fuzz: signal ".utf8)
    func appendNumber(_ value: Int) {
        var digits: [UInt8] = []
        var rest = abs(value)
        repeat { digits.append(UInt8(48 + rest % 10)); rest /= 10 } while rest > 0
        text += digits.reversed()
    }
    appendNumber(Int(signal))
    text += Array(" in parser #".utf8)
    appendNumber(currentParser)
    text += Array(" (0 npy, 1 png, 2 pnm, 3 json, 4 manifest, 5 onnx) at case ".utf8)
    appendNumber(currentFuzzCase)
    text += Array("; replay it with --case and --dump\n".utf8)
    _ = text.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count) }
    _exit(3)
}
for crashSignal in [SIGSEGV, SIGILL, SIGTRAP, SIGBUS, SIGFPE, SIGABRT] { signal(crashSignal, crashed) }

do {
    let workspace = try FuzzWorkspace()
    if let dump = options["dump"] {
        guard parsers.count == 1, let index = options["case"].flatMap(Int.init) else { fail("--dump needs one --parser and --case N") }
        let target = try FuzzTargets.make(parsers[0], seed: seed, workspace: workspace)
        try writeFileAtomically(dump, bytes: target.input(seed: seed, index: index))
        print("wrote case \(index) of \(parsers[0]) (seed \(seed)) to \(dump)")
        exit(0)
    }
    var failed = false
    for name in parsers {
        currentParser = FuzzTargets.names.firstIndex(of: name) ?? -1
        let target = try FuzzTargets.make(name, seed: seed, workspace: workspace)
        let summary = runFuzz(target, seed: seed, cases: integer("cases", 10_000), first: integer("first", 0), timeLimit: timeLimit)
        print(summary.line)
        fflush(stdout)
        for (kind, count) in summary.errorKinds.sorted(by: { $0.value > $1.value }).prefix(integer("kinds", 0)) {
            print("  \(String(count).padding(toLength: 8)) \(kind)")
        }
        for failure in summary.failures.prefix(20) { print("  FAILED \(failure)") }
        failed = failed || !summary.failures.isEmpty
    }
    exit(failed ? 1 : 0)
} catch {
    fputs("liftcam-fuzz: \(error)\n", stderr)
    exit(1)
}
