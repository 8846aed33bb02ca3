import Foundation
import LiftCAM
import XCTest

/// The core and a LIFT-CAM program on tiny_vgg, linked for microcontroller-class targets
/// (Scripts/build_baremetal.sh) and, where QEMU is installed, run there against the native build.
final class BareMetalTests: XCTestCase {
    static let targets = ["armv7em", "riscv32", "aarch64"]
    /// The linked image of each target, or why it failed; built once for the class, two at a time.
    nonisolated(unsafe) static var images: [String: Result<String, BuildFailure>] = [:]

    struct BuildFailure: Error { let log: String }

    override class func setUp() {
        super.setUp()
        usePlatformServices()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("liftcam-baremetal-\(UUID().uuidString)").path
        let lock = NSLock()
        DispatchQueue.concurrentPerform(iterations: targets.count) { index in
            let target = targets[index], image = folder + "/\(target).elf"
            let result: Result<String, BuildFailure>
            do {
                let build = try runChild(repositoryRoot + "/Scripts/build_baremetal.sh", [target, image])
                result = build.status == 0 ? .success(image) : .failure(BuildFailure(log: build.error + build.output))
            } catch {
                result = .failure(BuildFailure(log: "\(error)"))
            }
            lock.withLock { images[target] = result }
        }
    }

    func image(_ target: String) throws -> String {
        switch Self.images[target] {
        case .success(let path): return path
        case .failure(let failure): XCTFail("\(target) did not link:\n\(failure.log.suffix(3000))")
        case nil: XCTFail("\(target) was not built")
        }
        throw XCTSkip("no image")
    }

    /// Every target links into an ELF whose code and data fit a microcontroller-class part.
    func testEveryTargetLinks() throws {
        for target in Self.targets {
            let path = try image(target)
            let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
            XCTAssertGreaterThan(size, 10_000, target)
            let header = try Data(contentsOf: URL(fileURLWithPath: path)).prefix(4)
            XCTAssertEqual(Array(header), [0x7F, 0x45, 0x4C, 0x46], "\(target): an ELF file")
        }
    }

    /// The program's output on a board emulated by QEMU equals the native build's numbers.
    func testOnQEMUTheNumbersAreTheNativeBuilds() throws {
        let emulators: [(target: String, executable: String, arguments: [String])] = [
            ("armv7em", "qemu-system-arm", ["-M", "mps2-an500", "-nographic", "-semihosting", "-kernel"]),
            ("riscv32", "qemu-system-riscv32", ["-M", "virt", "-bios", "none", "-nographic", "-semihosting", "-kernel"]),
            ("aarch64", "qemu-system-aarch64", ["-M", "virt", "-cpu", "cortex-a53", "-nographic", "-semihosting", "-kernel"]),
        ]
        let expected = try nativeNumbers()
        var ran = 0
        for emulator in emulators {
            guard let executable = ["/usr/bin/", "/usr/local/bin/"].map({ $0 + emulator.executable })
                .first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else { continue }
            let run = try runChild(executable, emulator.arguments + [try image(emulator.target)])
            XCTAssertEqual(run.status, 0, "\(emulator.target): \(run.output) \(run.error)")
            // QEMU writes the semihosting console to its standard error.
            let line = (run.output + run.error).split(separator: "\n").first { $0.hasPrefix("{") }.map(String.init) ?? ""
            let report = jsonObject(line)
            XCTAssertEqual(report["predicted"] as? Int, expected.predicted, emulator.target)
            for key in ["logits", "lift", "gradcam"] {
                XCTAssertLessThanOrEqual(relativeDifference(try XCTUnwrap(expected.values[key]), numbers(report[key])), 1e-5,
                                         "\(emulator.target) \(key): \(line)")
            }
            XCTAssertLessThan((report["summation_relative_error"] as? Double) ?? 1, 1e-4, emulator.target)
            ran += 1
        }
        if ran == 0 { throw XCTSkip("no QEMU installed (apt install qemu-system-arm qemu-system-misc)") }
    }

    /// What Platforms/BareMetal/Main.swift computes, from the native library.
    func nativeNumbers() throws -> (predicted: Int, values: [String: [Double]]) {
        let network = try Network(architecture: try Architecture.resolve(repositoryRoot + "/Fixtures/models/tiny_vgg/arch.json"),
                                  weights: try WeightDirectory(path: repositoryRoot + "/Fixtures/models/tiny_vgg/weights"))
        let explainer = try Explainer(network: network, input: try readNPY(path: repositoryRoot + "/Fixtures/reference/tiny_vgg/case0/input.npy"))
        let target = explainer.predictedClass
        return (target, ["logits": explainer.logits.map(Double.init),
                         "lift": try explainer.coefficients(.lift, target: target).map(Double.init),
                         "gradcam": try explainer.coefficients(.gradcam, target: target).map(Double.init)])
    }
}
