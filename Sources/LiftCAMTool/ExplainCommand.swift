import LiftCAM
import LiftCAMCommandLine
import Foundation

/// `liftcam explain`: the coefficients and class activation maps of one input, by any methods.
enum ExplainCommand {
    static let spec = explainCommandSpec

    static func run(_ arguments: ParsedArguments, console: Console) throws {
        if let directory = arguments.value("out"), fileExists(directory), !isDirectory(directory) {
            // Refused before the work, not after it.
            throw LiftCAMError.file(directory, "exists and is not a directory (--out needs a directory)")
        }
        let network = try loadNetwork(arch: arguments.required("arch"), weights: arguments.value("weights"))
        let preprocessing = try Preprocessing(arguments: arguments, architecture: network.architecture)
        let inputPath = arguments.required("input")
        let input = try loadInput(path: inputPath, preprocessing: preprocessing)
        let methods = try parseMethods(arguments.value("method") ?? "lift")
        let explainer = try makeExplainer(network: network, layer: arguments.value("layer"), input: input.tensor, path: inputPath,
                                          literal: arguments.flag("literal"))
        let target = try arguments.int("target", default: explainer.predictedClass, minimum: 0)
        let explanations = try explainAll(
            explainer, methods: methods, target: target, options: try methodOptions(arguments),
            skipUnaffordable: arguments.value("method") == "all", note: console.printError,
            progress: { method, total in
                let progress = Progress(console: console, label: method.rawValue, total: total)
                return { done, _ in progress.update(done: done) }
            })
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
            console.print(explanationSummary(explainer: explainer, target: target, explanations: explanations,
                                  classNames: network.architecture.classNames))
        }
        if let directory = arguments.value("out") {
            // Standard output may be the JSON: the location then goes to standard error.
            let line = "report: \(pathInDirectory(directory, "report.html"))"
            if arguments.value("json") == "-" { console.printError(line) } else { console.print(line) }
        }
    }
}
