import LiftCAMCore

// `liftcam forward` and `liftcam explain` as every platform runs them: their options, the methods
// and their options, and the JSON they print. The native tool and the WebAssembly build both call
// these, so the two print the same JSON for the same files.

/// `liftcam forward`'s options and help.
public let forwardCommandSpec = CommandSpec(
    name: "forward", summary: "run the network on one input and print its logits",
    options: networkOptions + [
        OptionSpec(name: "input", valueName: "FILE", help: "preprocessed tensor .npy [3,H,W] or [1,3,H,W], or an image", required: true),
        OptionSpec(name: "json", valueName: "FILE|-", help: "where to write {\"logits\": [...]} (default -, standard output)"),
    ] + Preprocessing.options,
    example: "liftcam forward --arch vgg16 --weights weights/vgg16 --input x.npy --json -")

/// `liftcam explain`'s options and help.
public let explainCommandSpec = CommandSpec(
    name: "explain", summary: "explain one input with CAM methods (coefficients, maps, JSON)",
    options: networkOptions + [
        OptionSpec(name: "input", valueName: "FILE", help: "an image (.png, .ppm, .pgm) or a preprocessed tensor (.npy)", required: true),
        OptionSpec(name: "layer", valueName: "NAME", help: "target layer: a module path, or an ONNX tensor or node (default: last ReLU of features for VGG, layer4 for ResNet, the last feature block of an ONNX model)"),
        OptionSpec(name: "target", valueName: "C", help: "class index to explain (default: the predicted class)"),
        OptionSpec(name: "method", valueName: "M[,M...]|all", help: "methods: \(CAMMethod.allCases.map { $0.rawValue }.joined(separator: ", ")) (default lift)"),
        OptionSpec(name: "orderings", valueName: "N", help: "orderings |Π| for shap (Algorithm 1; default 100)"),
        OptionSpec(name: "seed", valueName: "S", help: "seed for shap orderings and lime samples (default 0)"),
        OptionSpec(name: "lime-samples", valueName: "N", help: "coalitions lime samples (default K, as the official code)"),
        OptionSpec(name: "xgrad-normalized", valueName: nil, help: "XGrad-CAM divided by ΣA_k, as its own paper (default: Eq 10 literally)"),
        OptionSpec(name: "literal", valueName: nil, help: "compute only with the literal transcriptions of the paper: naive kernels, full DeepLIFT pass, whole head per coalition (slow; SPEC.md)"),
        OptionSpec(name: "json", valueName: "FILE|-", help: "write the results as JSON to FILE or standard output"),
        OptionSpec(name: "out", valueName: "DIR", help: "write per method <m>_jet.png, <m>_viridis.png, <m>_overlay.png, <m>_cam.npy, and report.html"),
        OptionSpec(name: "no-metrics", valueName: nil, help: "with --out: leave the faithfulness metrics out of the report (85 forward passes per method)"),
    ] + Preprocessing.options,
    example: "liftcam explain --arch vgg16 --weights weights/vgg16 --input cat.png --method all --out cat-report")

/// The methods of --method ("lift,gradcam", "all").
public func parseMethods(_ text: String) throws(ToolError) -> [CAMMethod] {
    try failing { () throws(LiftCAMError) in try CAMMethod.parseList(text) }
}

/// --orderings, --seed, --lime-samples and --xgrad-normalized.
public func methodOptions(_ arguments: ParsedArguments) throws(ToolError) -> MethodOptions {
    let orderingsText = arguments.value("orderings")
    let orderings = Int(orderingsText ?? "100")
    guard let orderings, orderings >= 1 else {
        throw ToolError.failure("--orderings must be an integer of at least 1, got '\(orderingsText ?? "")'")
    }
    var limeSamples: Int?
    if arguments.value("lime-samples") != nil { limeSamples = try arguments.int("lime-samples", default: 0, minimum: 1) }
    return MethodOptions(orderings: orderings, seed: try arguments.seed(), normalizeXGradCAM: arguments.flag("xgrad-normalized"),
                         limeSamples: limeSamples)
}

/// Runs each method on class `target`; `all` (`skipUnaffordable`) skips shap-exact where K > 20,
/// with a note. `progress` gives the long methods (Score-CAM, SHAP-CAM) a report of work done.
public func explainAll(_ explainer: Explainer, methods: [CAMMethod], target: Int, options: MethodOptions,
                       skipUnaffordable: Bool, note: (String) -> Void,
                       progress: (_ method: CAMMethod, _ total: Int) -> (@Sendable (Int, Int) -> Void)? = { _, _ in nil })
    throws(ToolError) -> [Explanation] {
    guard explainer.logits.indices.contains(target) else {
        throw ToolError.failure("target class \(target) is out of range: this network has \(explainer.logits.count) classes (0…\(explainer.logits.count - 1))")
    }
    var options = options
    var explanations: [Explanation] = []
    for method in methods {
        if method == .shapExact && skipUnaffordable && explainer.activations.shape[0] > exactSHAPMaximumPlayers {
            note("note: skipping shap-exact: K = \(explainer.activations.shape[0]) maps > \(exactSHAPMaximumPlayers)")
            continue
        }
        let total = method == .shap ? options.orderings : explainer.activations.shape[0]
        let isLong = method == .scorecam || method == .shap
        options.progress = isLong ? progress(method, total) : nil
        let runOptions = options
        explanations.append(try failing { () throws(LiftCAMError) in
            try explainer.explain(method, target: target, options: runOptions)
        })
    }
    return explanations
}

/// The JSON contract: {"arch", "layer", "target", "logits", "activation_shape", "methods": {name:
/// {"coefficients", "cam", "seconds"}}}, plus "predicted" and "class_name" when known.
public func explanationJSON(arch: String, explainer: Explainer, target: Int, explanations: [Explanation],
                            classNames: [String]?) -> JSONValue {
    let methods: [(String, JSONValue)] = explanations.map { explanation in
        let width = explanation.map.shape[1]
        let rows: [JSONValue] = (0..<explanation.map.shape[0]).map { row in
            .floats(Array(explanation.map.storage[row * width ..< (row + 1) * width]))
        }
        return (explanation.method.rawValue, .object([
            ("coefficients", .floats(explanation.coefficients)), ("cam", .array(rows)),
            ("seconds", .number(explanation.seconds)),
        ]))
    }
    var fields: [(String, JSONValue)] = [
        ("arch", .string(arch)), ("layer", .string(explainer.network.layer)), ("target", .number(Double(target))),
        ("predicted", .number(Double(explainer.predictedClass))),
    ]
    if let classNames, classNames.indices.contains(target) { fields.append(("class_name", .string(classNames[target]))) }
    fields += [("logits", .floats(explainer.logits)),
               ("activation_shape", .array(explainer.activations.shape.map { .number(Double($0)) })),
               ("methods", .object(methods))]
    return .object(fields)
}

/// `liftcam forward`'s JSON: {"logits": [...]}.
public func forwardJSON(network: Network, input: Tensor) -> JSONValue {
    .object([("logits", .floats(network.forward(input.batched).storage))])
}
