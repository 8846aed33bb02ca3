// The platform's parallel loop (on Linux, `SpinningWorkerPool`): every chunk runs exactly once, in
// loops back to back, after the workers have gone to sleep, nested inside a chunk, and called from
// two threads at once. A lost or doubled chunk would show as a wrong count; a hang as a test that
// never ends.
import Dispatch
import LiftCAM
import XCTest

final class ParallelLoopTests: PlatformTestCase {
    /// Loops of 0 … 1000 chunks, 200 times each, back to back: each chunk's own counter ends at 200.
    func testEveryChunkRunsOnceInLoopsBackToBack() {
        XCTAssertGreaterThanOrEqual(workerCount, 1)
        for chunks in [0, 1, 2, 3, 7, 64, 1000] {
            var counts = [Int](repeating: 0, count: max(chunks, 1))
            counts.withUnsafeMutableBufferPointer { counts in
                for _ in 0 ..< 200 { parallelFor(chunks) { chunk in counts[chunk] += 1 } }
            }
            XCTAssertEqual(Array(counts.prefix(chunks)), [Int](repeating: 200, count: chunks), "\(chunks) chunks")
        }
    }

    /// A loop after 20 ms of idleness, when the workers have stopped spinning and sleep: it still
    /// runs every chunk once (the wake-up path).
    func testLoopsAfterTheWorkersSleep() {
        for round in 0 ..< 3 {
            usleep(20_000)
            var counts = [Int](repeating: 0, count: 64)
            counts.withUnsafeMutableBufferPointer { counts in
                parallelFor(64) { chunk in counts[chunk] += 1 }
            }
            XCTAssertEqual(counts, [Int](repeating: 1, count: 64), "round \(round)")
        }
    }

    /// A loop inside a chunk of another runs on that chunk's thread: 4 × 8 marks, each set once.
    func testNestedLoopsRunEveryChunk() {
        var marks = [Int](repeating: 0, count: 32)
        marks.withUnsafeMutableBufferPointer { marks in
            parallelFor(4) { outer in
                parallelFor(8) { inner in marks[outer * 8 + inner] += 1 }
            }
        }
        XCTAssertEqual(marks, [Int](repeating: 1, count: 32))
    }

    /// Two threads running loops at the same time (one of them runs on its own thread while the
    /// other has the workers): 2 × 100 loops of 16 chunks, each counter at 100.
    func testLoopsFromTwoThreadsAtOnce() {
        var counts = [Int](repeating: 0, count: 32)
        counts.withUnsafeMutableBufferPointer { counts in
            let base = counts.baseAddress!
            DispatchQueue.concurrentPerform(iterations: 2) { thread in
                let own = UnsafeMutableBufferPointer(start: base + thread * 16, count: 16)
                for _ in 0 ..< 100 { parallelFor(16) { chunk in own[chunk] += 1 } }
            }
        }
        XCTAssertEqual(counts, [Int](repeating: 100, count: 32))
    }
}
