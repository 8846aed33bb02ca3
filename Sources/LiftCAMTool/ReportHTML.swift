import LiftCAM
import LiftCAMCommandLine
import LiftCAMImaging
import Foundation

/// report.html of one input: self-contained (pictures inlined as base64 PNG data URIs, styles
/// inline, no scripts, no external resources), so it can be mailed or archived as one file.
///
/// It shows the input and the facts of the run (architecture, layer, activation shape, predicted
/// and explained class), every method's overlay and heatmap side by side, a summary of each
/// method's coefficients α, and, when measured, the faithfulness metrics of this image
/// (Y, O, D of Eqs 11–14 and the insertion/deletion curves with their AUCs).
func reportHTML(_ record: ExplanationRecord) -> String {
    let explainer = record.explainer
    let size = (height: explainer.input.shape[1], width: explainer.input.shape[2])
    var html = htmlHead(title: "LiftCAM: \(record.title)")
    html += "<h1>LiftCAM report <small>\(escapeHTML(record.title))</small></h1>\n"

    html += "<section class=\"overview\">\n"
    html += imageTag(record.picturePNG, width: size.width, height: size.height, alt: "input picture")
    html += factsTable(record)
    html += topClassesTable(logits: explainer.logits, classNames: record.classNames)
    html += "</section>\n"

    html += "<h2>Maps side by side</h2>\n<div class=\"maps\">\n"
    for outputs in record.methods {
        let name = outputs.explanation.method.rawValue
        html += "<figure><figcaption><b>\(escapeHTML(name))</b> <span>\(formatSeconds(outputs.explanation.seconds))</span></figcaption>"
        html += imageTag(outputs.overlayPNG, width: size.width, height: size.height, alt: "\(name) overlay")
        html += imageTag(outputs.jetPNG, width: size.width, height: size.height, alt: "\(name) heatmap")
        html += "</figure>\n"
    }
    html += "</div>\n"
    html += "<p class=\"note\">Each map is s(u(L<sup>c</sup>)): L<sup>c</sup> = ReLU(Σ<sub>k</sub> α<sub>k</sub> A<sub>k</sub>) (Eq 1), upsampled bilinearly to the input and min-max normalised. Left: the jet heatmap blended with the input (pytorch-grad-cam's show_cam_on_image, image weight 0.5); right: the heatmap alone. The time is what the coefficients took.</p>\n"

    html += "<h2>Coefficients α</h2>\n" + coefficientsTable(record.methods)
    if record.methods.allSatisfy({ $0.scores != nil }) && !record.methods.isEmpty {
        html += "<h2>Faithfulness on this image</h2>\n" + faithfulnessTable(record.methods)
        html += curveCharts(record.methods)
    }
    html += "<footer>Written by liftcam, a Swift implementation of LIFT-CAM (Jung &amp; Oh, ICCV 2021).</footer>\n"
    return html + "</body>\n</html>\n"
}

/// The document head with the report's styles.
func htmlHead(title: String) -> String {
    """
    <!DOCTYPE html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <title>\(escapeHTML(title))</title>
    <style>
    body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5em auto; max-width: 1200px; padding: 0 1em; color: #222; }
    h1 small { font-weight: normal; color: #666; }
    table { border-collapse: collapse; margin: 0.5em 0 1em; }
    th, td { padding: 0.2em 0.7em; border-bottom: 1px solid #ddd; text-align: left; vertical-align: top; }
    td.n { text-align: right; font-variant-numeric: tabular-nums; }
    .overview { display: flex; flex-wrap: wrap; gap: 1.5em; align-items: flex-start; }
    .maps { display: flex; flex-wrap: wrap; gap: 1em; }
    figure { margin: 0; padding: 0.5em; border: 1px solid #ddd; border-radius: 4px; }
    figcaption span { color: #666; float: right; }
    img { display: inline-block; margin: 0.2em; }
    img.px { image-rendering: pixelated; }
    .note { color: #555; max-width: 60em; }
    .best { font-weight: bold; }
    .swatch { display: inline-block; width: 0.9em; height: 0.9em; margin-right: 0.3em; vertical-align: middle; }
    .wide { overflow-x: auto; }
    table.overlays th, table.overlays td { padding: 0.2em 3px; }
    footer { margin-top: 2em; color: #888; font-size: 12px; }
    </style>
    </head>
    <body>

    """
}

/// Text made safe for HTML content and attribute values.
func escapeHTML(_ text: String) -> String {
    var escaped = ""
    escaped.reserveCapacity(text.utf8.count)
    for character in text {
        switch character {
        case "&": escaped += "&amp;"
        case "<": escaped += "&lt;"
        case ">": escaped += "&gt;"
        case "\"": escaped += "&quot;"
        case "'": escaped += "&#39;"
        default: escaped.append(character)
        }
    }
    return escaped
}

/// An `<img>` with the PNG inlined, shown `shownWidth` pixels wide (default: its width, but at
/// least 160). Enlarged pictures scale pixelated, so a 64×64 map stays legible and honest about
/// its resolution.
func imageTag(_ png: [UInt8], width: Int, height: Int, alt: String, shownWidth: Int? = nil) -> String {
    let shownWidth = shownWidth ?? max(width, 160)
    let shownHeight = Int((Double(height) * Double(shownWidth) / Double(width)).rounded())
    let pixelated = shownWidth > width ? " class=\"px\"" : ""
    return "<img\(pixelated) width=\"\(shownWidth)\" height=\"\(shownHeight)\" alt=\"\(escapeHTML(alt))\" src=\"data:image/png;base64,\(Base64.encode(png))\">"
}

/// "281 · tabby cat" when the architecture names its classes, else (or when the name is just the
/// number, as for digits) "281".
func classText(_ index: Int, _ classNames: [String]?) -> String {
    guard let classNames, classNames.indices.contains(index), classNames[index] != "\(index)" else { return "\(index)" }
    return "\(index) · \(classNames[index])"
}

/// Seconds in the unit that reads best: "0.21 ms", "13.5 ms", "2.31 s".
func formatSeconds(_ seconds: Double) -> String {
    seconds < 1 ? "\(formatNumber(seconds * 1000)) ms" : "\(formatNumber(seconds)) s"
}

private func factsTable(_ record: ExplanationRecord) -> String {
    let explainer = record.explainer
    let shape = explainer.activations.shape   // [K, h, w]
    let input = explainer.input.shape         // [C, H, W]
    let probabilities = softmax(explainer.logits)
    func row(_ name: String, _ value: String) -> String { "<tr><th>\(name)</th><td>\(value)</td></tr>\n" }
    var rows = row("architecture", escapeHTML(record.arch))
    rows += row("layer", "\(escapeHTML(explainer.network.layer)): A = f<sup>[l]</sup>(x) has K = \(shape[0]) maps of \(shape[1]) × \(shape[2])")
    rows += row("network input", "\(input[0]) × \(input[1]) × \(input[2])")
    let predicted = explainer.predictedClass
    rows += row("predicted class", "\(escapeHTML(classText(predicted, record.classNames))) (p = \(String(format: "%.4f", probabilities[predicted])))")
    rows += row("explained class c", "\(escapeHTML(classText(record.target, record.classNames))) (p = \(String(format: "%.4f", probabilities[record.target])))")
    if let label = record.label {
        rows += row("true class", escapeHTML(classText(label, record.classNames)))
    }
    if let box = record.box {
        rows += row("object box", "x ∈ [\(box.xMin), \(box.xMax)), y ∈ [\(box.yMin), \(box.yMax)) in input pixels")
    }
    return "<table class=\"facts\">\n\(rows)</table>\n"
}

private func topClassesTable(logits: [Float], classNames: [String]?) -> String {
    let probabilities = softmax(logits)
    let top = logits.indices.sorted { logits[$0] != logits[$1] ? logits[$0] > logits[$1] : $0 < $1 }.prefix(5)
    var html = "<table class=\"top\">\n<tr><th>top classes</th><th>logit</th><th>softmax</th></tr>\n"
    for c in top {
        html += "<tr><td>\(escapeHTML(classText(c, classNames)))</td><td class=\"n\">\(formatNumber(Double(logits[c])))</td><td class=\"n\">\(String(format: "%.4f", probabilities[c]))</td></tr>\n"
    }
    return html + "</table>\n"
}

/// Per method: K, Σα, how many α are positive, min and max, the five largest α with their map
/// index k, and the time the coefficients took.
private func coefficientsTable(_ methods: [MethodOutputs]) -> String {
    var html = "<table>\n<tr><th>method</th><th>time</th><th>K</th><th>Σα</th><th>α &gt; 0</th><th>min α</th><th>max α</th><th>top 5 maps (k: α<sub>k</sub>)</th></tr>\n"
    for outputs in methods {
        let alpha = outputs.explanation.coefficients
        let top = alpha.indices.sorted { alpha[$0] != alpha[$1] ? alpha[$0] > alpha[$1] : $0 < $1 }.prefix(5)
            .map { "\($0): \(formatNumber(Double(alpha[$0])))" }.joined(separator: ", ")
        let cells = [
            formatSeconds(outputs.explanation.seconds), "\(alpha.count)",
            formatNumber(alpha.reduce(0.0) { $0 + Double($1) }), "\(alpha.filter { $0 > 0 }.count)",
            formatNumber(Double(alpha.min() ?? 0)), formatNumber(Double(alpha.max() ?? 0)),
        ].map { "<td class=\"n\">\($0)</td>" }.joined()
        html += "<tr><th>\(escapeHTML(outputs.explanation.method.rawValue))</th>\(cells)<td>\(top)</td></tr>\n"
    }
    return html + "</table>\n"
}

/// Y, O, D, insertion and deletion AUC per method, the best of each column in bold.
private func faithfulnessTable(_ methods: [MethodOutputs]) -> String {
    let scores = methods.compactMap(\.scores)
    // (header, value, whether larger is better); Y is the same for every method.
    var columns: [(String, (ImageScores) -> Double, Bool?)] = [
        ("Y", \.original, nil), ("O ↑", \.explanation, true), ("D ↓", \.deletion, false),
        ("insertion AUC ↑", \.insertionAUC, true), ("deletion AUC ↓", \.deletionAUC, false),
    ]
    if scores.allSatisfy({ $0.energyPointingGame != nil }) {
        columns.append(("pointing game % ↑", { $0.energyPointingGame ?? 0 }, true))
    }
    var html = "<table>\n<tr><th>method</th>" + columns.map { "<th>\($0.0)</th>" }.joined() + "</tr>\n"
    for (outputs, score) in zip(methods, scores) {
        html += "<tr><th>\(escapeHTML(outputs.explanation.method.rawValue))</th>"
        for (_, value, largerIsBetter) in columns {
            html += numberCell(value(score), among: scores.map(value), largerIsBetter: largerIsBetter, decimals: 4)
        }
        html += "</tr>\n"
    }
    html += "</table>\n"
    html += "<p class=\"note\">Probabilities of the explained class c. Y = softmax(f(x))<sub>c</sub>; O = softmax(f(e<sup>c</sup>))<sub>c</sub> with e<sup>c</sup> = s(u(L<sup>c</sup>)) ∘ x, the input kept where the map is high (Eq 11; higher is better: Eq 12 counts O &gt; Y, Eq 13 averages the drop from Y); D = softmax(f((1 − s(u(L<sup>c</sup>))) ∘ x))<sub>c</sub>, the input with the explained region muted (Eq 14; lower is better). Pointing game (when the object's box is known): the share of the map's energy inside the box (Eq 15). Insertion and deletion: the pixels ranked by the map, 2.5 % at a time, are kept while the rest of x is 0 (insertion), or set to 0 (deletion); 0 in the normalised x is the mean colour. The AUCs are the areas under the curves below (Section 4.3.2).</p>\n"
    return html
}

/// A right-aligned number cell, bold when it is the best of `among` (largest or smallest; nil:
/// no best), unless all values are equal and there is nothing to single out.
func numberCell(_ value: Double, among all: [Double], largerIsBetter: Bool?, decimals: Int) -> String {
    let best = largerIsBetter.flatMap { $0 ? all.max() : all.min() }
    let mark = best == value && all.contains { $0 != value } ? " best" : ""
    return "<td class=\"n\(mark)\">\(String(format: "%.\(decimals)f", value))</td>"
}
