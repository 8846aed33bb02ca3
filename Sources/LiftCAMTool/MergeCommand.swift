import LiftCAM
import LiftCAMCommandLine

/// `liftcam merge`: the JSON results of `liftcam evaluate --shard i/n` runs combined into the
/// numbers one run over all their images gives, exactly: the per-image scores are put back in
/// manifest order and summarised by the same code as a single run. The output has the same layout,
/// so merged files can be merged again.
enum MergeCommand {
    static let spec = CommandSpec(
        name: "merge", summary: "combine the JSON results of evaluate shards (the numbers of one run)",
        options: [
            OptionSpec(name: "json", valueName: "FILE|-", help: "write the merged results as JSON to FILE or standard output"),
        ],
        example: "liftcam merge part0.json part1.json part2.json part3.json --json all.json",
        positionals: "FILE.json...")

    static func run(_ arguments: ParsedArguments, console: Console) throws {
        let files = arguments.positionals
        guard !files.isEmpty else { throw ToolError.usage("give the files that 'liftcam evaluate --json' wrote") }
        let parts = try files.map { file in
            let json: JSONValue
            do throws(LiftCAMError) {
                json = try JSONValue.parse(String(decoding: try readFileBytes(file), as: UTF8.self))
            } catch {
                guard !error.description.hasPrefix(file) else { throw error }
                throw LiftCAMError.file(file, error.description)
            }
            return try EvaluationResults(json: json, file: file)
        }
        let merged = try merge(parts, files: files)
        let missing = (0..<merged.shard.count).filter { !merged.shard.indices.contains($0) }
        if !missing.isEmpty {
            console.printError("note: shard\(missing.count == 1 ? "" : "s") \(missing.map(String.init).joined(separator: ", ")) of \(merged.shard.count) not given: the numbers cover \(merged.images.count) images")
        }
        try EvaluateCommand.report(merged, json: arguments.value("json"), console: console)
    }

    /// Refuses files from different runs (settings, shard counts) and files that overlap.
    static func merge(_ parts: [EvaluationResults], files: [String]) throws -> EvaluationResults {
        let first = parts[0]
        var shardOwner: [Int: String] = [:], imageOwner: [Int: String] = [:]
        for (part, file) in zip(parts, files) {
            if let key = firstDifference(first.config, part.config) {
                let theirs = part.config[key]?.serialized() ?? "missing", ours = first.config[key]?.serialized() ?? "missing"
                throw ToolError.failure("\(file) and \(files[0]) come from different runs: \"\(key)\" is \(theirs) in one and \(ours) in the other; only shards of one run can be merged")
            }
            guard part.shard.count == first.shard.count else {
                throw ToolError.failure("\(file) is a shard of \(part.shard.count) but \(files[0]) a shard of \(first.shard.count); only shards of one run can be merged")
            }
            for index in part.shard.indices {
                if let other = shardOwner[index] {
                    throw ToolError.failure("\(other) and \(file) overlap: both hold shard \(index)/\(part.shard.count)")
                }
                shardOwner[index] = file
            }
            for index in part.images.map(\.index) + part.skipped.map(\.index) {
                if let other = imageOwner[index] {
                    throw ToolError.failure("\(other) and \(file) overlap: both hold image \(index)")
                }
                imageOwner[index] = file
            }
        }
        return EvaluationResults(config: first.config, inputs: first.inputs, methods: first.methods,
                                 shard: (shardOwner.keys.sorted(), first.shard.count),
                                 images: parts.flatMap(\.images).sorted { $0.index < $1.index },
                                 skipped: parts.flatMap(\.skipped).sorted { $0.index < $1.index })
    }

    /// The first key of two JSON objects whose values differ (or that only one has).
    private static func firstDifference(_ a: JSONValue, _ b: JSONValue) -> String? {
        let keys = (a.objectValue ?? []).map(\.0) + (b.objectValue ?? []).map(\.0)
        return keys.first { a[$0] != b[$0] }
    }
}
