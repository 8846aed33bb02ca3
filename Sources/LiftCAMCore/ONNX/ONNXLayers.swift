// The ONNX operators that carry weights or windows (Conv, MaxPool, AveragePool, Gemm, MatMul) as
// the layers VGG and ResNet already use, with ONNX's attributes read and checked.

extension GraphBuilder {
    /// The four pads (top, left, bottom, right) of a 2-D window operator: `pads` ([t, l, b, r]) or
    /// `auto_pad` (SAME_UPPER puts the odd pixel at the end, SAME_LOWER at the start).
    func windowPads(_ node: ONNXNode, inputSize: [Int], kernel: [Int], strides: [Int], dilations: [Int]) throws(LiftCAMError) -> [Int] {
        let autoPad = try node.string("auto_pad", default: "NOTSET")
        switch autoPad {
        case "NOTSET":
            let pads = try node.ints("pads", default: [0, 0, 0, 0])
            guard pads.count == 4, pads.allSatisfy({ $0 >= 0 && $0 <= 1 << 16 }) else { throw LiftCAMError("\(node.label): pads \(pads) are not 4 numbers in 0…65536") }
            return pads
        case "VALID":
            return [0, 0, 0, 0]
        case "SAME_UPPER", "SAME_LOWER":
            var pads = [0, 0, 0, 0]
            for d in 0..<2 {
                let output = (inputSize[d] + strides[d] - 1) / strides[d]
                let total = max(0, (output - 1) * strides[d] + (kernel[d] - 1) * dilations[d] + 1 - inputSize[d])
                let small = total / 2
                pads[d] = autoPad == "SAME_UPPER" ? small : total - small
                pads[d + 2] = total - pads[d]
            }
            return pads
        default:
            throw LiftCAMError("\(node.label): auto_pad '\(oneLine(autoPad))' is not an ONNX value")
        }
    }

    /// Two positive numbers from attribute `name` (default 1, 1).
    func pair(_ node: ONNXNode, _ name: String) throws(LiftCAMError) -> [Int] {
        let values = try node.ints(name, default: [1, 1])
        guard values.count == 2, values.allSatisfy({ $0 >= 1 && $0 <= 1 << 16 }) else {
            throw LiftCAMError("\(node.label): \(name) \(values) are not two positive numbers")
        }
        return values
    }

    /// ONNX Conv (2-D): input X `[N, C, H, W]`, weight W `[O, C/group, kh, kw]` and optional bias.
    func convolution(_ node: ONNXNode, name: String, inputShape: [Int], constants: [ONNXTensor?]) throws(LiftCAMError) -> Conv2dLayer {
        let weight = floatTensor(try constant(node, constants, 1, "weight"))
        guard inputShape.count == 4, weight.rank == 4 else {
            throw LiftCAMError("\(node.label): only 2-D convolutions of [N, C, H, W] are supported (input \(inputShape), weight \(weight.shape))")
        }
        let bias = node.inputs.count > 2 && !node.inputs[2].isEmpty ? floatTensor(try constant(node, constants, 2, "bias")) : nil
        let groups = try node.int("group", default: 1)
        let kernel = [weight.shape[2], weight.shape[3]]
        let strides = try pair(node, "strides"), dilations = try pair(node, "dilations")
        let stated = try node.ints("kernel_shape", default: kernel)
        guard stated == kernel else { throw LiftCAMError("\(node.label): kernel_shape \(stated) differs from the weight's \(kernel)") }
        let pads = try windowPads(node, inputSize: [inputShape[2], inputShape[3]], kernel: kernel, strides: strides, dilations: dilations)
        guard groups >= 1, inputShape[1] % groups == 0, weight.shape[0] % groups == 0, weight.shape[1] * groups == inputShape[1] else {
            throw LiftCAMError("\(node.label): weight \(weight.shape) with group \(groups) does not fit \(inputShape[1]) input channels")
        }
        if let bias, bias.count != weight.shape[0] {
            throw LiftCAMError("\(node.label): bias of \(bias.count) for \(weight.shape[0]) output channels")
        }
        let geometry = try convolutionGeometry(node, inChannels: inputShape[1], outChannels: weight.shape[0], kernel: kernel,
                                               strides: strides, pads: pads, dilations: dilations, groups: groups)
        return Conv2dLayer(name: name, weight: weight, bias: bias.map { $0.reshaped([$0.count]) }, geometry: geometry)
    }

    /// The `Conv2dShape` of a convolution (groups, dilation and per-side padding as ONNX states
    /// them), checked.
    func convolutionGeometry(_ node: ONNXNode, inChannels: Int, outChannels: Int, kernel: [Int], strides: [Int], pads: [Int],
                             dilations: [Int], groups: Int) throws(LiftCAMError) -> Conv2dShape {
        let geometry = Conv2dShape(inChannels: inChannels, outChannels: outChannels, kernelHeight: kernel[0], kernelWidth: kernel[1],
                                   strideHeight: strides[0], strideWidth: strides[1], paddingHeight: pads[0], paddingWidth: pads[1],
                                   paddingBottom: pads[2], paddingRight: pads[3], dilationHeight: dilations[0],
                                   dilationWidth: dilations[1], groups: groups)
        do throws(LiftCAMError) {
            try geometry.check()
        } catch {
            throw LiftCAMError("\(node.label): \(error.description)")
        }
        return geometry
    }

    /// ONNX MaxPool or AveragePool (2-D, dilation 1, symmetric padding).
    func pooling(_ node: ONNXNode, name: String, inputShape: [Int]) throws(LiftCAMError) -> any Layer {
        guard inputShape.count == 4 else { throw LiftCAMError("\(node.label): only 2-D pooling of [N, C, H, W] is supported") }
        let kernel = try node.ints("kernel_shape", default: [])
        guard kernel.count == 2, kernel.allSatisfy({ $0 >= 1 && $0 <= 1 << 16 }) else {
            throw LiftCAMError("\(node.label): kernel_shape \(kernel) is not two positive numbers")
        }
        let strides = try pair(node, "strides"), dilations = try pair(node, "dilations")
        let pads = try windowPads(node, inputSize: [inputShape[2], inputShape[3]], kernel: kernel, strides: strides, dilations: dilations)
        guard dilations == [1, 1], pads[0] == pads[2], pads[1] == pads[3] else {
            throw LiftCAMError("\(node.label): dilated or asymmetrically padded pooling is not supported")
        }
        // PyTorch's rule: a window never lies wholly in the padding.
        guard pads[0] <= kernel[0] / 2, pads[1] <= kernel[1] / 2 else {
            throw LiftCAMError("\(node.label): pads \(pads) exceed half the window \(kernel)")
        }
        let geometry = Pool2dShape(kernelHeight: kernel[0], kernelWidth: kernel[1], strideHeight: strides[0], strideWidth: strides[1],
                                   paddingHeight: pads[0], paddingWidth: pads[1], ceilMode: try node.int("ceil_mode", default: 0) != 0)
        if node.opType == "MaxPool" {
            guard node.outputs.count == 1 || node.outputs[1].isEmpty else {
                throw LiftCAMError("\(node.label): the Indices output is not supported")
            }
            return MaxPool2dLayer(name: name, geometry: geometry)
        }
        // The average pool divides by the window counting padding (PyTorch's default); ONNX's default
        // count_include_pad = 0 differs only where a window covers padding.
        let countsPadding = try node.int("count_include_pad", default: 0) != 0
        guard pads.allSatisfy({ $0 == 0 }) || countsPadding else {
            throw LiftCAMError("\(node.label): average pooling over padding with count_include_pad = 0 is not supported")
        }
        return AvgPool2dLayer(name: name, geometry: geometry)
    }

    /// ONNX Gemm (Y = α·A·B′ + β·C with B′ = B or Bᵀ) or MatMul by a constant matrix, on `[N, K]`, as
    /// a Linear layer with weight `[O, K]`.
    func fullyConnected(_ node: ONNXNode, name: String, inputShape: [Int], constants: [ONNXTensor?]) throws(LiftCAMError) -> LinearLayer {
        guard inputShape.count == 2 else {
            throw LiftCAMError("\(node.label): only [N, K] inputs are supported, got \(inputShape)")
        }
        let b = floatTensor(try constant(node, constants, 1, "weight"))
        guard b.rank == 2 else { throw LiftCAMError("\(node.label): weight of shape \(b.shape) is not a matrix") }
        var transposed = false, alpha: Float = 1, beta: Float = 1
        if node.opType == "Gemm" {
            guard try node.int("transA", default: 0) == 0 else { throw LiftCAMError("\(node.label): transA = 1 is not supported") }
            transposed = try node.int("transB", default: 0) != 0
            alpha = try node.float("alpha", default: 1)
            beta = try node.float("beta", default: 1)
        }
        // Linear wants [O, K]: B is [K, O] unless Gemm says it is transposed already.
        var weight = transposed ? b : permuted(b, by: [1, 0])
        guard weight.shape[1] == inputShape[1] else {
            throw LiftCAMError("\(node.label): weight \(b.shape) does not fit an input of \(inputShape[1]) features")
        }
        if alpha != 1 { weight.storage = weight.storage.map { $0 * alpha } }
        var bias: Tensor?
        if node.opType == "Gemm", node.inputs.count > 2, !node.inputs[2].isEmpty {
            let c = floatTensor(try constant(node, constants, 2, "bias"))
            let outputs = weight.shape[0]
            guard c.count == outputs || c.count == 1 else { throw LiftCAMError("\(node.label): bias of shape \(c.shape) for \(outputs) outputs") }
            bias = Tensor(shape: [outputs], storage: (0..<outputs).map { beta * c.storage[c.count == 1 ? 0 : $0] })
        }
        return LinearLayer(name: name, weight: weight, bias: bias)
    }
}
