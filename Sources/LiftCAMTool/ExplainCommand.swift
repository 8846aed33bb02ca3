import LiftCAM
import Foundation

/// `liftcam explain`: the coefficients and class activation maps of one input, by any methods.
enum ExplainCommand {
    static let spec = CommandSpec(
        name: "explain", summary: "explain one input with CAM methods (coefficients, maps, JSON)",
        options: networkOptions + [
            OptionSpec(name: "input", valueName: "FILE", help: "an image (.png, .ppm, .pgm) or a preprocessed tensor (.npy)", required: true),
            OptionSpec(name: "layer", valueName: "NAME", help: "target layer (default: last ReLU of features for VGG, layer4 for ResNet)"),
            OptionSpec(name: "target", valueName: "C", help: "class index to explain (default: the predicted class)"),
            OptionSpec(name: "method", valueName: "M[,M...]|all", help: "methods: \(CAMMethod.allCases.map(\.rawValue).joined(separator: ", ")) (default lift)"),
            OptionSpec(name: "orderings", valueName: "N", help: "orderings |Π| for shap (Algorithm 1; default 100)"),
            OptionSpec(name: "seed", valueName: "S", help: "seed for shap orderings and lime samples (default 0)"),
            OptionSpec(name: "lime-samples", valueName: "N", help: "coalitions lime samples (default K, as the official code)"),
            OptionSpec(name: "xgrad-normalized", valueName: nil, help: "XGrad-CAM divided by ΣA_k, as its own paper (default: Eq 10 literally)"),
            OptionSpec(name: "json", valueName: "FILE|-", help: "write the results as JSON to FILE or standard output"),
            OptionSpec(name: "out", valueName: "DIR", help: "write per method <m>_jet.png, <m>_viridis.png, <m>_overlay.png, <m>_cam.npy, and report.html"),
            OptionSpec(name: "no-metrics", valueName: nil, help: "with --out: leave the faithfulness metrics out of the report (85 forward passes per method)"),
        ] + Preprocessing.options,
        example: "liftcam explain --arch vgg16 --weights weights/vgg16 --input cat.png --method all --out cat-report")

    static func run(_ arguments: ParsedArguments, console: Console) throws {
        if let directory = arguments.value("out"), fileExists(directory), !isDirectory(directory) {
            // Refused before the work, not after it.
            throw LiftCAMError.file(directory, "exists and is not a directory (--out needs a directory)")
        }
        let network = try loadNetwork(arch: arguments.required("arch"), weights: arguments.required("weights"))
        let preprocessing = try Preprocessing(arguments: arguments, architecture: network.architecture)
        let inputPath = arguments.required("input")
        let input = try loadInput(path: inputPath, preprocessing: preprocessing)
        let methods = try parseMethods(arguments.value("method") ?? "lift")
        let explainer = try makeExplainer(network: network, layer: arguments.value("layer"), input: input.tensor, path: inputPath)
        let target = try arguments.int("target", default: explainer.predictedClass, minimum: 0)
        var options = try methodOptions(arguments)
        let explanations = try explainAll(explainer, methods: methods, target: target, options: &options,
                                          skipUnaffordable: arguments.value("method") == "all", console: console)
        let result = explanationJSON(arch: arguments.required("arch"), explainer: explainer, target: target,
                                     explanations: explanations, classNames: network.architecture.classNames)
        if let directory = arguments.value("out") {
            let record = try ExplanationRecord(
                title: lastPathComponent(inputPath), arch: arguments.required("arch"), explainer: explainer, target: target,
                classNames: network.architecture.classNames, picture: input.image,
                explanations: explanations, measure: !arguments.flag("no-metrics"), console: console)
            try writeExplanationOutputs(record, to: directory)
        }
        if let destination = arguments.value("json") {
            try emitJSON(result, to: destination, console: console)
        }
        if arguments.value("json") != "-" {
            console.print(summary(explainer: explainer, target: target, explanations: explanations,
                                  classNames: network.architecture.classNames))
        }
        if let directory = arguments.value("out") {
            // Standard output may be the JSON: the location then goes to standard error.
            let line = "report: \(pathInDirectory(directory, "report.html"))"
            if arguments.value("json") == "-" { console.printError(line) } else { console.print(line) }
        }
    }

    static func parseMethods(_ text: String) throws -> [CAMMethod] {
        do throws(LiftCAMError) { return try CAMMethod.parseList(text) } catch { throw ToolError.failure(error.description) }
    }

    /// --orderings, --seed, --lime-samples and --xgrad-normalized.
    static func methodOptions(_ arguments: ParsedArguments) throws -> MethodOptions {
        let orderingsText = arguments.value("orderings")
        let orderings = Int(orderingsText ?? "100")
        guard let orderings, orderings >= 1 else {
            throw ToolError.failure("--orderings must be an integer of at least 1, got '\(orderingsText ?? "")'")
        }
        let limeSamples = try arguments.value("lime-samples").map { _ in try arguments.int("lime-samples", default: 0, minimum: 1) }
        return MethodOptions(orderings: orderings, seed: try arguments.seed(), normalizeXGradCAM: arguments.flag("xgrad-normalized"),
                             limeSamples: limeSamples)
    }

    /// Runs each method, with progress for the long ones; `all` skips shap-exact where K > 20.
    static func explainAll(_ explainer: Explainer, methods: [CAMMethod], target: Int, options: inout MethodOptions,
                           skipUnaffordable: Bool, console: Console) throws -> [Explanation] {
        guard explainer.logits.indices.contains(target) else {
            throw ToolError.failure("target class \(target) is out of range: this network has \(explainer.logits.count) classes (0…\(explainer.logits.count - 1))")
        }
        var explanations: [Explanation] = []
        for method in methods {
            if method == .shapExact && skipUnaffordable && explainer.activations.shape[0] > exactSHAPMaximumPlayers {
                console.printError("note: skipping shap-exact: K = \(explainer.activations.shape[0]) maps > \(exactSHAPMaximumPlayers)")
                continue
            }
            if method == .scorecam || method == .shap {
                let total = method == .shap ? options.orderings : explainer.activations.shape[0]
                let progress = Progress(console: console, label: method.rawValue, total: total)
                options.progress = { done, _ in progress.update(done: done) }
            } else {
                options.progress = nil
            }
            explanations.append(try explainer.explain(method, target: target, options: options))
        }
        return explanations
    }

    /// The JSON contract: {"arch", "layer", "target", "logits", "activation_shape", "methods": {name:
    /// {"coefficients", "cam", "seconds"}}}, plus "predicted" and "class_name" when known.
    static func explanationJSON(arch: String, explainer: Explainer, target: Int, explanations: [Explanation],
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

    static func summary(explainer: Explainer, target: Int, explanations: [Explanation], classNames: [String]?) -> String {
        func name(_ c: Int) -> String { classNames.map { " (\($0[c]))" } ?? "" }
        var lines = ["layer \(explainer.network.layer), maps \(explainer.activations.shape), predicted \(explainer.predictedClass)\(name(explainer.predictedClass)), explaining \(target)\(name(target))",
                     "", "| method | seconds | Σα | top maps (α) |", "|---|---:|---:|---|"]
        for e in explanations {
            let top = e.coefficients.indices.sorted { e.coefficients[$0] > e.coefficients[$1] }.prefix(3)
                .map { "\($0) (\(formatNumber(Double(e.coefficients[$0]))))" }.joined(separator: ", ")
            lines.append("| \(e.method.rawValue) | \(formatNumber(e.seconds)) | \(formatNumber(Double(e.coefficients.reduce(0, +)))) | \(top) |")
        }
        return lines.joined(separator: "\n")
    }
}

/// Four significant digits, for tables.
func formatNumber(_ value: Double) -> String {
    if value == 0 || !value.isFinite { return "\(value)" }
    let magnitude = abs(value)
    if magnitude >= 1e5 || magnitude < 1e-3 {
        return String(format: "%.3e", value)
    }
    let decimals = max(0, 3 - Int(log10(magnitude).rounded(.down)))
    return String(format: "%.\(decimals)f", value)
}
