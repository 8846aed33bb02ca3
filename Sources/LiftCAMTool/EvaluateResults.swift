import Foundation
import LiftCAM
import LiftCAMCommandLine

/// One evaluated image as a result file keeps it: what the tables average, per method and run.
struct ImageRecord {
    let index, row: Int
    let file: String
    let label, target, predicted: Int
    /// `measures[m][r]`: method m (in the order of the method list), run r.
    let measures: [[ImageMeasures]]
}

/// A manifest row left out with --skip-bad.
struct SkippedRow {
    let index, row: Int
    let problem: String
}

/// The results of `liftcam evaluate` (one run, one shard, or merged shards), and their JSON:
///
///     {"images": n, "skipped": k,
///      "methods": {"lift": {"iic", "ad", "add", "insertion_auc", "deletion_auc",
///                           "energy_pointing_game", "cosine_to_shap", "seconds_per_image", "runs"}, …},
///      "shard": {"indices": [i, …], "count": n},
///      "config": {settings that shards must share},
///      "inputs": {"arch", "weights", "data"},
///      "per_image": [{"index", "row", "file", "label", "target", "predicted",
///                     "scores": {"lift": [{"y", "o", "d", "insertion_auc", "deletion_auc",
///                                          "energy_pointing_game", "cosine_to_shap", "seconds"}, …]}}],
///      "skipped_rows": [{"index", "row", "problem"}]}
///
/// "methods" is computed from "per_image" (images in manifest order; each run summarised, then
/// the mean over runs), and the serializer prints every Double with its shortest round-trip digits,
/// so merging shards' files recomputes exactly the numbers one run gives.
struct EvaluationResults {
    /// Settings that decide the numbers; shards must agree on them to be merged.
    var config: JSONValue
    /// Where the run read its network and data (informational: paths may differ between machines).
    var inputs: JSONValue
    /// The method rows, in order.
    var methods: [String]
    var shard: (indices: [Int], count: Int)
    /// In manifest order.
    var images: [ImageRecord]
    var skipped: [SkippedRow]

    /// One summary per method: each run's images summarised (`MethodSummary(measures:)`), then the
    /// mean over runs.
    func summaries() -> [MethodSummary] {
        methods.indices.map { m in
            let runs = images.first?.measures[m].count ?? 1
            return MethodSummary(runs: (0..<runs).map { r in images.map { $0.measures[m][r] } })
        }
    }

    var json: JSONValue {
        let summaries = summaries()
        let runs = methods.indices.map { images.first?.measures[$0].count ?? 1 }
        let methodObjects: [(String, JSONValue)] = zip(methods, zip(summaries, runs)).map { key, pair in
            let (summary, runs) = pair
            return (key, .object([
                ("iic", .number(summary.increaseInConfidence)), ("ad", .number(summary.averageDrop)),
                ("add", .number(summary.averageDropInDeletion)), ("insertion_auc", .number(summary.insertionAUC)),
                ("deletion_auc", .number(summary.deletionAUC)),
                ("energy_pointing_game", optionalNumber(summary.energyPointingGame)),
                ("cosine_to_shap", optionalNumber(summary.cosineToSHAP)),
                ("seconds_per_image", .number(summary.secondsPerImage)), ("runs", .number(Double(runs))),
            ]))
        }
        let perImage: [JSONValue] = images.map { image in
            .object([
                ("index", .number(Double(image.index))), ("row", .number(Double(image.row))), ("file", .string(image.file)),
                ("label", .number(Double(image.label))), ("target", .number(Double(image.target))),
                ("predicted", .number(Double(image.predicted))),
                ("scores", .object(zip(methods, image.measures).map { ($0, .array($1.map(measuresJSON))) })),
            ])
        }
        let skippedRows: [JSONValue] = skipped.map {
            .object([("index", .number(Double($0.index))), ("row", .number(Double($0.row))), ("problem", .string($0.problem))])
        }
        return .object([
            ("images", .number(Double(images.count))), ("skipped", .number(Double(skipped.count))),
            ("methods", .object(methodObjects)),
            ("shard", .object([("indices", .array(shard.indices.map { .number(Double($0)) })),
                               ("count", .number(Double(shard.count)))])),
            ("config", config), ("inputs", inputs), ("per_image", .array(perImage)), ("skipped_rows", .array(skippedRows)),
        ])
    }

    /// Reads a result file back; errors name the file and the part that is wrong.
    init(json: JSONValue, file: String) throws {
        func bad(_ problem: String) -> LiftCAMError {
            LiftCAMError.file(file, "not a complete result of liftcam evaluate: \(problem)")
        }
        func int(_ value: JSONValue?, _ what: String) throws -> Int {
            guard let number = value?.intValue else { throw bad("\(what) must be an integer") }
            return number
        }
        guard let config = json["config"], config.objectValue != nil, let inputs = json["inputs"],
              let keys = config["methods"]?.arrayValue?.compactMap(\.stringValue), !keys.isEmpty,
              keys.count == config["methods"]?.arrayValue?.count else {
            throw bad("\"config\" with its \"methods\" is missing")
        }
        guard let shardIndices = json["shard"]?["indices"]?.arrayValue else { throw bad("\"shard\" is missing") }
        shard = (try shardIndices.map { try int($0, "\"shard\" indices") }, try int(json["shard"]?["count"], "\"shard\" count"))
        guard let perImage = json["per_image"]?.arrayValue, let skippedRows = json["skipped_rows"]?.arrayValue else {
            throw bad("\"per_image\" or \"skipped_rows\" is missing")
        }
        images = try perImage.enumerated().map { n, record in
            let what = "per_image[\(n)]"
            let measures: [[ImageMeasures]] = try keys.map { key in
                guard let runs = record["scores"]?[key]?.arrayValue, !runs.isEmpty else { throw bad("\(what) has no scores for \(key)") }
                return try runs.map { run in
                    guard let measures = decodeMeasures(run) else { throw bad("\(what) \(key): a score is missing or not a number") }
                    return measures
                }
            }
            return ImageRecord(index: try int(record["index"], "\(what).index"), row: try int(record["row"], "\(what).row"),
                               file: record["file"]?.stringValue ?? "", label: try int(record["label"], "\(what).label"),
                               target: try int(record["target"], "\(what).target"),
                               predicted: try int(record["predicted"], "\(what).predicted"), measures: measures)
        }
        for m in keys.indices where Set(images.map { $0.measures[m].count }).count > 1 {
            throw bad("the images have different numbers of runs of \(keys[m])")
        }
        skipped = try skippedRows.enumerated().map { n, row in
            SkippedRow(index: try int(row["index"], "skipped_rows[\(n)].index"), row: try int(row["row"], "skipped_rows[\(n)].row"),
                       problem: row["problem"]?.stringValue ?? "")
        }
        guard json["images"]?.intValue == images.count else { throw bad("\"images\" differs from the number of per_image records") }
        self.config = config
        self.inputs = inputs
        methods = keys
    }

    init(config: JSONValue, inputs: JSONValue, methods: [String], shard: (indices: [Int], count: Int),
         images: [ImageRecord], skipped: [SkippedRow]) {
        self.config = config
        self.inputs = inputs
        self.methods = methods
        self.shard = shard
        self.images = images
        self.skipped = skipped
    }

    /// The paper's Tables 2–5 in one: methods as rows; a caption with the number of images.
    var markdown: String {
        var caption = "\(images.count) images"
        if !skipped.isEmpty { caption += ", \(skipped.count) skipped" }
        if shard.indices != Array(0..<shard.count) {
            caption += shard.indices.count == 1 ? ", shard \(shard.indices[0])/\(shard.count)"
                : ", shards \(shard.indices.map(String.init).joined(separator: ", ")) of \(shard.count)"
        }
        if let target = config["target"]?.stringValue { caption += "; explaining the \(target == "label" ? "labelled" : "predicted") class" }
        var lines = [caption, "",
                     "| method | IIC (%) ↑ | AD (%) ↓ | ADD (%) ↑ | insertion AUC ↑ | deletion AUC ↓ | pointing game (%) ↑ | cosine to SHAP ↑ | s/image |",
                     "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for (m, summary) in summaries().enumerated() {
            let runs = images.first?.measures[m].count ?? 1
            let name = methods[m] + (runs > 1 ? " (mean of \(runs) runs)" : "")
            let cells = [fixed(summary.increaseInConfidence, 2), fixed(summary.averageDrop, 2),
                         fixed(summary.averageDropInDeletion, 2), fixed(summary.insertionAUC, 4), fixed(summary.deletionAUC, 4),
                         summary.energyPointingGame.map { fixed($0, 2) } ?? "–", summary.cosineToSHAP.map { fixed($0, 4) } ?? "–",
                         formatNumber(summary.secondsPerImage)]
            lines.append("| \(name) | " + cells.joined(separator: " | ") + " |")
        }
        return lines.joined(separator: "\n")
    }
}

private func fixed(_ value: Double, _ decimals: Int) -> String { String(format: "%.\(decimals)f", value) }

private func optionalNumber(_ value: Double?) -> JSONValue { value.map { .number($0) } ?? .null }

private func measuresJSON(_ measures: ImageMeasures) -> JSONValue {
    .object([
        ("y", .number(measures.original)), ("o", .number(measures.explanation)), ("d", .number(measures.deletion)),
        ("insertion_auc", .number(measures.insertionAUC)), ("deletion_auc", .number(measures.deletionAUC)),
        ("energy_pointing_game", optionalNumber(measures.energyPointingGame)),
        ("cosine_to_shap", optionalNumber(measures.cosineToSHAP)), ("seconds", .number(measures.seconds)),
    ])
}

/// The inverse of `measuresJSON`; nil when a field is missing or of the wrong kind. A required
/// number written as null (the serializer's NaN) reads back as NaN, so it stays NaN in the means.
private func decodeMeasures(_ json: JSONValue) -> ImageMeasures? {
    func required(_ key: String) -> Double? {
        guard let value = json[key] else { return nil }
        return value.isNull ? .nan : value.doubleValue
    }
    func optional(_ key: String) -> Double?? {
        guard let value = json[key] else { return nil }
        return value.isNull ? .some(nil) : value.doubleValue.map { .some($0) }
    }
    guard let y = required("y"), let o = required("o"), let d = required("d"),
          let insertion = required("insertion_auc"), let deletion = required("deletion_auc"), let seconds = required("seconds"),
          let pointing = optional("energy_pointing_game"), let cosine = optional("cosine_to_shap") else { return nil }
    return ImageMeasures(original: y, explanation: o, deletion: d, insertionAUC: insertion, deletionAUC: deletion,
                         energyPointingGame: pointing, cosineToSHAP: cosine, seconds: seconds)
}
