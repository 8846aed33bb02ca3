import LiftCAM

/// `liftcam-bench handoff`: what handing work to the worker threads costs, the floor under every
/// parallel kernel. One `parallelFor` with almost nothing to do, back to back and after some serial
/// work (during which idle workers may go to sleep), and how many hand-offs one forward pass of
/// each benchmark network makes.
func runHandOffBenchmarks() {
    print("")
    print("| hand-off | µs |")
    print("|---|---:|")
    var sink = [Float](repeating: 0, count: 64 * 1024)
    for gapMicroseconds in [0, 20, 100, 1000] {
        var spins = 0
        let serialWork = {
            let end = monotonicSeconds() + Double(gapMicroseconds) * 1e-6
            while monotonicSeconds() < end { spins += 1 }
        }
        let serialOnly = fastestRun(repetitions: 3) { for _ in 0 ..< 1000 { serialWork() } }
        let withHandOff = sink.withUnsafeMutableBufferPointer { buffer in
            fastestRun(repetitions: 3) {
                for _ in 0 ..< 1000 {
                    serialWork()
                    parallelFor(workerCount) { chunk in for i in 0 ..< 256 { buffer[chunk * 1024 + i] += 1 } }
                }
            }
        }
        print("| after \(gapMicroseconds) µs of serial work | \(formatted((withHandOff - serialOnly) / 1000 * 1e6, digits: 2)) |")
    }
    print("")
    print("| network | hand-offs per forward pass | chunks |")
    print("|---|---:|---:|")
    for name in ["vgg16", "resnet50"] {
        guard let architecture = Architecture.named(name),
              let network = try? Network(architecture: architecture, weights: RandomWeights(seed: 1)) else { continue }
        let input = benchTensor([1, 3, 224, 224], seed: 2)
        _ = network.forward(input)   // the layers' cached weights are made on the first pass
        let installed = ParallelLoop.current
        nonisolated(unsafe) var handOffs = 0, chunks = 0
        ParallelLoop.current = ParallelLoop(workers: installed.workers) { count, body in
            handOffs += 1
            chunks += count
            installed.run(count, body)
        }
        _ = network.forward(input)
        ParallelLoop.current = installed
        print("| \(name) | \(handOffs) | \(chunks) |")
    }
}
