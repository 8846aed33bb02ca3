import Foundation
import LiftCAM
import LiftCAMCommandLine

/// `liftcam evaluate`: the paper's Section 4 over a dataset (see `Manifest`), for any methods:
/// IIC, AD, ADD (Eqs 12–14, Tables 1, 3), insertion and deletion AUC (Table 4), the energy-based
/// pointing game (Eq 15, Table 5) and the cosine of α to SHAP-CAM (Table 2), with a Markdown table
/// on standard output and the numbers as JSON (layout: `EvaluationResults`).
///
/// Table 1 (SHAP-CAM_1, _10, _100, "averaged over 10 simulations"): `--method shap:1,shap:10,shap:100
/// --repeats 10` runs each randomised method 10 times with seeds S, S+1, …, S+9; each run's metrics
/// are computed over all images, and the table shows their mean over the runs.
///
/// Nothing is written unless the whole run succeeds: bad manifest rows are found before any image
/// is evaluated, an image that fails to decode stops the run (or, with --skip-bad, is counted and
/// left out), and the output files are written, atomically, only at the end.
enum EvaluateCommand {
    static let spec = CommandSpec(
        name: "evaluate", summary: "score CAM methods over a dataset: the paper's Tables 1–5 (JSON, Markdown)",
        options: [
            sharedOption("arch"), sharedOption("weights"),
            OptionSpec(name: "data", valueName: "DIR", help: "folder with manifest.csv: file,label,x_min,y_min,x_max,y_max (box may be empty)", required: true),
            OptionSpec(name: "method", valueName: "M[,M...]|all", help: "methods: \(CAMMethod.allCases.map(\.rawValue).joined(separator: ", ")), shap:N (|Π| = N)", required: true),
            OptionSpec(name: "target", valueName: "predicted|label", help: "class to explain: the prediction (default) or the manifest's label"),
            sharedOption("layer"),
            OptionSpec(name: "limit", valueName: "N", help: "only the first N manifest rows"),
            OptionSpec(name: "shard", valueName: "i/n", help: "every n-th of those rows from row i (0-based); combine with 'liftcam merge'"),
            sharedOption("orderings"),
            OptionSpec(name: "repeats", valueName: "R", help: "runs of shap/lime with seeds S, S+1, …: each run's metrics, then their mean (Table 1; default 1)"),
            OptionSpec(name: "reference-orderings", valueName: "N", help: "|Π| of the SHAP-CAM reference for the cosine (Table 2; default 1000, 0: off)"),
            OptionSpec(name: "reference-seed", valueName: "S", help: "seed of the reference's orderings (default: --seed + 1000003, so no shap row shares its orderings)"),
            sharedOption("seed"), sharedOption("lime-samples"), sharedOption("xgrad-normalized"), sharedOption("literal"),
            OptionSpec(name: "json", valueName: "FILE|-", help: "write the results (with per-image scores, for merging) as JSON"),
            OptionSpec(name: "per-image", valueName: "FILE.jsonl", help: "one JSON line per image and method: Y, O, D, curves, AUCs, pointing, cosine"),
            OptionSpec(name: "skip-bad", valueName: nil, help: "leave out bad rows and unreadable images (counted) instead of stopping"),
        ] + Preprocessing.options,
        example: "liftcam evaluate --arch vgg16 --weights weights/vgg16 --data val1000 --method lift,gradcam,ablation --shard 0/4 --json part0.json")

    /// An option `explain` has too, with its help: `ExplainCommand.methodOptions` reads them.
    private static func sharedOption(_ name: String) -> OptionSpec {
        ExplainCommand.spec.options.first { $0.name == name }!
    }

    static func run(_ arguments: ParsedArguments, console: Console) throws {
        let methodText = arguments.required("method")
        var specs = try MethodSpec.parseList(methodText)
        guard let targetMode = TargetMode(rawValue: arguments.value("target") ?? "predicted") else {
            throw ToolError.usage("--target must be 'predicted' or 'label', got '\(arguments.value("target")!)'")
        }
        let limit = arguments.value("limit") == nil ? nil : try arguments.int("limit", default: 0, minimum: 1)
        let shard = try arguments.value("shard").map(Shard.init(parsing:)) ?? Shard()
        let repeats = try arguments.int("repeats", default: 1, minimum: 1)
        let referenceOrderings = try arguments.int("reference-orderings", default: 1000, minimum: 0)
        let options = try methodOptions(arguments)
        // The reference must not reuse the orderings of a `shap` row (the first N of the same stream),
        // or that row's cosine would be biased upward: by default it draws from another seed.
        let referenceSeed = arguments.value("reference-seed") == nil ? options.seed &+ 1_000_003 : try arguments.seed("reference-seed")
        let jsonDestination = arguments.value("json"), perImagePath = arguments.value("per-image")
        if perImagePath == "-" { throw ToolError.usage("--per-image needs a file name (standard output carries the table or the JSON)") }
        for path in [jsonDestination, perImagePath].compactMap({ $0 }) where path != "-" { try checkWritable(path) }
        let skipBad = arguments.flag("skip-bad")

        let network = try loadNetwork(arch: arguments.required("arch"), weights: arguments.value("weights"))
        let preprocessing = try Preprocessing(arguments: arguments, architecture: network.architecture)
        let split = try network.split(at: arguments.value("layer") ?? network.architecture.defaultLayer)
        let manifest = try Manifest(directory: arguments.required("data"))
        let check = Manifest.Check(network: network, classes: network.architecture.classCount,
                                   imageInputShape: [3, preprocessing.height, preprocessing.width])

        // Everything that can be checked before the first image: rows, files, .npy shapes.
        var items: [DatasetItem] = [], skipped: [SkippedRow] = []
        for index in shard.indices(rowCount: manifest.rows.count, limit: limit) {
            do {
                items.append(try manifest.item(index, check: check))
            } catch {
                guard let error = error as? LiftCAMError else { throw error }
                skipped.append(SkippedRow(index: index, row: manifest.rows[index].line, problem: error.description))
            }
        }
        if !skipped.isEmpty && !skipBad {
            for row in skipped { console.printError("liftcam evaluate: \(row.problem)") }
            throw ToolError.failure("\(skipped.count) bad row\(skipped.count == 1 ? "" : "s") in \(manifest.path); nothing was evaluated or written (--skip-bad leaves them out)")
        }
        for row in skipped { console.printError("skipping \(row.problem)") }
        if items.contains(where: { !$0.path.lowercased().hasSuffix(".npy") }) {
            do throws(LiftCAMError) { _ = try split.activationShape(forInput: check.imageInputShape) } catch {
                throw ToolError.failure("images preprocessed to \(preprocessing.height)×\(preprocessing.width) do not fit the network: \(error.description)")
            }
        }
        if let first = items.first, let maps = try? split.activationShape(forInput: first.inputShape)[0],
           maps > exactSHAPMaximumPlayers, specs.contains(where: { $0.method == .shapExact }) {
            guard methodText.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == "all" }) else {
                throw ToolError.failure("shap-exact enumerates 2^K coalitions and is refused above K = \(exactSHAPMaximumPlayers); layer \(split.layer) has K = \(maps)")
            }
            console.printError("note: skipping shap-exact: K = \(maps) maps > \(exactSHAPMaximumPlayers)")
            specs.removeAll { $0.method == .shapExact }
        }

        let evaluator = ImageEvaluator(network: network, preprocessing: preprocessing, layer: split.layer, specs: specs,
                                       options: options, repeats: repeats, referenceOrderings: referenceOrderings,
                                       referenceSeed: referenceSeed, targetMode: targetMode, literal: arguments.flag("literal"))
        let progress = Progress(console: console, label: "evaluate", total: items.count)
        var records: [ImageRecord] = [], perImageLines: [String] = []
        for (done, item) in items.enumerated() {
            let explainer: Explainer
            do {
                explainer = try evaluator.explainer(for: item)
            } catch {
                guard let error = error as? LiftCAMError else { throw error }
                let problem = "\(manifest.path) row \(item.row): \(error.description)"
                guard skipBad else { throw ToolError.failure("\(problem); nothing was written (--skip-bad leaves it out)") }
                console.printError("skipping \(problem)")
                skipped.append(SkippedRow(index: item.index, row: item.row, problem: problem))
                progress.update(done: done + 1)
                continue
            }
            let image = try evaluator.evaluate(explainer, item: item)
            records.append(image.record)
            if perImagePath != nil { perImageLines += evaluator.perImageLines(image) }
            progress.update(done: done + 1)
        }

        let config: JSONValue = .object([
            ("layer", .string(split.layer)), ("target", .string(targetMode.rawValue)),
            ("methods", .array(specs.map { .string($0.key) })),
            ("orderings", .number(Double(options.orderings))), ("seed", .number(Double(options.seed))),
            ("repeats", .number(Double(repeats))), ("reference_orderings", .number(Double(referenceOrderings))),
            ("reference_seed", .number(Double(referenceSeed))),
            ("lime_samples", options.limeSamples.map { .number(Double($0)) } ?? .null),
            ("xgrad_normalized", .bool(options.normalizeXGradCAM)), ("limit", limit.map { .number(Double($0)) } ?? .null),
            ("manifest_rows", .number(Double(manifest.rows.count))), ("manifest_crc32", .number(Double(manifest.checksum))),
            ("size", .array([.number(Double(preprocessing.height)), .number(Double(preprocessing.width))])),
            ("normalize", .bool(preprocessing.normalize)), ("mean", .floats(preprocessing.mean)), ("std", .floats(preprocessing.std)),
        ] + (arguments.flag("literal") ? [("literal", .bool(true))] : []))   // absent when off: older shards still merge
        let inputs: JSONValue = .object([("arch", .string(arguments.required("arch"))),
                                         ("weights", arguments.value("weights").map { .string($0) } ?? .null),
                                         ("data", .string(arguments.required("data")))])
        let results = EvaluationResults(config: config, inputs: inputs, methods: specs.map(\.key),
                                        shard: ([shard.index], shard.count), images: records,
                                        skipped: skipped.sorted { $0.index < $1.index })
        if let perImagePath {
            try writeFileAtomically(perImagePath, text: perImageLines.map { $0 + "\n" }.joined())
        }
        try report(results, json: jsonDestination, console: console)
        if !skipped.isEmpty { console.printError("skipped \(skipped.count) bad row\(skipped.count == 1 ? "" : "s") of \(manifest.path)") }
    }

    /// Writes the JSON (if asked) and prints the table (unless the JSON goes to standard output).
    static func report(_ results: EvaluationResults, json destination: String?, console: Console) throws {
        if let destination { try emitJSON(results.json, to: destination, console: console) }
        if destination != "-" { console.print(results.markdown) }
    }

    /// Fails before any work when an output file could not be written at the end.
    static func checkWritable(_ path: String) throws {
        let parent = URL(fileURLWithPath: path).deletingLastPathComponent().path
        guard isDirectory(parent) else { throw LiftCAMError.file(path, "cannot write: no directory \(parent)") }
        guard !isDirectory(path) else { throw LiftCAMError.file(path, "is a directory") }
    }
}
