import LiftCAM

/// Whole-network forward passes (torchvision VGG16 and ResNet50, seeded random weights, 224×224),
/// batch 1 and 8: the median of several runs after a warm-up, the figure to hold against PyTorch
/// (`Scripts/bench_torch_forward.py` prints the same rows for torch on the same machine).
/// `liftcam-bench forward-profile` also times each top-level module of the fused network.
func runForwardBenchmarks(profile: Bool) throws {
    print("")
    print("| network | batch | forward median ms | fastest ms | runs |")
    print("|---|---:|---:|---:|---:|")
    // `forward=resnet50` (or `forward-profile=vgg16`) runs one network only.
    if let once = rowFilters.first(where: { $0.hasPrefix("forward-once=") }) {
        return try runSingleForward(String(once.dropFirst("forward-once=".count)))
    }
    let only = rowFilters.compactMap { $0.split(separator: "=").dropFirst().first.map(String.init) }.first
    for name in ["vgg16", "resnet50"] where only == nil || only == name {
        guard let architecture = Architecture.named(name) else { continue }
        let network = try Network(architecture: architecture, weights: RandomWeights(seed: 1))
        for batch in [1, 8] {
            let input = benchTensor([batch, 3, 224, 224], seed: 2)
            let runs = batch == 1 ? 11 : 5
            let times = timedRuns(runs) { _ = network.forward(input) }
            print("| \(name) | \(batch) | \(formatted(median(times) * 1e3, digits: 1)) | \(formatted(times.min()! * 1e3, digits: 1)) | \(runs) |")
        }
        if profile { profileModules(network, name: name) }
    }
}

/// Builds one network (seeded random weights) and runs a single 224×224 forward pass, nothing else:
/// for measuring peak memory, e.g. `/usr/bin/time -v liftcam-bench forward-once=vgg16`.
func runSingleForward(_ name: String) throws {
    guard let architecture = Architecture.named(name) else { return print("unknown architecture \(name)") }
    let network = try Network(architecture: architecture, weights: RandomWeights(seed: 1))
    let logits = network.forward(benchTensor([1, 3, 224, 224], seed: 2))
    print("\(name): one forward, logits \(logits.shape)")
}

/// Each layer of the network as `forward` runs it (batch-norms folded, ReLUs merged into the
/// convolutions), timed inside whole forward passes on one 224×224 input, as a real pass meets it
/// (its weights read from memory, not left in the cache by a previous run of the same layer): the
/// median over 7 passes per layer, residual blocks opened up into their convolutions (the residual
/// add with its ReLU is the block's own row), each convolution's rate in GFLOP/s (2 per
/// multiply-add of the direct convolution, whatever the kernel: a Winograd layer's rate is its
/// equivalent), then the same summed by kind of layer.
func profileModules(_ network: Network, name: String) {
    let layers = Sequential(name: name, layers: network.modules).fused().mergingReLUs().layers
    let input = benchTensor([1, 3, 224, 224], seed: 2)
    struct Row { let label, shapes, kind: String; let flops: Double; var seconds: [Double] }
    var rows: [Row] = []
    for pass in 0 ..< 8 {
        var index = 0
        func timed(_ label: String, kind: String, flops: Double = 0, _ run: () -> Tensor, shapes: (Tensor) -> String) -> Tensor {
            let start = monotonicSeconds()
            let output = run()
            let seconds = monotonicSeconds() - start
            if rows.count == index { rows.append(Row(label: label, shapes: shapes(output), kind: kind, flops: flops, seconds: [])) }
            if pass > 0 { rows[index].seconds.append(seconds) }   // the first pass makes the layers' caches
            index += 1
            return output
        }
        func leaf(_ layer: any Layer, _ x: Tensor, label: String) -> Tensor {
            let convolution = (layer as? Conv2dLayer) ?? (layer as? ConvolutionReLU)?.convolution
            var kind = "other: " + String(describing: type(of: layer)), flops = 0.0
            if let g = convolution?.geometry, x.shape.count == 4 {
                let out = g.outputSize(height: x.shape[2], width: x.shape[3])
                flops = 2.0 * Double(g.outChannels * out.height * out.width * g.inChannelsPerGroup * g.kernelHeight * g.kernelWidth)
                let winograd = winogradFiltering(shape: g, batch: x.shape[0], height: x.shape[2], width: x.shape[3])
                kind = "\(g.kernelHeight)×\(g.kernelWidth) stride \(g.strideHeight), "
                    + (winograd.map { "Winograd F(\($0.outputSide)×\($0.outputSide))" } ?? "GEMM")
                    + " on \(out.height)×\(out.width)"
            }
            return timed(label, kind: kind, flops: flops, { layer.forward(x) }, shapes: { "\(x.shape) → \($0.shape)" })
        }
        var x = input
        for layer in layers {
            guard let block = layer as? ResidualBlock else {
                x = leaf(layer, x, label: layer.name)
                continue
            }
            var branch = x
            for inner in block.branch.layers { branch = leaf(inner, branch, label: inner.name) }
            let shortcut = block.downsample.map { downsample in
                leaf(downsample.layers.count == 1 ? downsample.layers[0] : downsample, x,
                     label: downsample.layers.first?.name ?? downsample.name)
            } ?? x
            x = timed("\(block.name) add + relu", kind: "other: residual add + ReLU", {
                addReLU(into: &branch, shortcut)   // as the block does: over the branch's output, held by `branch` alone
                return branch
            }, shapes: { "\($0.shape)" })
        }
    }
    print("\n| layer | input → output | ms | GFLOP/s |\n|---|---|---:|---:|")
    var total = 0.0, convolutionSeconds = 0.0, convolutionFlops = 0.0
    var byKind: [String: (seconds: Double, flops: Double)] = [:]
    for row in rows {
        let seconds = median(row.seconds)
        total += seconds
        if row.flops > 0 {
            convolutionSeconds += seconds
            convolutionFlops += row.flops
        }
        byKind[row.kind, default: (0, 0)].seconds += seconds
        byKind[row.kind, default: (0, 0)].flops += row.flops
        let rate = row.flops > 0 ? formatted(row.flops / seconds / 1e9, digits: 1) : ""
        print("| \(row.label) | \(row.shapes) | \(formatted(seconds * 1e3, digits: 2)) | \(rate) |")
    }
    print("| sum of layers | | \(formatted(total * 1e3, digits: 1)) | |")
    print("| of which convolutions | | \(formatted(convolutionSeconds * 1e3, digits: 1)) | \(formatted(convolutionFlops / convolutionSeconds / 1e9, digits: 1)) |")
    print("\n| kind of layer | ms | share | GFLOP/s |\n|---|---:|---:|---:|")
    for (kind, time) in byKind.sorted(by: { $0.value.seconds > $1.value.seconds }) {
        let rate = time.flops > 0 ? formatted(time.flops / time.seconds / 1e9, digits: 1) : ""
        print("| \(kind) | \(formatted(time.seconds * 1e3, digits: 2)) | \(formatted(100 * time.seconds / total, digits: 1)) % | \(rate) |")
    }
}


/// `forward-profile=model.onnx`: each step of the model's fused graph on one input of its size,
/// median of 5 runs per step, summed by kind of operation (convolutions by kernel and groups), with
/// the ten slowest steps.
func profileGraph(path: String) throws {
    let model = try GraphModel(onnxPath: path)
    let graph = model.graph.fused(mergingReLUs: true)
    var values = [Tensor?](repeating: nil, count: graph.slotNames.count)
    values[graph.inputSlot] = benchTensor([1] + model.inputShape, seed: 2)
    var byKind: [String: Double] = [:], steps: [(String, Double)] = []
    for step in graph.steps {
        let inputs = step.inputs.map { values[$0]! }
        var outputs: [Tensor] = []
        let seconds = median(timedRuns(5) { outputs = step.operation.forward(inputs) })
        for (slot, value) in zip(step.outputs, outputs) { values[slot] = value }
        var kind = String(describing: type(of: step.operation))
        if let layer = (step.operation as? LayerOperation)?.layer {
            kind = String(describing: type(of: layer))
            let convolution = (layer as? Conv2dLayer) ?? (layer as? ConvolutionReLU)?.convolution
            if let g = convolution?.geometry {
                kind = "Conv \(g.kernelHeight)x\(g.kernelWidth)/\(g.strideHeight)" + (g.groups == 1 ? "" : g.groups == g.inChannels ? " depthwise" : " grouped")
            } else if let elementwise = layer as? ElementwiseLayer {
                kind = elementwise.function.operatorName
            }
        }
        byKind[kind, default: 0] += seconds
        steps.append(("\(step.operation.name) \(inputs[0].shape)", seconds))
    }
    let total = byKind.values.reduce(0, +)
    print("\n| \(path): operation | ms | share |\n|---|---:|---:|")
    for (kind, seconds) in byKind.sorted(by: { $0.value > $1.value }) {
        print("| \(kind) | \(formatted(seconds * 1e3, digits: 2)) | \(formatted(100 * seconds / total, digits: 1)) % |")
    }
    print("| sum of steps | \(formatted(total * 1e3, digits: 2)) | |\n\n| slowest steps | ms |\n|---|---:|")
    for (name, seconds) in steps.sorted(by: { $0.1 > $1.1 }).prefix(10) { print("| \(name) | \(formatted(seconds * 1e3, digits: 2)) |") }
}
