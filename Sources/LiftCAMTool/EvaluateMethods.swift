import Foundation
import LiftCAM
import LiftCAMCommandLine

/// One row of the evaluation tables: a CAM method, and for `shap:N` its number of orderings.
struct MethodSpec: Equatable {
    /// The row's name in the JSON and the table: the method's name, or "shap:N".
    let key: String
    let method: CAMMethod
    /// |Π| of `shap:N`; nil means --orderings.
    let orderings: Int?

    /// Methods that draw random numbers (SHAP-CAM's orderings, LIME-CAM's samples) run --repeats
    /// times; the others give the same α every time and run once.
    var isRandomized: Bool { method == .shap || method == .lime }

    /// "all", or a comma-separated list of method names and `shap:N` (SHAP-CAM with |Π| = N);
    /// each row kept once, in the order given.
    static func parseList(_ text: String) throws -> [MethodSpec] {
        var specs: [MethodSpec] = []
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let name = item.trimmingCharacters(in: .whitespaces)
            let found: [MethodSpec]
            if name.hasPrefix("shap:") {
                guard let orderings = Int(name.dropFirst(5)), orderings >= 1 else {
                    throw ToolError.failure("method '\(name)': shap:N needs a whole number of orderings N ≥ 1")
                }
                found = [MethodSpec(key: "shap:\(orderings)", method: .shap, orderings: orderings)]
            } else {
                do throws(LiftCAMError) {
                    found = try CAMMethod.parseList(name).map { MethodSpec(key: $0.rawValue, method: $0, orderings: nil) }
                } catch {
                    throw ToolError.failure(error.description + ", shap:N")
                }
            }
            for spec in found where !specs.contains(spec) { specs.append(spec) }
        }
        return specs
    }
}

/// Which class each image's explanations explain.
enum TargetMode: String {
    /// The network's prediction, as the paper (the default).
    case predicted
    /// The manifest's label.
    case label
}

/// One image's results: every method's scores, per run.
struct EvaluatedImage {
    let item: DatasetItem
    let target: Int
    let predicted: Int
    /// `scores[m][r]`: method m (in the order of the method list), run r.
    let scores: [[ImageScores]]

    var record: ImageRecord {
        ImageRecord(index: item.index, row: item.row, file: item.file, label: item.label, target: target,
                    predicted: predicted, measures: scores.map { $0.map(\.measures) })
    }
}

/// Scores every method on one image (Section 4): the explanation of the target class, Y, O, D,
/// the insertion and deletion curves, the pointing game, and the cosine of α to a SHAP-CAM
/// reference computed once per image.
struct ImageEvaluator {
    let network: Network
    let preprocessing: Preprocessing
    let layer: String?
    let specs: [MethodSpec]
    /// --orderings, --seed, --lime-samples, --xgrad-normalized.
    let options: MethodOptions
    let repeats: Int
    /// |Π| and seed of the SHAP-CAM reference of Table 2; 0 orderings: no cosine.
    let referenceOrderings: Int
    let referenceSeed: UInt64
    let targetMode: TargetMode
    /// --literal: every explanation and every metric's forward pass on the literal path.
    let literal: Bool

    func runCount(_ spec: MethodSpec) -> Int { spec.isRandomized ? repeats : 1 }

    /// Run r of a randomised method uses seed S + r (Table 1: "averaged over 10 simulations").
    func options(_ spec: MethodSpec, run: Int) -> MethodOptions {
        var options = options
        options.seed = self.options.seed &+ UInt64(run)
        if let orderings = spec.orderings { options.orderings = orderings }
        return options
    }

    /// The maps and logits of the item's input. Errors are about the image (unreadable, wrong
    /// shape), so they belong to its manifest row.
    func explainer(for item: DatasetItem) throws -> Explainer {
        let input = try loadInput(path: item.path, preprocessing: preprocessing)
        return try makeExplainer(network: network, layer: layer, input: input.tensor, path: item.path, literal: literal)
    }

    /// Every method's scores on the image. Errors here are about a method, not the image.
    func evaluate(_ explainer: Explainer, item: DatasetItem) throws -> EvaluatedImage {
        let target = targetMode == .label ? item.label : explainer.predictedClass
        var reference: [Float]?
        if referenceOrderings > 0 {
            do throws(LiftCAMError) {
                reference = try explainer.coefficients(.shap, target: target,
                                                       options: MethodOptions(orderings: referenceOrderings, seed: referenceSeed))
            } catch {
                guard error.description.hasPrefix("--orderings") else { throw error }
                // The limit is the same, but the option the user gave is the reference's.
                throw LiftCAMError("--reference-orderings" + error.description.dropFirst("--orderings".count))
            }
        }
        let scores = try specs.map { spec in
            try (0..<runCount(spec)).map { run in
                let explanation = try explainer.explain(spec.method, target: target, options: options(spec, run: run))
                return scoreExplanation(network: explainer.network, input: explainer.input, target: target,
                                        saliency: explanation.saliency, box: item.box,
                                        cosineToSHAP: reference.map { cosineSimilarity(explanation.coefficients, $0) },
                                        seconds: explanation.seconds)
            }
        }
        return EvaluatedImage(item: item, target: target, predicted: explainer.predictedClass, scores: scores)
    }

    /// The `--per-image` lines of one image: one JSON object per method and run, with the curves.
    func perImageLines(_ image: EvaluatedImage) -> [String] {
        var lines: [String] = []
        for (spec, runs) in zip(specs, image.scores) {
            for (run, scores) in runs.enumerated() {
                var fields: [(String, JSONValue)] = [
                    ("index", .number(Double(image.item.index))), ("row", .number(Double(image.item.row))),
                    ("file", .string(image.item.file)), ("label", .number(Double(image.item.label))),
                    ("target", .number(Double(image.target))), ("predicted", .number(Double(image.predicted))),
                    ("method", .string(spec.key)),
                ]
                if spec.isRandomized {
                    fields += [("run", .number(Double(run))), ("seed", .number(Double(options(spec, run: run).seed)))]
                }
                fields += [
                    ("y", .number(scores.original)), ("o", .number(scores.explanation)), ("d", .number(scores.deletion)),
                    ("insertion_curve", .array(scores.insertionCurve.map { .number($0) })),
                    ("deletion_curve", .array(scores.deletionCurve.map { .number($0) })),
                    ("insertion_auc", .number(scores.insertionAUC)), ("deletion_auc", .number(scores.deletionAUC)),
                    ("energy_pointing_game", scores.energyPointingGame.map { .number($0) } ?? .null),
                    ("cosine_to_shap", scores.cosineToSHAP.map { .number($0) } ?? .null),
                    ("seconds", .number(scores.seconds)),
                ]
                lines.append(JSONValue.object(fields).serialized())
            }
        }
        return lines
    }
}
