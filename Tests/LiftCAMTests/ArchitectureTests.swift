import Foundation
import LiftCAM
import XCTest

/// Architecture files, torchvision names and splits: what is accepted, and the one-line errors for
/// what is not.
final class ArchitectureTests: PlatformTestCase {
    func write(_ text: String) throws -> String {
        let path = NSTemporaryDirectory() + "arch-\(UUID().uuidString).json"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    func testTheIssuesExamplesParse() throws {
        let vgg = try Architecture.load(path: try write(#"{"family":"vgg","config":[16,"M",32,"M",64,64,"M"],"batch_norm":false,"pool":[7,7],"classifier":[4096,4096],"classes":1000}"#))
        XCTAssertEqual(vgg, .vgg(VGGConfiguration(config: [.convolution(16), .maxPool, .convolution(32), .maxPool,
                                                           .convolution(64), .convolution(64), .maxPool], batchNorm: false)))
        XCTAssertEqual(vgg.defaultLayer, "features.9")
        let resnet = try Architecture.load(path: try write(#"{"family":"resnet","block":"bottleneck","layers":[2,2,2,2],"classes":1000}"#))
        XCTAssertEqual(resnet, .resnet(ResNetConfiguration(block: .bottleneck, layers: [2, 2, 2, 2])))
        XCTAssertEqual(try Architecture.parse(try JSONValue.parse(vgg.json.serialized())), vgg)     // round trip
        XCTAssertEqual(Architecture.named("vgg16")?.defaultLayer, "features.29")
        XCTAssertEqual(Architecture.named("vgg16_bn")?.defaultLayer, "features.42")
        XCTAssertEqual(Architecture.named("resnet50")?.defaultLayer, "layer4")
        XCTAssertEqual(Architecture.named("resnet50")?.classNames?[281], "tabby")
    }

    func testBadArchitectureFilesNameTheFileAndTheProblem() throws {
        let cases: [(String, String)] = [
            (#"{"family":"vgg","config":[16,"M"],"colour":"red"}"#, "unknown key 'colour'"),
            (#"{"family":"vgg","config":[16,"X"]}"#, "config[1] must be a positive channel count or \"M\""),
            (#"{"family":"vgg","config":["M"]}"#, "config must contain at least one convolution"),
            (#"{"family":"vgg","config":[16],"pool":[7]}"#, "'pool' must have 2 entries, got 1"),
            (#"{"family":"vgg","config":[16],"classes":0}"#, "'classes' must be a positive integer"),
            (#"{"family":"vgg","config":[16],"batch_norm":"yes"}"#, "'batch_norm' must be true or false"),
            (#"{"family":"resnet","block":"huge","layers":[1,1,1,1]}"#, "block must be \"basic\" or \"bottleneck\""),
            (#"{"family":"resnet","block":"basic","layers":[1,1,1]}"#, "'layers' must have 4 entries, got 3"),
            (#"{"family":"resnet","block":"basic"}"#, "missing key 'layers'"),
            (#"{"family":"alexnet"}"#, "family must be \"vgg\" or \"resnet\""),
            (#"{"family":"vgg","config":[16],"classes":3,"class_names":["a"]}"#, "class_names has 1 names for 3 classes"),
            (#"{"family":"vgg", "config": [16"#, "JSON: line 1"),
            (#"[1, 2]"#, "expected a JSON object"),
        ]
        for (text, expected) in cases {
            let path = try write(text)
            XCTAssertThrowsError(try Architecture.load(path: path), text) { error in
                let message = "\(error)"
                XCTAssertTrue(message.hasPrefix(path + ": "), "\(message) should start with the file")
                XCTAssertTrue(message.contains(expected), "\(message) should say \(expected)")
                XCTAssertFalse(message.contains("\n"), "one line: \(message)")
            }
        }
        XCTAssertThrowsError(try Architecture.resolve("vgg17")) { XCTAssertTrue("\($0)".contains("unknown architecture 'vgg17'")) }
        XCTAssertThrowsError(try Architecture.resolve("/nonexistent/arch.json")) { XCTAssertTrue("\($0)".contains("/nonexistent/arch.json")) }
    }

    func testWeightsAreCheckedByKeyAndShape() throws {
        let architecture = Architecture.vgg(VGGConfiguration(config: [.convolution(4)], batchNorm: false, pool: (1, 1),
                                                             classifier: [], classes: 3, inputShape: [3, 8, 8]))
        var tensors = try RandomWeights(seed: 1).stateDictionary(for: architecture)
        XCTAssertEqual(Set(tensors.keys), ["features.0.weight", "features.0.bias", "classifier.0.weight", "classifier.0.bias"])
        var extra = tensors
        extra["features.9.weight"] = Tensor(shape: [1])
        XCTAssertThrowsError(try Network(architecture: architecture, weights: InMemoryWeights(extra))) {
            XCTAssertTrue("\($0)".contains("unexpected tensors for this architecture: features.9.weight"), "\($0)")
        }
        tensors["features.0.weight"] = Tensor(shape: [4, 3, 5, 5])
        XCTAssertThrowsError(try Network(architecture: architecture, weights: InMemoryWeights(tensors))) {
            XCTAssertEqual("\($0)", "features.0.weight: expected shape [4, 3, 3, 3], found [4, 3, 5, 5]")
        }
        tensors["features.0.weight"] = nil
        XCTAssertThrowsError(try Network(architecture: architecture, weights: InMemoryWeights(tensors))) {
            XCTAssertEqual("\($0)", "missing tensor features.0.weight (expected shape [4, 3, 3, 3])")
        }
    }

    func testSplitPointsAndInputChecks() throws {
        let network = try TestNetworks.resnet()
        XCTAssertEqual(try network.split(at: "layer4").activationShape(forInput: [3, 40, 36]), [16, 2, 2])
        XCTAssertEqual(try network.split(at: "layer2.1").activationShape(forInput: [3, 40, 36]), [4, 5, 5])
        XCTAssertEqual(try network.split(at: "maxpool").activationShape(forInput: [3, 40, 36]), [2, 10, 9])
        XCTAssertThrowsError(try network.split(at: "layer9")) { XCTAssertTrue("\($0)".contains("unknown layer 'layer9'")) }
        XCTAssertThrowsError(try network.split(at: "fc")) { XCTAssertTrue("\($0)".contains("is the network's output")) }
        XCTAssertThrowsError(try network.split(at: "flatten").activationShape(forInput: [3, 40, 36])) {
            XCTAssertTrue("\($0)".contains("not activation maps"))
        }
        XCTAssertThrowsError(try network.checkInput(shape: [1, 40, 36])) { XCTAssertTrue("\($0)".contains("conv1")) }
        // An input whose activations would not fit in memory is refused from the shapes alone.
        XCTAssertThrowsError(try TestNetworks.vgg().checkInput(shape: [3, 20000, 20000])) {
            XCTAssertEqual("\($0)", "input [3, 20000, 20000] is too large: features.0 would output [6, 20000, 20000] (more than 268435456 values)")
        }
        // A split between a convolution and its batch-norm keeps the batch-norm in the head.
        let vgg = try TestNetworks.vgg(batchNorm: true)
        XCTAssertThrowsError(try vgg.checkInput(shape: [3, 2, 2])) { XCTAssertTrue("\($0)".contains("features.10: input [12, 1, 1] is smaller than the 2x2 pooling window"), "\($0)") }
        let split = try vgg.split(at: "features.0")
        let x = TestNetworks.input([3, 26, 22], seed: 1)
        XCTAssertLessThan(relativeError(split.head.forward(split.body.forward(x.batched)).storage, vgg.forward(x.batched).storage), 1e-5)
    }
}
