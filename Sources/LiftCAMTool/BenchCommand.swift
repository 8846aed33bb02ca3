import LiftCAM
import LiftCAMCommandLine

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
            OptionSpec(name: "method", valueName: "M[,M...]|all", help: "methods to time end to end, forward included (default: none; all leaves out shap-exact above K = 20)"),
            OptionSpec(name: "orderings", valueName: "N", help: "orderings |Π| for shap (default 10)"),
            OptionSpec(name: "threads", valueName: "N", help: "worker threads (default: all cores)"),
            OptionSpec(name: "layer", valueName: "NAME", help: "target layer (default: the architecture's)"),
            OptionSpec(name: "target", valueName: "C", help: "class to explain (default: the predicted class)"),
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
        var methods: [CAMMethod] = []   // in the order given
        if let text = arguments.value("method") {
            do { methods = try CAMMethod.parseList(text) } catch { throw ToolError.usage("\(error)") }
        }

        let network: Network
        if let weights = arguments.value("weights") {
            network = try loadNetwork(arch: arguments.required("arch"), weights: weights)
        } else if isONNXPath(try arguments.required("arch")) {
            network = try loadNetwork(arch: arguments.required("arch"), weights: nil)
        } else {
            network = try Network(architecture: try Architecture.resolve(arguments.required("arch")), weights: RandomWeights(seed: 1))
        }
        let architecture = network.architecture
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
        let inputName = arguments.value("input") ?? "--size"
        // One explainer first, untimed: it checks the layer, gives K and the default target, and
        // counts the maps that are zero (null players: SHAP-CAM skips their steps) or constant
        // (Score-CAM skips them), since both change what those methods cost.
        let first = try makeExplainer(network: network, layer: layer, input: input, path: inputName)
        let target = try arguments.value("target").map { text -> Int in
            guard let value = Int(text), first.logits.indices.contains(value) else {
                throw ToolError.usage("--target must be a class index in 0…\(first.logits.count - 1), got '\(text)'")
            }
            return value
        } ?? first.predictedClass
        let maps = first.activations
        let plane = maps.count / maps.shape[0]
        let ranges = (0..<maps.shape[0]).map { k in maps.storage[k * plane ..< (k + 1) * plane] }
        let allZero = ranges.filter { !$0.contains { $0 != 0 } }.count
        let constant = ranges.filter { $0.min() == $0.max() }.count
        if maps.shape[0] > exactSHAPMaximumPlayers, let index = methods.firstIndex(of: .shapExact) {
            // "all" means every method that applies; naming shap-exact here is an error, found
            // before any timing rather than after the forward passes.
            guard arguments.value("method") == "all" else {
                throw ToolError.failure("shap-exact needs K ≤ \(exactSHAPMaximumPlayers) maps; layer '\(first.network.layer)' has K = \(maps.shape[0])")
            }
            methods.remove(at: index)
        }

        let batched = input.batched
        let forwardSeconds = median(timedRuns(repeats) { _ = network.forward(batched) })
        let explainerSeconds = median(try timedRuns(repeats) {
            _ = try makeExplainer(network: network, layer: layer, input: input, path: inputName)
        })

        var methodResults: [(String, JSONValue)] = []
        for method in methods {
            let options = MethodOptions(orderings: orderings, seed: 0)
            var totals: [Double] = [], afterExplainer: [Double] = []
            // The first run warms up, and checks with errors that reach the user that the method applies.
            for run in 0...repeats {
                let clock = ContinuousClock(), start = clock.now
                let explainer = try makeExplainer(network: network, layer: layer, input: input, path: inputName)
                let ready = clock.now
                _ = try explainer.explain(method, target: target, options: options)
                if run > 0 {
                    totals.append(seconds(clock.now - start))
                    afterExplainer.append(seconds(clock.now - ready))
                }
            }
            var fields: [(String, JSONValue)] = [("seconds", .number(median(totals))),
                                                 ("after_explainer_seconds", .number(median(afterExplainer)))]
            if method == .shap { fields.append(("seconds_per_ordering", .number(median(afterExplainer) / Double(orderings)))) }
            methodResults.append((method.rawValue, .object(fields)))
        }

        let result = JSONValue.object([
            ("arch", .string(arguments.required("arch"))),
            ("input_size", .array([.number(Double(input.shape[1])), .number(Double(input.shape[2]))])),
            ("target", .number(Double(target))),
            ("repeat", .number(Double(repeats))),
            ("forward_seconds", .number(forwardSeconds)),
            ("explainer_seconds", .number(explainerSeconds)),
            ("methods", .object(methodResults)),
            ("maps", .object([("count", .number(Double(maps.shape[0]))), ("all_zero", .number(Double(allZero))),
                              ("constant", .number(Double(constant)))])),
            ("threads", .number(Double(workerCount))),
            ("peak_rss_mb", .number(Double(peakResidentKiB()) / 1024)),
        ])
        try emitJSON(result, to: arguments.value("json") ?? "-", console: console)
    }
}

/// A reproducible stand-in for a preprocessed image: values uniform in [-2, 2), the range of
/// ImageNet-normalised pixels, from SplitMix64 with a fixed seed.
func seededInput(channels: Int, height: Int, width: Int) -> Tensor {
    var generator = SplitMix64(seed: 2)
    let values = (0 ..< channels * height * width).map { _ in Float(generator.next() >> 40) / Float(1 << 22) - 2 }
    return Tensor(shape: [channels, height, width], storage: values)
}
