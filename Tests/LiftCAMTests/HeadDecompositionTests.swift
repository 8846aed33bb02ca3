import LiftCAM
import XCTest

/// The head's per-map decomposition (HeadDecomposition) against the literal computations it
/// reorders: the blockwise kernel against its naive twin, F(A) against the head's forward pass, and
/// the fast LIFT-CAM coefficients against the literal DeepLIFT backward pass (Eq 7).
final class HeadDecompositionTests: PlatformTestCase {
    /// A random head of one of the shapes CAM heads have: per-map layers (max-pool 2×2, or 3×3
    /// stride 2 with padding 1 in ceil mode, whose windows overlap; a plain average pool; ReLU;
    /// dropout), an adaptive average pool, flatten, then one to three Linear layers with ReLUs
    /// (VGG-like, nonlinear; the first with or without bias) or one Linear layer (ResNet-like, linear).
    private func randomHead(_ random: inout KernelTestRandom, maps: Int, size: Int) -> Sequential {
        var layers: [any Layer] = []
        var shape = [maps, size, size]
        func append(_ layer: any Layer) {
            layers.append(layer)
            shape = try! layer.outputShape(for: shape)
        }
        switch random.int(0 ... 3) {
        case 0:
            append(MaxPool2dLayer(name: "pool", geometry: Pool2dShape(kernelHeight: 2, kernelWidth: 2, strideHeight: 2, strideWidth: 2)))
        case 1 where size >= 2:
            append(MaxPool2dLayer(name: "pool", geometry: Pool2dShape(kernelHeight: 3, kernelWidth: 3, strideHeight: 2, strideWidth: 2,
                                                                      paddingHeight: 1, paddingWidth: 1, ceilMode: true)))
        case 2:
            append(AvgPool2dLayer(name: "pool", geometry: Pool2dShape(kernelHeight: 2, kernelWidth: 2, strideHeight: 1, strideWidth: 1)))
        default:
            break
        }
        if random.bool() { append(ReLULayer(name: "relu0")) }
        let pooled = random.int(1 ... 3)
        append(AdaptiveAvgPool2dLayer(name: "avgpool", outputHeight: pooled, outputWidth: pooled))
        append(IdentityLayer(name: "dropout0"))
        append(FlattenLayer(name: "flatten"))
        var width = maps * pooled * pooled
        let hidden = random.int(0 ... 2)
        for index in 0 ..< hidden {
            let outputs = random.int(3 ... 40)
            let bias = index > 0 || random.bool() ? random.tensor([outputs]) : nil
            layers.append(LinearLayer(name: "fc\(index)", weight: random.tensor([outputs, width]), bias: bias))
            layers.append(ReLULayer(name: "relu\(index + 1)"))
            layers.append(IdentityLayer(name: "dropout\(index + 1)"))
            width = outputs
        }
        layers.append(LinearLayer(name: "classifier", weight: random.tensor([7, width]), bias: random.bool() ? random.tensor([7]) : nil))
        return Sequential(name: "head", layers: layers)
    }

    func testBlockwiseLinearMatchesNaiveTwin() {
        var random = KernelTestRandom(seed: 0xB10C)
        for _ in 0 ..< 40 {
            let blocks = random.pick([1, 2, 3, 16, 37, 64]), block = random.pick([1, 4, 9, 15, 16, 17, 33, 49, 50])
            let outputs = random.pick([1, 5, 16, 31, 100])
            let weight = random.tensor([outputs, blocks * block]), input = random.tensor([blocks * block])
            let fast = blockwiseLinear(weight: weight, input: input, blocks: blocks)
            let naive = blockwiseLinearNaive(weight: weight, input: input, blocks: blocks)
            let scale = 1 + (naive.storage.map(abs).max() ?? 0)
            let worst = zip(fast.storage, naive.storage).map { abs($0 - $1) }.max() ?? 0
            XCTAssertEqual(fast.shape, [outputs, blocks])
            XCTAssertLessThan(worst, 1e-5 * scale, "blocks \(blocks) × \(block), \(outputs) outputs")
            // The tiled transpose moves every element to its mirrored place.
            let flipped = transposed(fast)
            XCTAssertEqual(flipped.shape, [blocks, outputs])
            for o in 0 ..< outputs {
                for k in 0 ..< blocks { XCTAssertEqual(flipped.storage[k * outputs + o], fast.storage[o * blocks + k]) }
            }
        }
    }

    /// F(A) from the decomposition equals the head's forward pass, and LIFT-CAM from one backward pass
    /// through the rest equals the literal DeepLIFT-Rescale contributions summed per map, for every
    /// class, within 1e-5 of the largest value (float rounding of sums taken in another order).
    func testFastLiftEqualsLiteralDeepLIFTOnRandomHeads() {
        var random = KernelTestRandom(seed: 0x11F7)
        for trial in 0 ..< 60 {
            let maps = random.int(1 ... 24), size = random.int(2 ... 9)
            let head = randomHead(&random, maps: maps, size: size)
            // Non-negative maps with exact zeros, as after a ReLU, in half the trials; signed maps
            // (a cut before the ReLU) in the others; and always one whole zero map.
            var activations = random.tensor([maps, size, size])
            if trial % 2 == 0 { activations.storage = activations.storage.map { max($0, 0) } }
            for j in 0 ..< size * size { activations.storage[j] = 0 }
            guard let decomposition = HeadDecomposition(head: head, activations: activations) else {
                return XCTFail("trial \(trial): a pool/flatten/Linear head must decompose")
            }
            let logits = head.forward(activations.batched).storage
            XCTAssertLessThan(relativeError(decomposition.outputs, logits), 1e-5, "trial \(trial): F(A)")
            for target in 0 ..< 7 {
                let literal = liftCAMCoefficients(head: targetHead(head, target: target), activations: activations)
                let fast = decomposition.targeted(target).liftCoefficients()
                XCTAssertLessThan(relativeError(fast, literal), 1e-5, "trial \(trial), class \(target)")
                // Eq 8 for the fast path too: Σ α = F^c(A) − F^c(0).
                let zero = head.forward(Tensor(shape: [1, maps, size, size])).storage[target]
                XCTAssertEqual(fast.reduce(0, +), logits[target] - zero,
                               accuracy: 1e-4 * (1 + abs(logits[target] - zero)), "trial \(trial), class \(target): Eq 8")
            }
        }
    }

    /// The Explainer's methods that use the decomposition give what the literal functions give.
    func testExplainerAgreesWithLiteralMethods() throws {
        for network in [try TestNetworks.vgg(), try TestNetworks.resnet()] {
            let input = TestNetworks.input(network.architecture.inputShape, seed: 9)
            let explainer = try Explainer(network: network, input: input)
            XCTAssertNotNil(explainer.headDecomposition)
            XCTAssertLessThan(relativeError(explainer.logits, network.forward(input.batched).storage), 1e-5)
            for target in 0 ..< explainer.logits.count {
                let head = targetHead(explainer.network.head, target: target)
                let literalLift = liftCAMCoefficients(head: head, activations: explainer.activations)
                XCTAssertLessThan(relativeError(try explainer.coefficients(.lift, target: target), literalLift), 1e-5)
                let generic = MapGame(activations: explainer.activations, head: head, useShortcut: false)
                XCTAssertLessThan(relativeError(try explainer.coefficients(.ablation, target: target),
                                                ablationCAMCoefficients(game: generic)), 1e-5)
                let k = explainer.activations.shape[0]
                let shap = try explainer.coefficients(.shap, target: target, options: MethodOptions(orderings: 3, seed: 4))
                XCTAssertLessThan(relativeError(shap, shapCAMCoefficients(game: generic, orderings: randomOrderings(count: 3, players: k, seed: 4))), 1e-4)
                let lime = try explainer.coefficients(.lime, target: target, options: MethodOptions(seed: 5))
                XCTAssertLessThan(relativeError(lime, limeCAMCoefficients(game: generic, samples: k, seed: 5)), 1e-3)
            }
        }
    }

    /// Several orderings evaluated as one batch, with the steps of null players (all-zero maps)
    /// skipped, give v of every prefix as the game evaluates each prefix's mask on its own; on both
    /// the shortcut and the generic path.
    func testBatchedOrderingsSkipNullPlayersExactly() {
        var random = KernelTestRandom(seed: 0x5A4B)
        for trial in 0 ..< 12 {
            let maps = random.int(2 ... 20), size = random.int(2 ... 6)
            let head = targetHead(randomHead(&random, maps: maps, size: size), target: random.int(0 ... 6))
            var activations = random.tensor([maps, size, size])
            activations.storage = activations.storage.map { max($0, 0) }
            let plane = size * size
            for k in 0 ..< maps where random.int(0 ... 2) == 0 {
                for j in 0 ..< plane { activations.storage[k * plane + j] = 0 }
            }
            let orderings = randomOrderings(count: random.int(1 ... 5), players: maps, seed: UInt64(trial))
            for useShortcut in [true, false] {
                let game = MapGame(activations: activations, head: head, useShortcut: useShortcut)
                let batched = game.valuesAlong(orderings: orderings)
                for (ordering, values) in zip(orderings, batched) {
                    var masks = Tensor(shape: [maps + 1, maps])
                    for step in 1 ... maps {
                        for earlier in 0 ..< step { masks.storage[step * maps + ordering[earlier]] = 1 }
                    }
                    XCTAssertLessThan(relativeError(values, game.values(masks: masks)), 1e-5,
                                      "trial \(trial), shortcut \(useShortcut)")
                }
            }
        }
    }

    /// SHAP-CAM over more orderings than one batch holds (three batches of ⌊2048/(K + 1)⌋ orderings)
    /// equals Algorithm 1 written out with one mask per prefix, and gives a null player exactly 0.
    func testShapCAMAcrossBatchesMatchesPrefixMasks() {
        var random = KernelTestRandom(seed: 0x5A6C)
        let maps = 20, size = 3
        let head = targetHead(randomHead(&random, maps: maps, size: size), target: 2)
        var activations = random.tensor([maps, size, size])
        activations.storage = activations.storage.map { max($0, 0) }
        for j in 0 ..< size * size { activations.storage[5 * size * size + j] = 0 }   // map 5 is a null player
        let count = 2 * (shapRowsPerBatch / (maps + 1)) + 17
        let orderings = randomOrderings(count: count, players: maps, seed: 8)
        let game = MapGame(activations: activations, head: head)
        let batched = shapCAMCoefficients(game: game, orderings: orderings)
        var expected = [Double](repeating: 0, count: maps)
        for ordering in orderings {
            var masks = Tensor(shape: [maps + 1, maps])
            for step in 1 ... maps {
                for earlier in 0 ..< step { masks.storage[step * maps + ordering[earlier]] = 1 }
            }
            let v = game.values(masks: masks)
            for step in 1 ... maps { expected[ordering[step - 1]] += Double(v[step] - v[step - 1]) }
        }
        XCTAssertLessThan(relativeError(batched, expected.map { Float($0 / Double(count)) }), 1e-5)
        XCTAssertEqual(batched[5], 0, "a map that is zero everywhere has Shapley value 0")
    }
}
