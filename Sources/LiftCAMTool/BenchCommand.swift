#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import LiftCAM

/// `liftcam bench`: how long the forward pass and each CAM method take on one input, as medians of
/// timed runs after a warm-up, with the process's peak memory. Benchmarks/compare_pytorch.py runs
/// the same cases in PyTorch beside it.
enum BenchCommand {
    static let spec = CommandSpec(
        name: "bench", summary: "time the forward pass and CAM methods on one input (JSON)",
        options: [
            OptionSpec(name: "arch", valueName: "NAME|FILE.json", help: "vgg11…vgg19[_bn], resnet18…resnet152, or an architecture file", required: true),
            OptionSpec(name: "weights", valueName: "DIR", help: "directory of <state-dict key>.npy files (default: seeded random weights)"),
            OptionSpec(name: "input", valueName: "FILE", help: "an image or a .npy tensor (default: a seeded random input)"),
            OptionSpec(name: "repeat", valueName: "N", help: "timed runs after the warm-up run; medians are reported (default 5)"),
            OptionSpec(name: "method", valueName: "M[,M...]|all", help: "methods to time end to end, forward included (default: none)"),
            OptionSpec(name: "orderings", valueName: "N", help: "orderings |Π| for shap (default 10)"),
            OptionSpec(name: "threads", valueName: "N", help: "worker threads (default: all cores)"),
            OptionSpec(name: "layer", valueName: "NAME", help: "target layer (default: the architecture's)"),
            OptionSpec(name: "json", valueName: "FILE|-", help: "where to write the results (default -, standard output)"),
        ] + Preprocessing.options,
        example: "liftcam bench --arch vgg16 --method lift,ablation --repeat 5 --json -")

    /// The longest run the benchmark will repeat: 1 warm-up + up to 100 timed runs.
    static let maximumRepeats = 100

    static func run(_ arguments: ParsedArguments, console: Console) throws {
        let repeats = try arguments.int("repeat", default: 5, minimum: 1)
        guard repeats <= maximumRepeats else { throw ToolError.usage("--repeat \(repeats) is more than \(maximumRepeats)") }
        let orderings = try arguments.int("orderings", default: 10, minimum: 1)
        // The limit is process-wide: put it back afterwards for a program that embeds the tool.
        let previousThreads = workerCount
        defer { limitWorkerThreads(to: previousThreads) }
        if let threads = arguments.value("threads") {
            guard let count = Int(threads), count >= 1 else { throw ToolError.usage("--threads must be a positive integer, got '\(threads)'") }
            limitWorkerThreads(to: count)
        }
        var methods: [CAMMethod] = []
        if let text = arguments.value("method") {
            do { methods = try CAMMethod.parseList(text) } catch { throw ToolError.usage("\(error)") }
        }

        let architecture = try Architecture.resolve(arguments.required("arch"))
        let network: Network
        if let weights = arguments.value("weights") {
            network = try loadNetwork(arch: arguments.required("arch"), weights: weights)
        } else {
            network = try Network(architecture: architecture, weights: RandomWeights(seed: 1))
        }
        let preprocessing = try Preprocessing(arguments: arguments, architecture: architecture)
        let input: Tensor
        if let path = arguments.value("input") {
            input = try loadInput(path: path, preprocessing: preprocessing).tensor
            try checkInput(input, fits: network, path: path)
        } else {
            input = seededInput(channels: architecture.inputShape[0], height: preprocessing.height, width: preprocessing.width)
            try checkInput(input, fits: network, path: "--size")
        }
        let layer = arguments.value("layer")
        let batched = input.batched
        let forwardSeconds = medianSeconds(repeats: repeats) { _ = network.forward(batched) }

        // How many maps are zero (null players: SHAP-CAM skips their steps) or constant (Score-CAM
        // skips them): both change what the methods cost, so the report says.
        let maps = try makeExplainer(network: network, layer: layer, input: input, path: arguments.value("input") ?? "--size").activations
        let plane = maps.count / maps.shape[0]
        let ranges = (0..<maps.shape[0]).map { k in maps.storage[k * plane ..< (k + 1) * plane] }
        let allZero = ranges.filter { !$0.contains { $0 != 0 } }.count
        let constant = ranges.filter { $0.min() == $0.max() }.count

        var methodResults: [(String, JSONValue)] = []
        for method in methods {
            let options = MethodOptions(orderings: orderings, seed: 0)
            // The warm-up run also checks, with errors that reach the user, that the method applies.
            let explainer = try makeExplainer(network: network, layer: layer, input: input, path: arguments.value("input") ?? "--size")
            _ = try explainer.explain(method, target: explainer.predictedClass, options: options)
            var totals: [Double] = [], afterForward: [Double] = []
            for _ in 0..<repeats {
                let clock = ContinuousClock(), start = clock.now
                let explainer = try makeExplainer(network: network, layer: layer, input: input, path: "--input")
                let forwardDone = clock.now
                _ = try explainer.explain(method, target: explainer.predictedClass, options: options)
                totals.append(seconds(clock.now - start))
                afterForward.append(seconds(clock.now - forwardDone))
            }
            var fields: [(String, JSONValue)] = [("seconds", .number(median(totals))),
                                                 ("after_forward_seconds", .number(median(afterForward)))]
            if method == .shap { fields.append(("seconds_per_ordering", .number(median(afterForward) / Double(orderings)))) }
            methodResults.append((method.rawValue, .object(fields)))
        }

        let result = JSONValue.object([
            ("arch", .string(arguments.required("arch"))),
            ("input_size", .array([.number(Double(preprocessing.height)), .number(Double(preprocessing.width))])),
            ("repeat", .number(Double(repeats))),
            ("forward_seconds", .number(forwardSeconds)),
            ("methods", .object(methodResults)),
            ("maps", .object([("count", .number(Double(maps.shape[0]))), ("all_zero", .number(Double(allZero))),
                              ("constant", .number(Double(constant)))])),
            ("threads", .number(Double(workerCount))),
            ("peak_rss_mb", .number(peakResidentMegabytes())),
        ])
        try emitJSON(result, to: arguments.value("json") ?? "-", console: console)
    }
}

/// The median of `repeats` timed runs of `body` after one untimed warm-up run.
private func medianSeconds(repeats: Int, _ body: () -> Void) -> Double {
    body()
    let clock = ContinuousClock()
    var times: [Double] = []
    for _ in 0..<repeats {
        let start = clock.now
        body()
        times.append(seconds(clock.now - start))
    }
    return median(times)
}

private func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return 0 }
    let middle = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

private func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
}

/// A reproducible stand-in for a preprocessed image: values uniform in [-2, 2), the range of
/// ImageNet-normalised pixels, from SplitMix64 with a fixed seed.
func seededInput(channels: Int, height: Int, width: Int) -> Tensor {
    var generator = SplitMix64(seed: 2)
    let values = (0 ..< channels * height * width).map { _ in Float(generator.next() >> 40) / Float(1 << 22) - 2 }
    return Tensor(shape: [channels, height, width], storage: values)
}

/// The process's peak resident memory so far, in MiB (Linux reports ru_maxrss in KiB, macOS in bytes).
func peakResidentMegabytes() -> Double {
    var usage = rusage()
    #if canImport(Glibc)
    let who = RUSAGE_SELF.rawValue
    #else
    let who = RUSAGE_SELF
    #endif
    guard getrusage(who, &usage) == 0 else { return 0 }
    #if canImport(Darwin)
    return Double(usage.ru_maxrss) / (1024 * 1024)
    #else
    return Double(usage.ru_maxrss) / 1024
    #endif
}
