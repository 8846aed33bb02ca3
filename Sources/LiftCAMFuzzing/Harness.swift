#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import LiftCAM
import LiftCAMCommandLine
import LiftCAMImaging

/// One parser under fuzzing: valid seed files, how to mutate them, and how to parse the result.
public struct FuzzTarget {
    /// "npy", "png", "pnm", "json" or "manifest".
    public let name: String
    /// Valid files the mutations start from.
    public let seeds: [[UInt8]]
    /// Mutates one seed (format-aware where it helps the mutation get past checksums).
    public let mutate: (inout Mutator, [UInt8]) -> [UInt8]
    /// Parses the bytes: throws the parser's error for a refused file; otherwise returns the
    /// messages of the parts it refused without refusing the file (the manifest's bad rows).
    public let parse: ([UInt8]) throws -> [String]
    /// What every error message must start with (the file name), when the parser names one.
    public let errorPrefix: String?

    public init(name: String, seeds: [[UInt8]], errorPrefix: String?, mutate: @escaping (inout Mutator, [UInt8]) -> [UInt8],
                parse: @escaping ([UInt8]) throws -> [String]) {
        self.name = name
        self.seeds = seeds
        self.errorPrefix = errorPrefix
        self.mutate = mutate
        self.parse = parse
    }

    /// The input of case `index` of a run seeded with `seed` (to reproduce or save one case).
    public func input(seed: UInt64, index: Int) -> [UInt8] {
        var mutator = Mutator(seed: caseSeed(seed, index))
        let original = seeds[mutator.int(0...seeds.count - 1)]
        // One case in 64 is a seed unchanged, so the valid path is always exercised too.
        return mutator.chance(1, in: 64) ? original : mutate(&mutator, original)
    }
}

/// Each case gets its own generator, so case i can be replayed without running cases 0..<i.
func caseSeed(_ seed: UInt64, _ index: Int) -> UInt64 {
    var mixer = SplitMix64(seed: seed ^ (UInt64(index) &* 0xD1B5_4A32_D192_ED03))
    return mixer.next()
}

/// A case that broke a rule: too slow, an error without a proper message, a result that
/// violates the parser's promises.
public struct FuzzFailure: CustomStringConvertible {
    public let parser: String
    public let seed: UInt64
    public let index: Int
    public let problem: String

    public var description: String {
        "\(parser) case \(index) (seed \(seed)): \(problem) — replay with: liftcam-fuzz --parser \(parser) --seed \(seed) --case \(index) --dump case.bin"
    }
}

/// What one run of a target did.
public struct FuzzSummary {
    public let parser: String
    public var cases = 0
    /// Cases that parsed to a valid result, and cases refused with an error.
    public var accepted = 0, refused = 0
    /// Refusals (and refused parts) by kind: the message without the file name, digits as "#",
    /// cut at 60 characters.
    public var errorKinds: [String: Int] = [:]
    public var seconds = 0.0
    public var slowestCase = 0, slowestSeconds = 0.0
    /// Growth of the process's peak resident memory over the run, in KiB (getrusage ru_maxrss).
    public var peakMemoryGrowthKiB = 0
    public var failures: [FuzzFailure] = []

    /// "png  10000 cases  3121 valid  6879 errors (41 kinds)  2.31 s  slowest 4.1 ms (case 77)  +0 MiB peak  0 failures"
    public var line: String {
        func fixed(_ value: Double, _ digits: Int) -> String {
            let scale = Double([1, 10, 100, 1000][digits])
            let rounded = (value * scale).rounded() / scale
            var text = String(rounded)
            if let dot = text.firstIndex(of: ".") {
                let decimals = text.distance(from: dot, to: text.endIndex) - 1
                text += String(repeating: "0", count: max(0, digits - decimals))
            }
            return text
        }
        return "\(parser.padding(8)) \(String(cases).padding(8, left: true)) cases \(String(accepted).padding(7, left: true)) valid "
            + "\(String(refused).padding(7, left: true)) errors (\(errorKinds.count) kinds)  \(fixed(seconds, 2)) s  "
            + "slowest \(fixed(slowestSeconds * 1000, 1)) ms (case \(slowestCase))  "
            + "+\(peakMemoryGrowthKiB / 1024) MiB peak  \(failures.count) failures"
    }
}

extension String {
    func padding(_ width: Int, left: Bool = false) -> String {
        let pad = String(repeating: " ", count: max(0, width - count))
        return left ? pad + self : self + pad
    }
}

/// The case running now, for a crash report (`liftcam-fuzz` prints it from its signal handler).
nonisolated(unsafe) public var currentFuzzCase = -1

/// Runs cases `first ..< first + count` of `target` seeded with `seed`. A case fails when it takes
/// longer than `timeLimit` seconds, throws something other than `LiftCAMError` / `ImageError`, or
/// throws a message that is empty, spans lines or does not start with the target's file name.
/// A trap or crash ends the process (the test or `liftcam-fuzz` reports it).
public func runFuzz(_ target: FuzzTarget, seed: UInt64, cases count: Int, first: Int = 0, timeLimit: Double = 1) -> FuzzSummary {
    var summary = FuzzSummary(parser: target.name)
    let clock = ContinuousClock()
    let memoryBefore = peakResidentKiB()
    let runStart = clock.now
    for index in first..<(first + count) {
        currentFuzzCase = index
        let bytes = target.input(seed: seed, index: index)
        let start = clock.now
        var message: String?
        var problem: String?
        var partial: [String] = []
        do {
            partial = try target.parse(bytes)
        } catch let error as LiftCAMError {
            message = error.description
        } catch let error as ImageError {
            message = error.description
        } catch let error as FuzzInvariantViolation {
            problem = "a valid result broke a promise: \(error.description)"
        } catch {
            problem = "threw \(type(of: error)), not LiftCAMError or ImageError: \(error)"
        }
        let elapsed = seconds(clock.now - start)
        summary.cases += 1
        if elapsed > summary.slowestSeconds { (summary.slowestSeconds, summary.slowestCase) = (elapsed, index) }
        if elapsed > timeLimit { problem = problem ?? "took \(elapsed) s, more than the \(timeLimit) s bound" }
        if message != nil {
            summary.refused += 1
        } else if problem == nil {
            summary.accepted += 1
        }
        for text in (message.map { [$0] } ?? []) + partial {
            summary.errorKinds[errorKind(text, prefix: target.errorPrefix), default: 0] += 1
            if text.isEmpty || text.contains(where: { $0.isNewline }) {
                problem = problem ?? "error message is empty or spans lines: \(text.debugDescription)"
            } else if let prefix = target.errorPrefix, !text.hasPrefix(prefix) {
                problem = problem ?? "error does not name the file \(prefix): \(text)"
            }
        }
        if let problem { summary.failures.append(FuzzFailure(parser: target.name, seed: seed, index: index, problem: problem)) }
    }
    currentFuzzCase = -1
    summary.seconds = seconds(clock.now - runStart)
    summary.peakMemoryGrowthKiB = peakResidentKiB() - memoryBefore
    return summary
}

/// Thrown by a target's `parse` when a result it accepted is inconsistent.
public struct FuzzInvariantViolation: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The message without the file name, digits folded to "#", at most 60 characters: similar
/// refusals ("dimension 5 ..." and "dimension 7 ...") count as one kind.
func errorKind(_ message: String, prefix: String?) -> String {
    var text = Substring(message)
    if let prefix, text.hasPrefix(prefix) { text = text.dropFirst(prefix.count) }
    var kind = ""
    var lastWasDigit = false
    for character in text {
        if character.isNumber {
            if !lastWasDigit { kind.append("#") }
            lastWasDigit = true
        } else {
            kind.append(character)
            lastWasDigit = false
        }
        if kind.count == 60 { break }
    }
    return kind
}

