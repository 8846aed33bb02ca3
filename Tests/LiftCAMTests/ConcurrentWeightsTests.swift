import Dispatch
import Foundation
import LiftCAM
import XCTest

/// A weight directory rewritten while it is being read: every file is replaced by rename, so a
/// reader sees each tensor whole, old or new, never a truncated or mixed file.
final class ConcurrentWeightsTests: PlatformTestCase {
    func testReadersNeverSeeHalfWrittenWeightFiles() throws {
        let root = NSTemporaryDirectory() + "liftcam-concurrent-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: root) }
        // Two versions of the same state dict: every element 1 in one, 2 in the other; 1 MiB files.
        let versions: [[String: Tensor]] = [1, 2].map { value in
            ["a.weight": Tensor(shape: [256, 1024], repeating: value), "b.weight": Tensor(shape: [512, 512], repeating: value)]
        }
        try writeWeightDirectory(versions[0], to: root)
        let writerDone = DispatchSemaphore(value: 0)
        final class Flag: @unchecked Sendable {   // only touched under `lock`
            private var value = false
            private let lock = NSLock()
            func set() { lock.withLock { value = true } }
            var isSet: Bool { lock.withLock { value } }
        }
        let finished = Flag()
        DispatchQueue.global().async {
            var round = 0
            while !finished.isSet {
                try? writeWeightDirectory(versions[round % 2], to: root)
                round += 1
            }
            writerDone.signal()
        }
        var reads = 0
        let deadline = Date().addingTimeInterval(2)
        while Date() < deadline {
            let weights = try WeightDirectory(path: root)   // a torn file would throw "ended early" or a size mismatch
            for key in ["a.weight", "b.weight"] {
                let values = Set(try weights.tensor(key, shape: versions[0][key]!.shape).storage)
                XCTAssertTrue(values == [1] || values == [2], "\(key) mixes versions: \(values.sorted())")
            }
            reads += 1
        }
        finished.set()
        writerDone.wait()
        XCTAssertGreaterThan(reads, 3)
        XCTAssertEqual(try listDirectory(root), ["a.weight.npy", "b.weight.npy"], "a temporary file survived")
    }
}
