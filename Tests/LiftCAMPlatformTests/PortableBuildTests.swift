import Foundation
import XCTest

/// The kernels as a consumer that pins LiftCAM by version gets them on x86-64: no CPU flags, so
/// Package.swift defines LIFTCAM_SEPARATE_MULTIPLY_ADD (Benchmarks/DEPENDENCY.md). The root build
/// never compiles that path, so this test compiles the core's sources with the define, as that
/// build does, together with Platforms/Portable/KernelCheck.swift, which holds every multiply-add
/// kernel against its naive twin (112 checks, 1e-4 · (1 + max |naive|)).
final class PortableBuildTests: XCTestCase {
    func testSeparateMultiplyAddKernelsMatchTheirTwinsAndNeverCallFmaf() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("liftcam-portable-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let program = scratch.appendingPathComponent("kernel-check").path
        let coreFolder = repositoryRoot + "/Sources/LiftCAMCore"
        let sources = try FileManager.default.subpathsOfDirectory(atPath: coreFolder)
            .filter { $0.hasSuffix(".swift") }.sorted().map { coreFolder + "/" + $0 }
        let compile = try runChild(toolchainBin + "/swiftc",
                                   ["-O", "-wmo", "-num-threads", "2", "-parse-as-library", "-module-name", "LiftCAMCore",
                                    "-DLIFTCAM_SEPARATE_MULTIPLY_ADD", "-suppress-warnings"]
                                   + sources + [repositoryRoot + "/Platforms/Portable/KernelCheck.swift", "-o", program])
        XCTAssertEqual(compile.status, 0, compile.error)
        guard compile.status == 0 else { return }

        // Without the define this build would reference fmaf (one library call per lane).
        let symbols = try runChild(toolchainBin + "/llvm-nm", ["-u", program])
        XCTAssertEqual(symbols.status, 0, symbols.error)
        XCTAssertFalse(symbols.output.split(separator: "\n").contains { $0.hasSuffix(" fmaf") },
                       "the separate multiply-add build calls fmaf")

        let run = try runChild(program, [])
        XCTAssertEqual(run.status, 0, run.output + run.error)
        XCTAssertTrue(run.output.contains("117 checks, 0 failures"), run.output)
    }
}
