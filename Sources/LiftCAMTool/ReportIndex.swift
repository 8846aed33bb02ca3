import LiftCAM
import LiftCAMCommandLine
import Foundation

/// The demo's index.html, self-contained like the reports: the mean faithfulness of each method
/// over the images (the paper's Tables 3 and 4 in miniature), then one row per image with its
/// overlays for every method, linking to the image's own report.
func demoIndexHTML(pages: [DemoPage], arch: String) -> String {
    guard let first = pages.first?.record else { return htmlHead(title: "LiftCAM demo") + "</body>\n</html>\n" }
    let shape = first.explainer.activations.shape   // [K, h, w]
    let methods = first.methods.map(\.explanation.method)
    var html = htmlHead(title: "LiftCAM demo")
    html += "<h1>LiftCAM demo <small>\(pages.count) image\(pages.count == 1 ? "" : "s") × \(methods.count) methods</small></h1>\n"
    html += "<p>Model \(escapeHTML(arch)), layer \(escapeHTML(first.explainer.network.layer)) (K = \(shape[0]) maps of \(shape[1]) × \(shape[2])). Each image is explained for its predicted class; click an image for its full report (coefficients, heatmaps, curves).</p>\n"

    html += "<h2>Mean over the images</h2>\n" + summaryTable(pages: pages, methods: methods)

    // The image and one column per method share the page's width, so pictures shrink as methods
    // are added (all ten: 90 px) and the true and predicted classes sit under the image. The table
    // still scrolls sideways in a window narrower than the page, rather than being cut off.
    html += "<h2>Overlays</h2>\n<div class=\"wide\"><table class=\"overlays\">\n<tr><th>image</th>"
    html += methods.map { "<th>\(escapeHTML($0.rawValue))</th>" }.joined() + "</tr>\n"
    let height = first.explainer.input.shape[1], width = first.explainer.input.shape[2]
    let thumbnail = overlayThumbnailWidth(imageWidth: width, columns: methods.count + 1)
    for page in pages {
        let record = page.record
        let link = escapeHTML(page.folder + "/report.html")
        html += "<tr><td><a href=\"\(link)\">"
        html += imageTag(record.picturePNG, width: width, height: height, alt: record.title, shownWidth: thumbnail)
        html += "<br>\(escapeHTML(record.title))</a>"
        html += "<br>true <span class=\"true\">\(escapeHTML(record.label.map { classText($0, record.classNames) } ?? "–"))</span>"
        html += "<br>predicted \(escapeHTML(classText(record.explainer.predictedClass, record.classNames)))</td>"
        for outputs in record.methods {
            html += "<td>" + imageTag(outputs.overlayPNG, width: width, height: height,
                                      alt: "\(outputs.explanation.method.rawValue) overlay", shownWidth: thumbnail) + "</td>"
        }
        html += "</tr>\n"
    }
    html += "</table></div>\n"
    html += "<footer>Written by liftcam demo, a Swift implementation of LIFT-CAM (Jung &amp; Oh, ICCV 2021).</footer>\n"
    return html + "</body>\n</html>\n"
}

/// Per method, `MethodSummary` of the per-image scores: increase in confidence (Eq 12), average
/// drop (Eq 13), average drop in deletion (Eq 14), insertion and deletion AUC, time per image.
private func summaryTable(pages: [DemoPage], methods: [CAMMethod]) -> String {
    let summaries: [(CAMMethod, MethodSummary)] = methods.enumerated().compactMap { index, method in
        let scores = pages.compactMap { page in
            page.record.methods.indices.contains(index) ? page.record.methods[index].scores : nil
        }
        return scores.count == pages.count ? (method, MethodSummary(scores)) : nil
    }
    guard !summaries.isEmpty else { return "<p>No metrics were measured.</p>\n" }
    var columns: [(String, (MethodSummary) -> Double, Bool)] = [
        ("IIC % ↑", \.increaseInConfidence, true), ("AD % ↓", \.averageDrop, false),
        ("ADD % ↑", \.averageDropInDeletion, true), ("insertion AUC ↑", \.insertionAUC, true),
        ("deletion AUC ↓", \.deletionAUC, false),
    ]
    if summaries.allSatisfy({ $0.1.energyPointingGame != nil }) {
        columns.append(("pointing game % ↑", { $0.energyPointingGame ?? 0 }, true))
    }
    var html = "<table>\n<tr><th>method</th>" + columns.map { "<th>\($0.0)</th>" }.joined() + "<th>time / image</th></tr>\n"
    for (method, summary) in summaries {
        html += "<tr><th>\(escapeHTML(method.rawValue))</th>"
        for (_, value, largerIsBetter) in columns {
            html += numberCell(value(summary), among: summaries.map { value($0.1) }, largerIsBetter: largerIsBetter, decimals: 2)
        }
        html += "<td class=\"n\">\(formatSeconds(summary.secondsPerImage))</td></tr>\n"
    }
    html += "</table>\n"
    html += "<p class=\"note\">IIC: share of images where the map alone raises the class probability (Eq 12). AD: mean relative drop of that probability when only the map's region is kept (Eq 13). ADD: mean relative drop when that region is muted instead (Eq 14). Insertion/deletion AUC: Section 4.3.2. Pointing game: the share of the map's energy inside the object's box (Eq 15), over the images that have one. With a handful of images these are anecdotes; <code>liftcam evaluate</code> measures a dataset.</p>\n"
    return html
}

/// Widest page content: the report's `max-width` (1200 px) less its side padding.
let pageContentWidth = 1170

/// Pixels each overlay is shown at in a row of `columns` pictures: small images are enlarged to
/// 96 px and large ones reduced to 112 px, then all shrunk until the row (each cell padded by
/// `overlayCellPadding`) fits `pageContentWidth`, but never below 48 px.
func overlayThumbnailWidth(imageWidth: Int, columns: Int) -> Int {
    let preferred = imageWidth > 112 ? 112 : max(imageWidth, 96)
    let fitting = pageContentWidth / max(columns, 1) - overlayCellPadding
    return max(48, min(preferred, fitting))
}

/// Horizontal pixels an overlay cell adds around its picture: 2 × 3 px cell padding and 2 × 0.2 em
/// (about 3 px) image margin, as `table.overlays` in `htmlHead` sets them, and a pixel of slack.
let overlayCellPadding = 14
