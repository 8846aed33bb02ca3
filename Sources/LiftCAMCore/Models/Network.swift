/// Where a network's weights come from: anything that hands out a tensor by its state-dict key and
/// checks its shape. `WeightDirectory` reads them from .npy files; tests build them in memory.
public protocol WeightSource {
    /// The tensor stored under `key` ("features.0.weight"), checked to have `shape`; an error names
    /// the key, the expected and the found shape.
    func tensor(_ key: String, shape: [Int]) throws(LiftCAMError) -> Tensor
    /// Keys the source holds that are not in `requested`, sorted.
    func unusedKeys(requested: Set<String>) -> [String]
}

/// Weights held in memory, keyed by state-dict names.
public struct InMemoryWeights: WeightSource {
    /// The tensors by state-dict key ("features.0.weight").
    public var tensors: [String: Tensor]

    /// Weights from these tensors.
    public init(_ tensors: [String: Tensor]) { self.tensors = tensors }

    public func tensor(_ key: String, shape: [Int]) throws(LiftCAMError) -> Tensor {
        guard let tensor = tensors[key] else {
            throw LiftCAMError("missing tensor \(key) (expected shape \(shape))")
        }
        guard tensor.shape == shape else {
            throw LiftCAMError("\(key): expected shape \(shape), found \(tensor.shape)")
        }
        return tensor
    }

    public func unusedKeys(requested: Set<String>) -> [String] {
        tensors.keys.filter { !requested.contains($0) }.sorted()
    }
}

/// A whole CNN f: its top-level modules in order, with PyTorch's module paths as names.
///
/// VGG's are features.0 … features.30, avgpool, flatten, classifier.0 … classifier.6; ResNet's are
/// conv1, bn1, relu, maxpool, layer1.0 … layer4.2 (one residual block each), avgpool, flatten, fc.
public struct Network: Sendable {
    /// What the network was built from.
    public let architecture: Architecture
    /// The modules as PyTorch has them (batch-norm not yet folded), which is what splits refer to.
    public let modules: [any Layer]
    /// What every layer runs. Fast: batch-norm folded into the convolutions and ReLUs merged into
    /// them for forward passes (below). Literal: the modules as they are, on the naive kernels.
    public let kernels: KernelChoice
    /// The whole computation as the passes run it: with fast kernels, batch-norm folded into the
    /// convolutions; with literal ones, `modules` unchanged. Splits take their body and head from
    /// it, so folding (and any per-layer set-up a fused layer caches) happens once per network, not
    /// once per split.
    private let whole: Sequential
    /// For each module, the index in `whole.layers` of the layer that ends with it, or nil for a
    /// convolution whose batch-norm was folded into it (a cut there must fuse anew).
    private let layerEndingAt: [Int?]
    /// `whole` prepared for forward passes: with fast kernels each convolution applies its ReLU as
    /// it writes its output (`mergingReLUs`); with literal ones, `whole` itself.
    private let inferenceWhole: Sequential

    /// Builds the network and takes its weights from `weights`, reporting every missing or
    /// mis-shaped tensor by key and every tensor the architecture has no place for.
    public init(architecture: Architecture, weights: some WeightSource) throws(LiftCAMError) {
        var loader = WeightLoader { (key, shape) throws(LiftCAMError) -> Tensor in try weights.tensor(key, shape: shape) }
        let modules: [any Layer]
        switch architecture {
        case .vgg(let configuration): modules = try buildVGG(configuration, &loader)
        case .resnet(let configuration): modules = try buildResNet(configuration, &loader)
        case .graph(let model):
            throw LiftCAMError.file(model.path, "an ONNX model carries its weights: build it with Network(graph:)")
        }
        let unexpected = weights.unusedKeys(requested: loader.requested)
        guard unexpected.isEmpty else {
            let shown = unexpected.prefix(5).joined(separator: ", ")
            throw LiftCAMError("unexpected tensors for this architecture: \(shown)\(unexpected.count > 5 ? ", … (\(unexpected.count) in all)" : "")")
        }
        self.init(architecture: architecture, modules: modules, kernels: .fast)
    }

    /// The network of a model read from ONNX (`GraphModel(onnx:path:)`), weights included. Its one
    /// module is the whole graph; splits name ONNX tensors or nodes.
    public init(graph model: GraphModel) {
        self.init(architecture: .graph(model), modules: [model.graph], kernels: .fast)
    }

    private init(architecture: Architecture, modules: [any Layer], kernels: KernelChoice) {
        self.architecture = architecture
        self.modules = modules
        self.kernels = kernels
        if kernels == .literal {
            whole = Sequential(name: "", layers: modules)
            layerEndingAt = modules.indices.map { $0 }
        } else {
            (whole, layerEndingAt) = Sequential(name: "", layers: modules).fusedWithOrigins()
        }
        inferenceWhole = Self.forInference(whole, kernels: kernels)
    }

    /// The same network, with the same weights, running `kernels`: `.literal` gives the literal
    /// path of SPEC.md's "Literal mode" (no folding, no merging, naive kernels everywhere).
    public func using(_ kernels: KernelChoice) -> Network {
        kernels == self.kernels ? self
            : Network(architecture: architecture, modules: modules.map { $0.using(kernels) }, kernels: kernels)
    }

    /// The module paths in order, e.g. for listing valid split points.
    public var moduleNames: [String] { modules.map { $0.name } }

    /// Logits for a batch of inputs `[N, C, H, W]` → `[N, classes]`.
    public func forward(_ input: Tensor) -> Tensor { inferenceWhole.forward(input) }

    /// The most values one activation tensor of one input may hold (2^28 Floats, 1 GiB): past it a
    /// forward pass would exhaust memory, so such an input is refused up front.
    public static let maximumActivationElements = 1 << 28

    /// Checks that one input of shape `[C, H, W]` fits the network and returns the logits' shape;
    /// the error names the first module the input does not fit, or whose output would be too large.
    public func checkInput(shape: [Int]) throws(LiftCAMError) -> [Int] {
        var current = shape
        for module in modules {
            current = try module.outputShape(for: current)
            let (elements, overflow) = current.reduce((1, false)) { partial, size in
                let (product, over) = partial.0.multipliedReportingOverflow(by: size)
                return (product, partial.1 || over)
            }
            guard !overflow, elements <= Self.maximumActivationElements else {
                throw LiftCAMError("input \(shape) is too large: \(module.name) would output \(current) (more than \(Self.maximumActivationElements) values)")
            }
        }
        return current
    }

    /// Splits the network after the module `layer` into the body f^[l] (input → activation maps A)
    /// and the head F (A → logits). `layer` is a module path ("features.29", "layer4.1"), or a ResNet
    /// stage ("layer4"), meaning its last block.
    public func split(at layer: String) throws(LiftCAMError) -> SplitNetwork {
        if case .graph(let model) = architecture, let graph = modules.first as? GraphLayer {
            return try splitGraph(graph, model: model, at: layer)
        }
        let stageEnd = modules.lastIndex { $0.name.hasPrefix(layer + ".") && layer.hasPrefix("layer") }
        guard let index = modules.firstIndex(where: { $0.name == layer }) ?? stageEnd else {
            throw LiftCAMError("unknown layer '\(layer)'; this network's modules are \(describeNames())")
        }
        guard index < modules.count - 1 else {
            throw LiftCAMError("layer '\(layer)' is the network's output; choose a layer before the classifier")
        }
        if let cut = layerEndingAt[index] {
            let layers = whole.layers
            let body = Sequential(name: "body", layers: Array(layers[...cut]))
            return SplitNetwork(layer: layer, body: Self.forInference(body, kernels: kernels),
                                head: Sequential(name: "head", layers: Array(layers[(cut + 1)...])), kernels: kernels)
        }
        let body = Sequential(name: "body", layers: Array(modules[...index])).fused().mergingReLUs()
        let head = Sequential(name: "head", layers: Array(modules[(index + 1)...])).fused()
        return SplitNetwork(layer: layer, body: body, head: head, kernels: kernels)
    }

    /// Layers prepared for forward passes only: ReLUs merged into the convolutions, unless literal.
    private static func forInference(_ body: Sequential, kernels: KernelChoice) -> Sequential {
        kernels == .literal ? body : body.mergingReLUs()
    }

    private func describeNames() -> String {
        let names = moduleNames
        if names.count <= 12 { return names.joined(separator: ", ") }
        return names.prefix(6).joined(separator: ", ") + ", …, " + names.suffix(4).joined(separator: ", ")
    }
}

/// A network cut at a layer l: f = F ∘ f^[l] (Section 3.3). Every CAM method is a function of
/// (body, head, input, class).
public struct SplitNetwork: Sendable {
    /// The module path the network was cut after.
    public let layer: String
    /// f^[l]: input `[N, C, H, W]` → activation maps A `[N, K, h, w]`. The methods only run it
    /// forward, so each convolution applies the ReLU after it as it writes its output
    /// (`mergingReLUs`); the head keeps one layer per module, which the backward passes walk.
    public let body: Sequential
    /// F: activation maps `[N, K, h, w]` → logits `[N, classes]`.
    public let head: Sequential
    /// The kernels both run, which Score-CAM's and the metrics' other steps (resizing) follow.
    public let kernels: KernelChoice

    /// The activation maps' shape `[K, h, w]` for one input of shape `[C, H, W]`, or an error when
    /// the cut is not at a stack of maps (e.g. after `flatten`).
    public func activationShape(forInput inputShape: [Int]) throws(LiftCAMError) -> [Int] {
        let shape = try body.outputShape(for: inputShape)
        guard shape.count == 3 else {
            throw LiftCAMError("layer '\(layer)' gives a \(shape) output, not activation maps [K, h, w]; choose a convolutional layer")
        }
        return shape
    }
}

/// Hands out weights by key and remembers which keys were asked for.
struct WeightLoader {
    /// The source's `tensor(_:shape:)`.
    let source: (String, [Int]) throws(LiftCAMError) -> Tensor
    var requested: Set<String> = []

    mutating func tensor(_ key: String, _ shape: [Int]) throws(LiftCAMError) -> Tensor {
        requested.insert(key)
        return try source(key, shape)
    }

    /// Eval-mode batch-norm `name` over `channels` channels, as a per-channel affine layer.
    mutating func batchNorm(_ name: String, channels: Int) throws(LiftCAMError) -> ChannelAffineLayer {
        let affine = batchNormAffine(weight: try tensor(name + ".weight", [channels]),
                                     bias: try tensor(name + ".bias", [channels]),
                                     runningMean: try tensor(name + ".running_mean", [channels]),
                                     runningVariance: try tensor(name + ".running_var", [channels]),
                                     epsilon: 1e-5)
        return ChannelAffineLayer(name: name, scale: affine.scale, shift: affine.shift)
    }

    /// A square convolution `name` with PyTorch's weight layout.
    mutating func convolution(_ name: String, in inChannels: Int, out outChannels: Int, kernel: Int,
                              stride: Int = 1, padding: Int = 0, bias: Bool) throws(LiftCAMError) -> Conv2dLayer {
        let geometry = Conv2dShape(inChannels: inChannels, outChannels: outChannels,
                                   kernelHeight: kernel, kernelWidth: kernel, strideHeight: stride,
                                   strideWidth: stride, paddingHeight: padding, paddingWidth: padding)
        return Conv2dLayer(name: name, weight: try tensor(name + ".weight", [outChannels, inChannels, kernel, kernel]),
                           bias: bias ? try tensor(name + ".bias", [outChannels]) : nil, geometry: geometry)
    }
}
