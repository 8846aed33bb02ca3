// The geometry of a 2-D convolution (PyTorch nn.Conv2d, ONNX Conv) and the size checks its kernels share.

/// The hyper-parameters of one convolution layer.
///
/// The weight is `[outChannels, inChannels / groups, kernelHeight, kernelWidth]` (PyTorch, ONNX): the
/// channels split into `groups` equal groups, output channel o reading only the input channels of its
/// group g = o / (outChannels / groups). `groups == inChannels` is a depthwise convolution.
/// Padding may differ per side (ONNX `pads`); `paddingHeight` and `paddingWidth` are the top and left.
public struct Conv2dShape: Equatable, Sendable, CustomStringConvertible {
    /// Channels in and out, and the kernel's size.
    public var inChannels, outChannels, kernelHeight, kernelWidth: Int
    /// Step of the kernel, and zero padding at the top and left (PyTorch's `stride`, `padding`).
    public var strideHeight, strideWidth, paddingHeight, paddingWidth: Int
    /// Zero padding at the bottom and right: PyTorch pads both sides alike, ONNX may not.
    public var paddingBottom, paddingRight: Int
    /// Spacing of the kernel's taps (PyTorch's `dilation`): kernel row u reads input row i·s − p + u·d.
    public var dilationHeight, dilationWidth: Int
    /// Channel groups (PyTorch's `groups`): both channel counts are multiples of it.
    public var groups: Int

    /// A convolution geometry; stride 1, dilation 1, one group and no padding unless given. The bottom
    /// and right padding default to the top and left (`paddingHeight`, `paddingWidth`), as in PyTorch.
    public init(inChannels: Int, outChannels: Int, kernelHeight: Int, kernelWidth: Int,
                strideHeight: Int = 1, strideWidth: Int = 1, paddingHeight: Int = 0, paddingWidth: Int = 0,
                paddingBottom: Int? = nil, paddingRight: Int? = nil,
                dilationHeight: Int = 1, dilationWidth: Int = 1, groups: Int = 1) {
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernelHeight = kernelHeight
        self.kernelWidth = kernelWidth
        self.strideHeight = strideHeight
        self.strideWidth = strideWidth
        self.paddingHeight = paddingHeight
        self.paddingWidth = paddingWidth
        self.paddingBottom = paddingBottom ?? paddingHeight
        self.paddingRight = paddingRight ?? paddingWidth
        self.dilationHeight = dilationHeight
        self.dilationWidth = dilationWidth
        self.groups = groups
    }

    /// floor((H + p_top + p_bottom − d·(k − 1) − 1) / s) + 1 per direction, as PyTorch and ONNX. Not
    /// positive when the padded input is smaller than the dilated kernel.
    public func outputSize(height: Int, width: Int) -> (height: Int, width: Int) {
        (floorDivide(height + paddingHeight + paddingBottom - dilationHeight * (kernelHeight - 1) - 1, strideHeight) + 1,
         floorDivide(width + paddingWidth + paddingRight - dilationWidth * (kernelWidth - 1) - 1, strideWidth) + 1)
    }

    /// The weight's shape, `[O, C / groups, kh, kw]`.
    public var weightShape: [Int] { [outChannels, inChannels / max(1, groups), kernelHeight, kernelWidth] }

    /// Input channels each output channel reads: C / groups.
    public var inChannelsPerGroup: Int { inChannels / groups }
    /// Output channels of one group: O / groups.
    public var outChannelsPerGroup: Int { outChannels / groups }

    /// One group, dilation 1, the same padding on both sides: the convolution the Winograd and plain
    /// im2col + GEMM paths were written for (and the only one before groups existed).
    public var isPlain: Bool {
        groups == 1 && dilationHeight == 1 && dilationWidth == 1
            && paddingBottom == paddingHeight && paddingRight == paddingWidth
    }

    /// One group per input channel (`groups == inChannels`, more than one): each output channel is one
    /// input plane filtered by its own kernel, which `conv2dDepthwise` computes directly.
    public var isDepthwise: Bool { groups > 1 && groups == inChannels }

    /// The first problem that makes this geometry invalid, or nil: channels and kernel positive and
    /// divisible by `groups`, strides and dilations positive, paddings not negative.
    public var problem: String? {
        if inChannels < 1 || outChannels < 1 || kernelHeight < 1 || kernelWidth < 1 {
            return "channels and kernel sizes must be positive"
        }
        if groups < 1 || inChannels % groups != 0 || outChannels % groups != 0 {
            return "\(groups) groups do not divide \(inChannels) input and \(outChannels) output channels"
        }
        if strideHeight < 1 || strideWidth < 1 { return "strides must be positive" }
        if dilationHeight < 1 || dilationWidth < 1 { return "dilations must be positive" }
        if paddingHeight < 0 || paddingWidth < 0 || paddingBottom < 0 || paddingRight < 0 {
            return "paddings must not be negative"
        }
        return nil
    }

    /// Throws when the geometry is invalid (`problem`): what a layer builder calls before building.
    public func check() throws(LiftCAMError) {
        if let problem { throw LiftCAMError("convolution \(description): \(problem)") }
    }

    /// "C→O kh×kw", then whatever differs from the defaults (stride, padding, dilation, groups).
    public var description: String {
        var text = "\(inChannels)→\(outChannels) \(kernelHeight)×\(kernelWidth)"
        if strideHeight != 1 || strideWidth != 1 { text += " stride \(strideHeight)×\(strideWidth)" }
        if paddingHeight != 0 || paddingWidth != 0 || paddingBottom != 0 || paddingRight != 0 {
            text += " padding \(paddingHeight),\(paddingWidth),\(paddingBottom),\(paddingRight)"
        }
        if dilationHeight != 1 || dilationWidth != 1 { text += " dilation \(dilationHeight)×\(dilationWidth)" }
        if groups != 1 { text += " groups \(groups)" }
        return text
    }

    /// Rows of the unfolded input (im2col) of one group: one per (input channel, kernel row, kernel column).
    var unfoldedRows: Int { inChannelsPerGroup * kernelHeight * kernelWidth }

    /// A 1×1, stride-1, unpadded convolution is a plain GEMM on the input planes: no unfolding.
    var isPointwise: Bool {
        kernelHeight == 1 && kernelWidth == 1 && strideHeight == 1 && strideWidth == 1
            && paddingHeight == 0 && paddingWidth == 0 && paddingBottom == 0 && paddingRight == 0
    }
}

/// The sizes every convolution kernel checks: a valid geometry, input `[N, C, H, W]` and weight
/// `[O, C / groups, kh, kw]` matching `shape`, a positive output. Returns (N, H, W, oh, ow).
func checkConvolution(inputShape: [Int], weight: Tensor, shape: Conv2dShape)
    -> (batch: Int, height: Int, width: Int, outputHeight: Int, outputWidth: Int) {
    if let problem = shape.problem { preconditionFailure("conv2d: \(shape): \(problem)") }
    precondition(inputShape.count == 4 && inputShape[1] == shape.inChannels,
                 "conv2d: input \(inputShape) does not match \(shape)")
    precondition(weight.shape == shape.weightShape, "conv2d: weight \(weight.shape) does not match \(shape)")
    let (outputHeight, outputWidth) = shape.outputSize(height: inputShape[2], width: inputShape[3])
    precondition(outputHeight >= 1 && outputWidth >= 1, "conv2d: input \(inputShape) smaller than the kernel")
    return (inputShape[0], inputShape[2], inputShape[3], outputHeight, outputWidth)
}

/// Sizes for the backward pass: gradOutput `[N, O, oh, ow]` with (oh, ow) the output of an
/// `inputHeight × inputWidth` input. Returns (N, oh, ow).
func checkConvolutionBackward(_ gradOutputShape: [Int], weight: Tensor, shape: Conv2dShape,
                              inputHeight: Int, inputWidth: Int) -> (batch: Int, outputHeight: Int, outputWidth: Int) {
    let sizes = checkConvolution(inputShape: [gradOutputShape.first ?? 0, shape.inChannels, inputHeight, inputWidth],
                                 weight: weight, shape: shape)
    precondition(gradOutputShape == [sizes.batch, shape.outChannels, sizes.outputHeight, sizes.outputWidth],
                 "conv2dBackwardInput: gradOutput \(gradOutputShape) does not match \(shape) on \(inputHeight)×\(inputWidth)")
    return (sizes.batch, sizes.outputHeight, sizes.outputWidth)
}
