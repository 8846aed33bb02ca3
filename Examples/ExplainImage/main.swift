// LiftCAM as a program uses it: load a network from an architecture file and a weight directory,
// explain one picture with LIFT-CAM, print α, and write the saliency over the picture as a PNG.
//
//   swift run -c release explain-image [model folder] [picture.png] [output.png]
//
// Defaults: the fixture network Fixtures/models/vgg_digits (trained by Fixtures/generate.py), the
// digit Fixtures/data/digits/0000.png and explain-image.png, from the repository's root.
// The lines between the README markers are README.md's "As a library" snippet, word for word
// (ExampleProgramTests checks that they stay equal).
import Foundation   // standard error and exit status only
import LiftCAM
import LiftCAMImaging

/// The picture at `path` resized to the network's input `[3, H, W]`, and x made from it as the
/// fixture networks were trained: pixels / 255, then ImageNet's mean and standard deviation per
/// channel (Fixtures/generate.py; the `liftcam` tool's default).
func networkInput(_ path: String, shape: [Int]) throws -> (x: Tensor, picture: Image) {
    let (height, width) = (shape[1], shape[2])
    var picture = try PNG.decode(try readFileBytes(path)).rgb()
    if picture.width != width || picture.height != height { picture = try picture.resized(width: width, height: height) }
    let mean: [Float] = [0.485, 0.456, 0.406], std: [Float] = [0.229, 0.224, 0.225]
    let plane = width * height
    var x = Tensor(shape: [3, height, width])
    for p in 0 ..< plane {
        for c in 0 ..< 3 { x.storage[c * plane + p] = (Float(picture.pixels[p * 3 + c]) / 255 - mean[c]) / std[c] }
    }
    return (x, picture)
}

func explainImage(model: String, picturePath: String, outputPath: String) throws {
    // BEGIN README "As a library"
    let architecture = try Architecture.load(path: model + "/arch.json")     // or .named("resnet50")!
    let network = try Network(architecture: architecture, weights: try WeightDirectory(path: model + "/weights"))
    let (x, picture) = try networkInput(picturePath, shape: architecture.inputShape)   // x: Tensor [3, 64, 64]
    let explainer = try Explainer(network: network, input: x)
    let lift = try explainer.explain(.lift, target: explainer.predictedClass)
    // lift.coefficients (α), lift.map (Eq 1, [h, w]), lift.saliency (s(u(L)), [64, 64])
    // END README

    let target = explainer.predictedClass
    let name = architecture.classNames?[target] ?? "\(target)"
    print("class \(target) (\(name)), logit \(explainer.logits[target])")
    print("maps \(explainer.activations.shape[0]) of \(explainer.activations.shape[1])×\(explainer.activations.shape[2]) at \(explainer.network.layer)")
    // Swift prints each Float in the fewest digits that read back as the same Float.
    print("alpha " + lift.coefficients.map { "\($0)" }.joined(separator: " "))
    // Eq 8: the coefficients add up to F^c(A) − F^c(0), the change from the all-absent maps.
    print("sum of alpha \(lift.coefficients.reduce(0, +))")

    let colored = try overlay(lift.saliency.storage, on: picture, colormap: .jet)
    try writeFileAtomically(outputPath, bytes: PNG.encode(colored))
    print("wrote \(outputPath)")
}

let arguments = Array(CommandLine.arguments.dropFirst())
do {
    try explainImage(model: arguments.count > 0 ? arguments[0] : "Fixtures/models/vgg_digits",
                     picturePath: arguments.count > 1 ? arguments[1] : "Fixtures/data/digits/0000.png",
                     outputPath: arguments.count > 2 ? arguments[2] : "explain-image.png")
} catch {
    FileHandle.standardError.write(Data("explain-image: \(error)\n".utf8))
    exit(1)
}
