import LiftCAM

/// The paper's cost argument (Sections 2.1 and 4.3.2): LIFT-CAM needs one backward pass through the
/// head, Ablation-CAM K head evaluations, Score-CAM K passes of the whole network, SHAP-CAM
/// |Π|·(K + 1) head evaluations. Times every method's coefficients on one input of a torchvision-sized
/// network with seeded random weights, after the `Explainer` (body forward pass and head
/// decomposition, shared by all methods, timed on its own first row), as a ratio to LIFT-CAM in the
/// same run; and the map game's shortcut (`MapGame`) against its generic path on Ablation-CAM.
/// Run: `swift run -c release liftcam-bench methods`.
func benchmarkMethods(architectureName: String, methods: [CAMMethod], orderings: Int) throws {
    guard let architecture = Architecture.named(architectureName) else { return }
    let network = try Network(architecture: architecture, weights: RandomWeights(seed: 1))
    let input = benchTensor([3, 224, 224], seed: 2)
    let explainer = try Explainer(network: network, input: input)
    let build = fastestRun(repetitions: 3) { _ = try? Explainer(network: network, input: input) }
    print("| \(architectureName) | Explainer: body forward pass + head decomposition (every method) | \(formatted(build * 1e3, digits: 1)) | | |")
    let target = explainer.predictedClass
    let options = MethodOptions(orderings: orderings, seed: 0)
    var lift = 0.0
    for method in [CAMMethod.lift] + methods.filter({ $0 != .lift }) {
        var alpha: [Float] = []
        let seconds = fastestRun(repetitions: method == .scorecam || method == .shap ? 1 : 3) {
            alpha = (try? explainer.coefficients(method, target: target, options: options)) ?? []
        }
        if method == .lift { lift = seconds }
        let label = method == .shap ? "shap (Π = \(orderings) orderings)" : method.rawValue
        print("| \(architectureName) | \(label) | \(formatted(seconds * 1e3, digits: 1)) | \(formatted(seconds / lift, digits: 1))× | \(alpha.count) |")
    }
    // The map game's shortcut against the generic path, on the K + 1 coalitions of Ablation-CAM.
    let head = targetHead(explainer.network.head, target: target)
    let k = explainer.activations.shape[0]
    var masks = Tensor(shape: [k + 1, k], repeating: 1)
    for map in 0..<k { masks.storage[(map + 1) * k + map] = 0 }
    let fast = fastestRun(repetitions: 3) { _ = MapGame(activations: explainer.activations, head: head).values(masks: masks) }
    let generic = fastestRun(repetitions: 1, warmUp: false) {
        _ = MapGame(activations: explainer.activations, head: head, useShortcut: false).values(masks: masks)
    }
    print("| \(architectureName) | MapGame shortcut vs generic path, \(k + 1) coalitions | \(formatted(fast * 1e3, digits: 1)) vs \(formatted(generic * 1e3, digits: 1)) | \(formatted(generic / fast, digits: 1))× faster | |")
}

func runMethodBenchmarks() throws {
    print("")
    print("| network | method | ms | time / LIFT-CAM | K |")
    print("|---|---|---:|---:|---:|")
    try benchmarkMethods(architectureName: "vgg16", methods: [.gradcam, .gradcampp, .xgradcam, .lrp, .ablation, .lime, .shap],
                         orderings: 10)
    try benchmarkMethods(architectureName: "resnet50", methods: [.gradcam, .xgradcam, .ablation, .shap], orderings: 1000)
    try benchmarkMethods(architectureName: "resnet18", methods: [.scorecam], orderings: 10)
}
