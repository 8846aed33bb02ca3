/// A member of the VGG or ResNet family, as torchvision builds it, named so that the PyTorch
/// state-dict keys of the model are the keys this project reads weights by.
public enum Architecture: Equatable, Sendable {
    /// torchvision's VGG: convolutions and max-pools, adaptive average pooling, a fully connected
    /// classifier.
    case vgg(VGGConfiguration)
    /// torchvision's ResNet: a stem, four stages of residual blocks, global average pooling, one Linear
    /// layer.
    case resnet(ResNetConfiguration)
    /// Any CNN read from an ONNX file: a graph of operations that carries its own weights.
    case graph(GraphModel)

    /// The network input `[C, H, W]` the architecture was made for (224×224 RGB for torchvision's).
    public var inputShape: [Int] {
        switch self {
        case .vgg(let c): return c.inputShape
        case .resnet(let c): return c.inputShape
        case .graph(let g): return g.inputShape
        }
    }

    /// Names of the classes, when known (index → name).
    public var classNames: [String]? {
        switch self {
        case .vgg(let c): return c.classNames
        case .resnet(let c): return c.classNames
        case .graph(let g): return g.classNames
        }
    }

    /// How many logits the network produces.
    public var classCount: Int {
        switch self {
        case .vgg(let c): return c.classes
        case .resnet(let c): return c.classes
        case .graph(let g): return g.classCount
        }
    }
}

/// One entry of a VGG `config`: a 3×3 convolution (padding 1) with that many output channels,
/// followed by [batch-norm and] ReLU; or "M", a 2×2 max-pool with stride 2.
public enum VGGItem: Equatable, Sendable {
    /// A 3×3 convolution, padding 1, with this many output channels, then [batch-norm and] ReLU.
    case convolution(Int)
    /// A 2×2 max-pool with stride 2 ("M" in torchvision's configurations).
    case maxPool
}

/// torchvision.models.VGG: `features` from `config`, `avgpool` = AdaptiveAvgPool2d(pool),
/// `classifier` = Linear, ReLU, Dropout for each hidden width, then Linear to the classes.
public struct VGGConfiguration: Equatable, Sendable {
    /// The `features` layers, in order (torchvision's `cfgs`).
    public var config: [VGGItem]
    /// Whether each convolution is followed by batch normalisation (the `_bn` variants).
    public var batchNorm: Bool
    /// The output size of `avgpool`, the AdaptiveAvgPool2d before the classifier (7×7 in torchvision).
    public var pool: (height: Int, width: Int)
    /// Widths of the classifier's hidden Linear layers (4096, 4096 in torchvision).
    public var classifier: [Int]
    /// Number of classes: the width of the last Linear layer.
    public var classes: Int
    /// The input `[C, H, W]` the network is made for.
    public var inputShape: [Int]
    /// Names of the classes, index → name, when known.
    public var classNames: [String]?

    /// A VGG; the defaults are torchvision's ImageNet classifier.
    public init(config: [VGGItem], batchNorm: Bool, pool: (height: Int, width: Int) = (7, 7),
                classifier: [Int] = [4096, 4096], classes: Int = 1000,
                inputShape: [Int] = [3, 224, 224], classNames: [String]? = nil) {
        self.config = config
        self.batchNorm = batchNorm
        self.pool = pool
        self.classifier = classifier
        self.classes = classes
        self.inputShape = inputShape
        self.classNames = classNames
    }

    /// Field by field (a tuple member keeps the conformance from being synthesised).
    public static func == (a: VGGConfiguration, b: VGGConfiguration) -> Bool {
        a.config == b.config && a.batchNorm == b.batchNorm && a.pool == b.pool
            && a.classifier == b.classifier && a.classes == b.classes
            && a.inputShape == b.inputShape && a.classNames == b.classNames
    }

    /// The module path of the last ReLU in `features`: the default target layer (features.29 in
    /// vgg16), whose maps are the last convolutional responses before the final max-pool.
    public var lastFeatureReLU: String {
        var index = 0
        var last = 0
        for item in config {
            switch item {
            case .maxPool: index += 1
            case .convolution:
                index += batchNorm ? 3 : 2
                last = index - 1
            }
        }
        return "features.\(last)"
    }
}

/// torchvision.models.ResNet with `BasicBlock` or `Bottleneck` blocks, stage widths
/// `width·[1, 2, 4, 8]` (torchvision: 64) and `layers[i]` blocks in stage i+1.
public struct ResNetConfiguration: Equatable, Sendable {
    /// The residual block of a stage: two 3×3 convolutions (ResNet-18/34) or the 1×1–3×3–1×1 bottleneck
    /// (ResNet-50 and deeper).
    public enum Block: String, Equatable, Sendable {
        /// Two 3×3 convolutions (torchvision's `BasicBlock`).
        case basic
        /// 1×1, 3×3, 1×1 convolutions with 4× expansion (torchvision's `Bottleneck`).
        case bottleneck

        /// Output channels of a block relative to its planes (torchvision's `expansion`).
        public var expansion: Int { self == .basic ? 1 : 4 }
    }

    /// The kind of residual block every stage uses.
    public var block: Block
    /// Blocks per stage (e.g. [3, 4, 6, 3] for ResNet-50).
    public var layers: [Int]
    /// Channels of the stem and of the first stage's blocks (64 in torchvision); each later stage doubles
    /// it.
    public var width: Int
    /// Number of classes: the width of the final Linear layer.
    public var classes: Int
    /// The input `[C, H, W]` the network is made for.
    public var inputShape: [Int]
    /// Names of the classes, index → name, when known.
    public var classNames: [String]?

    /// A ResNet; the defaults are torchvision's ImageNet classifier.
    public init(block: Block, layers: [Int], width: Int = 64, classes: Int = 1000,
                inputShape: [Int] = [3, 224, 224], classNames: [String]? = nil) {
        self.block = block
        self.layers = layers
        self.width = width
        self.classes = classes
        self.inputShape = inputShape
        self.classNames = classNames
    }
}

extension Architecture {
    /// The torchvision architectures by name: vgg11/13/16/19 with optional "_bn", resnet18/34/50/101/152.
    public static func named(_ name: String) -> Architecture? {
        let m = VGGItem.maxPool
        func c(_ n: Int...) -> [VGGItem] { n.map { .convolution($0) } }
        let vggConfigs: [String: [VGGItem]] = [
            "vgg11": c(64) + [m] + c(128) + [m] + c(256, 256) + [m] + c(512, 512) + [m] + c(512, 512) + [m],
            "vgg13": c(64, 64) + [m] + c(128, 128) + [m] + c(256, 256) + [m] + c(512, 512) + [m] + c(512, 512) + [m],
            "vgg16": c(64, 64) + [m] + c(128, 128) + [m] + c(256, 256, 256) + [m] + c(512, 512, 512) + [m]
                + c(512, 512, 512) + [m],
            "vgg19": c(64, 64) + [m] + c(128, 128) + [m] + c(256, 256, 256, 256) + [m] + c(512, 512, 512, 512) + [m]
                + c(512, 512, 512, 512) + [m],
        ]
        let resnets: [String: (ResNetConfiguration.Block, [Int])] = [
            "resnet18": (.basic, [2, 2, 2, 2]), "resnet34": (.basic, [3, 4, 6, 3]),
            "resnet50": (.bottleneck, [3, 4, 6, 3]), "resnet101": (.bottleneck, [3, 4, 23, 3]),
            "resnet152": (.bottleneck, [3, 8, 36, 3]),
        ]
        let names = ImageNetClasses.names
        if let (block, layers) = resnets[name] {
            return .resnet(ResNetConfiguration(block: block, layers: layers, classNames: names))
        }
        let batchNorm = name.hasSuffix("_bn")
        let base = batchNorm ? String(name.dropLast(3)) : name
        if let config = vggConfigs[base] {
            return .vgg(VGGConfiguration(config: config, batchNorm: batchNorm, classNames: names))
        }
        return nil
    }

    /// Every name `named(_:)` knows.
    public static let knownNames = ["vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19",
                                    "vgg19_bn", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]

    /// The default target layer: the last ReLU of `features` for VGG, `layer4` for ResNet — the last
    /// convolutional responses, as the paper and the original CAM methods use.
    public var defaultLayer: String {
        switch self {
        case .vgg(let c): return c.lastFeatureReLU
        case .resnet: return "layer4"
        case .graph(let g): return g.defaultLayer
        }
    }
}
