/// torchvision's ResNet (v1.5: a bottleneck's stride sits on its 3×3 convolution): a 7×7/2 stem
/// convolution, batch-norm, ReLU and 3×3/2 max-pool, four stages of residual blocks with widths
/// `width·[1, 2, 4, 8]`, global average pooling and `fc`.
func buildResNet(_ c: ResNetConfiguration, _ loader: inout WeightLoader) throws(LiftCAMError) -> [any Layer] {
    var layers: [any Layer] = [
        try loader.convolution("conv1", in: c.inputShape[0], out: c.width, kernel: 7, stride: 2, padding: 3, bias: false),
        try loader.batchNorm("bn1", channels: c.width),
        ReLULayer(name: "relu"),
        MaxPool2dLayer(name: "maxpool", geometry: Pool2dShape(kernelHeight: 3, kernelWidth: 3, strideHeight: 2,
                                                               strideWidth: 2, paddingHeight: 1, paddingWidth: 1)),
    ]
    var inChannels = c.width
    for (stage, blocks) in c.layers.enumerated() {
        let planes = c.width << stage
        for b in 0..<blocks {
            let stride = (stage > 0 && b == 0) ? 2 : 1
            let name = "layer\(stage + 1).\(b)"
            layers.append(try residualBlock(name, c.block, in: inChannels, planes: planes, stride: stride, &loader))
            inChannels = planes * c.block.expansion
        }
    }
    layers.append(AdaptiveAvgPool2dLayer(name: "avgpool", outputHeight: 1, outputWidth: 1))
    layers.append(FlattenLayer(name: "flatten"))
    layers.append(LinearLayer(name: "fc", weight: try loader.tensor("fc.weight", [c.classes, inChannels]),
                              bias: try loader.tensor("fc.bias", [c.classes])))
    return layers
}

/// BasicBlock: conv3×3(stride)-bn-relu-conv3×3-bn; Bottleneck: conv1×1-bn-relu-conv3×3(stride)-bn-
/// relu-conv1×1(4×planes)-bn. The shortcut is downsample.0/1 (1×1 convolution with the stride, and
/// batch-norm) when the stride or the width changes, else the identity.
private func residualBlock(_ name: String, _ kind: ResNetConfiguration.Block, in inChannels: Int, planes: Int,
                           stride: Int, _ loader: inout WeightLoader) throws(LiftCAMError) -> ResidualBlock {
    var branch: [any Layer] = []
    switch kind {
    case .basic:
        branch = [
            try loader.convolution(name + ".conv1", in: inChannels, out: planes, kernel: 3, stride: stride, padding: 1, bias: false),
            try loader.batchNorm(name + ".bn1", channels: planes),
            ReLULayer(name: name + ".relu1"),
            try loader.convolution(name + ".conv2", in: planes, out: planes, kernel: 3, padding: 1, bias: false),
            try loader.batchNorm(name + ".bn2", channels: planes),
        ]
    case .bottleneck:
        branch = [
            try loader.convolution(name + ".conv1", in: inChannels, out: planes, kernel: 1, bias: false),
            try loader.batchNorm(name + ".bn1", channels: planes),
            ReLULayer(name: name + ".relu1"),
            try loader.convolution(name + ".conv2", in: planes, out: planes, kernel: 3, stride: stride, padding: 1, bias: false),
            try loader.batchNorm(name + ".bn2", channels: planes),
            ReLULayer(name: name + ".relu2"),
            try loader.convolution(name + ".conv3", in: planes, out: planes * 4, kernel: 1, bias: false),
            try loader.batchNorm(name + ".bn3", channels: planes * 4),
        ]
    }
    let outChannels = planes * kind.expansion
    var downsample: Sequential?
    if stride != 1 || inChannels != outChannels {
        downsample = Sequential(name: name + ".downsample", layers: [
            try loader.convolution(name + ".downsample.0", in: inChannels, out: outChannels, kernel: 1, stride: stride, bias: false),
            try loader.batchNorm(name + ".downsample.1", channels: outChannels),
        ])
    }
    return ResidualBlock(name: name, branch: Sequential(name: name, layers: branch), downsample: downsample)
}
