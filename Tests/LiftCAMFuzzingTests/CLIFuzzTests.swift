import Foundation
import LiftCAM
import LiftCAMFuzzing
import LiftCAMImaging
import XCTest

/// Mutated files through the real `liftcam` executable, one process per case: every run exits 0
/// or 1 within 20 s, a failure is one line naming the damaged file, and a failed run leaves no
/// output file (nor a temporary) behind. LIFTCAM_FUZZ_CLI_CASES=N sets the cases per input kind.
final class CLIFuzzTests: PlatformTestCase {
    static var casesPerKind: Int { ProcessInfo.processInfo.environment["LIFTCAM_FUZZ_CLI_CASES"].flatMap(Int.init) ?? 100 }

    func testMutatedFilesThroughTheCommandLine() throws {
        let workspace = try CLIWorkspace()
        defer { workspace.remove() }
        let fuzzSpace = try FuzzWorkspace()
        func target(_ name: String) throws -> FuzzTarget { try FuzzTargets.make(name, seed: 1, workspace: fuzzSpace) }
        let (png, pnm, npy, json, manifest) = (try target("png"), try target("pnm"), try target("npy"), try target("json"), try target("manifest"))
        let weightFiles = try listDirectory(workspace.weights)
        let originals = try Dictionary(uniqueKeysWithValues: ([workspace.png, workspace.ppm, workspace.npy, workspace.arch, workspace.data + "/manifest.csv"]
            + weightFiles.map { workspace.weights + "/" + $0 }).map { ($0, try readFileBytes($0)) })
        let out = workspace.root + "/out.json"
        var outcomes: [String: [Int32: Int]] = [:]
        let clock = ContinuousClock(), start = clock.now

        // (kind, the file to damage, how, the paths one of which the error must name, the command). A
        // damaged architecture that is still valid is refused on the weights that do not fit it.
        let kinds: [(String, (inout Mutator) -> String, FuzzTarget, [String], [String])] = [
            ("png input", { _ in workspace.png }, png, [workspace.png], ["explain", "--input", workspace.png]),
            ("ppm input", { _ in workspace.ppm }, pnm, [workspace.ppm], ["explain", "--input", workspace.ppm]),
            ("npy input", { _ in workspace.npy }, npy, [workspace.npy], ["explain", "--input", workspace.npy]),
            ("architecture", { _ in workspace.arch }, json, [workspace.arch, workspace.weights], ["explain", "--input", workspace.png]),
            ("weight file", { mutator in workspace.weights + "/" + mutator.pick(weightFiles) }, npy, [workspace.weights], ["explain", "--input", workspace.png]),
            ("manifest", { _ in workspace.data + "/manifest.csv" }, manifest, [workspace.data], ["evaluate", "--data", workspace.data, "--reference-orderings", "0"]),
        ]
        for (kind, choose, target, named, command) in kinds {
            for index in 0..<Self.casesPerKind {
                var mutator = Mutator(seed: UInt64(index) &* 7919 &+ UInt64(kind.utf8.count))
                let file = choose(&mutator)
                let damaged = target.mutate(&mutator, originals[file]!)
                try writeFileAtomically(file, bytes: damaged)
                let arguments = command + ["--arch", workspace.arch, "--weights", workspace.weights, "--method", "lift", "--json", out]
                let run = try runProcess(liftcamExecutable, arguments)
                let label = "\(kind) case \(index) (\(damaged.count) bytes): status \(run.status), stderr: \(run.error)"
                outcomes[kind, default: [:]][run.status, default: 0] += 1
                XCTAssertFalse(run.timedOut, label)
                XCTAssertTrue([0, 1].contains(run.status), label)
                let lines = run.error.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
                if run.status == 1 {
                    // evaluate lists each bad manifest row on its own line before the summary line.
                    if command[0] == "explain" { XCTAssertEqual(lines.count, 1, label) }
                    XCTAssertTrue(lines.allSatisfy { $0.hasPrefix("liftcam \(command[0]): ") }, label)
                    XCTAssertTrue(lines.contains { line in named.contains { line.contains($0) } }, "the error names none of \(named): \(label)")
                    XCTAssertFalse(FileManager.default.fileExists(atPath: out), "output left behind: \(label)")
                } else if run.status == 0 {
                    let text = try readFileBytes(out)
                    XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(text)), label)
                    try FileManager.default.removeItem(atPath: out)
                }
                XCTAssertEqual(workspace.temporaries(), [], label)
                try writeFileAtomically(file, bytes: originals[file]!)
            }
        }
        print("cli fuzz: \(kinds.count) kinds × \(Self.casesPerKind) cases in \(clock.now - start): \(outcomes.sorted { $0.key < $1.key })")
    }
}
