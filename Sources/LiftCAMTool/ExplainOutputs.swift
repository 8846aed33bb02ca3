import LiftCAM
import LiftCAMCommandLine
import LiftCAMImaging

/// One method's pictures and faithfulness scores for one input: what `--out` writes and the report
/// shows. The PNGs are encoded once and serve both the files and the report's data URIs.
struct MethodOutputs {
    let explanation: Explanation
    /// This image's Y, O, D and insertion/deletion curves (Section 4); nil when not measured.
    let scores: ImageScores?
    /// s(u(L^c)) through jet, as pytorch-grad-cam's heatmap, at the network's input size `[H, W]`.
    let jetPNG: [UInt8]
    let viridisPNG: [UInt8]
    /// The jet heatmap over the input picture, show_cam_on_image with image weight 0.5.
    let overlayPNG: [UInt8]
}

/// Everything known about one explained input: the content of its report.html.
struct ExplanationRecord {
    /// The input's file name, the report's title.
    let title: String
    /// The architecture as given on the command line (a torchvision name or a file).
    let arch: String
    let explainer: Explainer
    let target: Int
    /// The true class when a dataset gives it (the demo's manifest), else nil.
    let label: Int?
    /// The object's box in pixels of the network input, when a dataset gives it: then the scores
    /// include the energy-based pointing game (Eq 15).
    let box: BoundingBox?
    let classNames: [String]?
    /// The input picture at the network's input size.
    let picturePNG: [UInt8]
    let methods: [MethodOutputs]

    /// Draws every explanation and, if `measure`, scores it on this image with `scoreExplanation`
    /// (Eqs 11–14, the insertion/deletion curves, and Eq 15 when there is a box). The picture is
    /// resized to the saliency's size if it differs, so the overlay lines up pixel for pixel.
    init(title: String, arch: String, explainer: Explainer, target: Int, label: Int? = nil, box: BoundingBox? = nil,
         classNames: [String]?, picture: Image, explanations: [Explanation], measure: Bool, console: Console) throws {
        let height = explainer.input.shape[1], width = explainer.input.shape[2]
        let progress = measure && !explanations.isEmpty
            ? Progress(console: console, label: "metrics", total: explanations.count) : nil
        do {
            let shown = picture.width == width && picture.height == height
                ? picture.rgb() : try picture.rgb().resized(width: width, height: height)
            var methods: [MethodOutputs] = []
            for explanation in explanations {
                let values = explanation.saliency.storage   // [H, W]
                let scores = measure
                    ? scoreExplanation(network: explainer.network, input: explainer.input, target: target,
                                       saliency: explanation.saliency, box: box, seconds: explanation.seconds)
                    : nil
                methods.append(MethodOutputs(
                    explanation: explanation, scores: scores,
                    jetPNG: PNG.encode(try heatmapImage(values, width: width, height: height, colormap: .jet)),
                    viridisPNG: PNG.encode(try heatmapImage(values, width: width, height: height, colormap: .viridis)),
                    overlayPNG: PNG.encode(try overlay(values, on: shown, colormap: .jet))))
                progress?.update(done: methods.count)
            }
            picturePNG = PNG.encode(shown)
            self.methods = methods
        } catch let error as ImageError {
            throw ToolError.failure("\(title): cannot draw the maps: \(error.description)")
        }
        self.title = title
        self.arch = arch
        self.explainer = explainer
        self.target = target
        self.label = label
        self.box = box
        self.classNames = classNames
    }
}

/// Writes, into `directory` (created if needed), per method `<method>_jet.png`,
/// `<method>_viridis.png`, `<method>_overlay.png` and `<method>_cam.npy` (L^c `[h, w]`, float32),
/// then `report.html`. The report is rendered before anything is written, and each file is written
/// atomically, so a failure leaves no half file.
func writeExplanationOutputs(_ record: ExplanationRecord, to directory: String) throws {
    let html = reportHTML(record)
    try makeDirectory(directory)
    for outputs in record.methods {
        let name = outputs.explanation.method.rawValue
        try writeFileAtomically(pathInDirectory(directory, "\(name)_jet.png"), bytes: outputs.jetPNG)
        try writeFileAtomically(pathInDirectory(directory, "\(name)_viridis.png"), bytes: outputs.viridisPNG)
        try writeFileAtomically(pathInDirectory(directory, "\(name)_overlay.png"), bytes: outputs.overlayPNG)
        try writeNPY(outputs.explanation.map, path: pathInDirectory(directory, "\(name)_cam.npy"))
    }
    try writeFileAtomically(pathInDirectory(directory, "report.html"), text: html)
}

/// `directory/name`, without doubling a trailing slash.
func pathInDirectory(_ directory: String, _ name: String) -> String {
    directory.hasSuffix("/") ? directory + name : directory + "/" + name
}

/// The last component of a path ("photos/cat.png" → "cat.png").
func lastPathComponent(_ path: String) -> String {
    path.split(separator: "/").last.map(String.init) ?? path
}
