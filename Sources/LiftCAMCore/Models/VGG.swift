/// torchvision's VGG: `features` (3×3 convolutions with padding 1 [+ batch-norm] + ReLU, and 2×2
/// max-pools), `avgpool` (AdaptiveAvgPool2d), then `classifier` (Linear, ReLU, Dropout per hidden
/// width, and a last Linear). Dropout is the identity in evaluation mode.
func buildVGG(_ c: VGGConfiguration, _ loader: inout WeightLoader) throws(LiftCAMError) -> [any Layer] {
    var layers: [any Layer] = []
    var channels = c.inputShape[0]
    for item in c.config {
        let name = "features.\(layers.count)"
        switch item {
        case .maxPool:
            layers.append(MaxPool2dLayer(name: name, geometry: Pool2dShape(kernelHeight: 2, kernelWidth: 2,
                                                                            strideHeight: 2, strideWidth: 2)))
        case .convolution(let width):
            layers.append(try loader.convolution(name, in: channels, out: width, kernel: 3, padding: 1, bias: true))
            if c.batchNorm {
                layers.append(try loader.batchNorm("features.\(layers.count)", channels: width))
            }
            layers.append(ReLULayer(name: "features.\(layers.count)"))
            channels = width
        }
    }
    layers.append(AdaptiveAvgPool2dLayer(name: "avgpool", outputHeight: c.pool.height, outputWidth: c.pool.width))
    layers.append(FlattenLayer(name: "flatten"))
    var features = channels * c.pool.height * c.pool.width
    var index = 0
    for width in c.classifier {
        let name = "classifier.\(index)"
        layers.append(LinearLayer(name: name, weight: try loader.tensor(name + ".weight", [width, features]),
                                  bias: try loader.tensor(name + ".bias", [width])))
        layers.append(ReLULayer(name: "classifier.\(index + 1)"))
        layers.append(IdentityLayer(name: "classifier.\(index + 2)"))
        index += 3
        features = width
    }
    let name = "classifier.\(index)"
    layers.append(LinearLayer(name: name, weight: try loader.tensor(name + ".weight", [c.classes, features]),
                              bias: try loader.tensor(name + ".bias", [c.classes])))
    return layers
}
