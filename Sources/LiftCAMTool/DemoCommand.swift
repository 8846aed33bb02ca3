import LiftCAM
import LiftCAMCommandLine
import Foundation

/// `liftcam demo`: the README's first command. Explains the first few images of the bundled digit
/// dataset with the bundled VGG-style model and every method, and writes one report per image plus
/// an index.html that shows all images × methods and the mean metrics.
enum DemoCommand {
    /// Inside the Fixtures folder: the model (arch.json, weights/) and the images (manifest.csv).
    static let modelFolder = "models/vgg_digits"
    static let dataFolder = "data/digits"

    static let spec = CommandSpec(
        name: "demo", summary: "explain a few bundled digit images with every method, as an HTML report",
        options: [
            OptionSpec(name: "out", valueName: "DIR", help: "where to write the reports (default: liftcam-demo)"),
            OptionSpec(name: "method", valueName: "M[,M...]|all", help: "methods (default all; all skips shap-exact when K > 20)"),
            OptionSpec(name: "images", valueName: "N", help: "how many of the bundled images to explain (default 4)"),
            OptionSpec(name: "orderings", valueName: "N", help: "orderings |Π| for shap (Algorithm 1; default 200)"),
            OptionSpec(name: "seed", valueName: "S", help: "seed for shap orderings and lime samples (default 0)"),
        ],
        example: "liftcam demo --out liftcam-demo   (then open liftcam-demo/index.html)")

    static func run(_ arguments: ParsedArguments, console: Console) throws {
        // The options first: a usage error is reported as such even where the fixtures are missing.
        let methodText = arguments.value("method") ?? "all"
        var methods = try parseMethods(methodText)
        let imageCount = try arguments.int("images", default: 4, minimum: 1)
        let options = MethodOptions(orderings: try arguments.int("orderings", default: 200, minimum: 1),
                                    seed: try arguments.seed())
        let directory = arguments.value("out") ?? "liftcam-demo"
        let fixtures = try locateFixtures()
        let model = pathInDirectory(fixtures, modelFolder), data = pathInDirectory(fixtures, dataFolder)
        let archPath = pathInDirectory(model, "arch.json")
        let network = try loadNetwork(arch: archPath, weights: pathInDirectory(model, "weights"))
        let images = try readDemoManifest(pathInDirectory(data, "manifest.csv"), limit: imageCount,
                                          classCount: network.architecture.classCount)
        let inputShape = network.architecture.inputShape
        let preprocessing = Preprocessing(height: inputShape[1], width: inputShape[2])
        let layer = try network.split(at: network.architecture.defaultLayer)
        let mapCount = try layer.activationShape(forInput: inputShape)[0]
        if methodText == "all" && mapCount > exactSHAPMaximumPlayers {
            // Said once here rather than once per image.
            methods.removeAll { $0 == .shapExact }
            console.printError("note: skipping shap-exact: K = \(mapCount) maps > \(exactSHAPMaximumPlayers)")
        }

        // Everything is computed before anything is written: a failure leaves no half demo.
        var pages: [DemoPage] = []
        for (index, image) in images.enumerated() {
            let imagePath = pathInDirectory(data, image.file)
            let input = try loadInput(path: imagePath, preprocessing: preprocessing)
            let explainer = try makeExplainer(network: network, layer: nil, input: input.tensor, path: imagePath)
            let target = explainer.predictedClass
            let explanations = try explainAll(explainer, methods: methods, target: target, options: options,
                                              skipUnaffordable: false, note: console.printError,
                                              progress: { method, total in
                                                  let progress = Progress(console: console, label: method.rawValue, total: total)
                                                  return { done, _ in progress.update(done: done) }
                                              })
            let record = try ExplanationRecord(
                title: image.file, arch: archPath, explainer: explainer, target: target, label: image.label,
                box: image.box, classNames: network.architecture.classNames, picture: input.image, explanations: explanations,
                measure: true, console: console)
            pages.append(DemoPage(folder: folderName(for: image.file, taken: pages.map(\.folder)), record: record))
            let names = network.architecture.classNames
            console.print("\(index + 1)/\(images.count) \(image.file): true class \(classText(image.label, names)), predicted \(classText(target, names))")
        }
        try makeDirectory(directory)
        for page in pages {
            try writeExplanationOutputs(page.record, to: pathInDirectory(directory, page.folder))
        }
        let index = pathInDirectory(directory, "index.html")
        try writeFileAtomically(index, text: demoIndexHTML(pages: pages, arch: archPath))
        console.print("report: \(index)")
    }

    /// The Fixtures folder: $LIFTCAM_FIXTURES if set, else ./Fixtures if it holds the demo model,
    /// else the Fixtures folder of the source tree this tool was built from.
    static func locateFixtures() throws -> String {
        let marker = pathInDirectory(modelFolder, "arch.json")
        if let given = ProcessInfo.processInfo.environment["LIFTCAM_FIXTURES"], !given.isEmpty {
            guard fileExists(pathInDirectory(given, marker)) else {
                throw ToolError.failure("LIFTCAM_FIXTURES is '\(given)', which has no \(marker)")
            }
            return given
        }
        // #filePath is <repository>/Sources/LiftCAMTool/DemoCommand.swift.
        let sourceTree = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false).dropLast(3)
            .joined(separator: "/") + "/Fixtures"
        for candidate in ["Fixtures", sourceTree] where fileExists(pathInDirectory(candidate, marker)) {
            return candidate
        }
        throw ToolError.failure("cannot find the bundled model \(marker): looked in ./Fixtures and \(sourceTree); set LIFTCAM_FIXTURES to the Fixtures folder")
    }

    /// A folder name made of the file's stem ("digit_003.png" → "digit_003"), with characters
    /// other than letters, digits, "-", "_" and "." replaced, and a suffix if already taken.
    static func folderName(for file: String, taken: [String]) -> String {
        let name = lastPathComponent(file)
        let stem = name.lastIndex(of: ".").map { name[..<$0] }.map(String.init) ?? name
        let safe = String(stem.map { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) ? $0 : "_" })
        let base = safe.isEmpty || safe.hasPrefix(".") ? "image" + safe : safe
        var candidate = base, suffix = 2
        while taken.contains(candidate) {
            candidate = "\(base)-\(suffix)"
            suffix += 1
        }
        return candidate
    }
}

/// One explained image of the demo and the folder its report goes to.
struct DemoPage {
    let folder: String
    let record: ExplanationRecord
}

/// A row of the demo's manifest: the image file (relative to the manifest), its true class and,
/// when given, the object's box.
struct DemoImage {
    let file: String
    let label: Int
    let box: BoundingBox?
}

/// The first `limit` rows of a manifest.csv with header `file,label[,x_min,y_min,x_max,y_max]`
/// (the dataset format of `liftcam evaluate`: the box in pixels of the network input, half-open,
/// empty fields for none). Errors name the file and the line.
func readDemoManifest(_ manifestPath: String, limit: Int, classCount: Int) throws -> [DemoImage] {
    let bytes = try readFileBytes(manifestPath)
    guard let text = String(validating: bytes, as: UTF8.self) else {
        throw LiftCAMError.file(manifestPath, "is not UTF-8 text")
    }
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        .map { $0.hasSuffix("\r") ? $0.dropLast() : $0 }
    guard let header = lines.first, header.split(separator: ",").prefix(2) == ["file", "label"] else {
        throw LiftCAMError.file(manifestPath, "line 1: expected a header starting with file,label")
    }
    var images: [DemoImage] = []
    for (offset, line) in lines.enumerated().dropFirst() where !line.isEmpty && images.count < limit {
        let fields = line.split(separator: ",", omittingEmptySubsequences: false)
        guard fields.count >= 2, !fields[0].isEmpty, !fields[0].hasPrefix("/") else {
            throw LiftCAMError.file(manifestPath, "line \(offset + 1): expected file,label,...")
        }
        guard let label = Int(fields[1]), (0..<classCount).contains(label) else {
            throw LiftCAMError.file(manifestPath, "line \(offset + 1): label '\(fields[1])' is not a class 0…\(classCount - 1)")
        }
        var box: BoundingBox?
        if fields.count >= 6 && !fields[2...5].allSatisfy(\.isEmpty) {
            let corners = fields[2...5].compactMap { Int($0) }
            guard corners.count == 4 else {
                throw LiftCAMError.file(manifestPath, "line \(offset + 1): the box must be four integers x_min,y_min,x_max,y_max")
            }
            box = BoundingBox(xMin: corners[0], yMin: corners[1], xMax: corners[2], yMax: corners[3])
        }
        images.append(DemoImage(file: String(fields[0]), label: label, box: box))
    }
    guard !images.isEmpty else { throw LiftCAMError.file(manifestPath, "lists no images") }
    return images
}
