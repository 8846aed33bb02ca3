import LiftCAM
import LiftCAMCommandLine
import Foundation

/// The insertion and deletion curves of every method (probability of class c against the fraction
/// of pixels inserted or deleted, Section 4.3.2) as two inline SVG charts with one legend.
func curveCharts(_ methods: [MethodOutputs]) -> String {
    let named = methods.compactMap { outputs in
        outputs.scores.map { (outputs.explanation.method, $0) }
    }
    var html = "<div class=\"maps\">\n"
    html += curveChart(title: "insertion", curves: named.map { ($0.0, $0.1.insertionCurve) })
    html += curveChart(title: "deletion", curves: named.map { ($0.0, $0.1.deletionCurve) })
    html += "</div>\n<p>"
    html += named.map { method, _ in
        "<span class=\"swatch\" style=\"background:\(methodColor(method))\"></span>\(escapeHTML(method.rawValue))"
    }.joined(separator: " &nbsp; ")
    return html + "</p>\n"
}

/// A fixed colour per method, so a method has the same colour in every chart and report.
func methodColor(_ method: CAMMethod) -> String {
    let palette = ["#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                   "#bcbd22", "#17becf"]
    let index = CAMMethod.allCases.firstIndex(of: method) ?? 0
    return palette[index % palette.count]
}

/// One chart: x = fraction of pixels in [0, 1], y = probability in [0, 1], a polyline per curve.
private func curveChart(title: String, curves: [(CAMMethod, [Double])]) -> String {
    let width = 360.0, height = 220.0, left = 40.0, right = 10.0, top = 22.0, bottom = 30.0
    let plotWidth = width - left - right, plotHeight = height - top - bottom
    func x(_ fraction: Double) -> String { String(format: "%.1f", left + fraction * plotWidth) }
    func y(_ probability: Double) -> String {
        String(format: "%.1f", top + (1 - min(max(probability, 0), 1)) * plotHeight)
    }
    var svg = "<figure><svg width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-size=\"11\" role=\"img\" aria-label=\"\(title) curves\">\n"
    svg += "<text x=\"\(x(0.5))\" y=\"14\" text-anchor=\"middle\" font-weight=\"bold\">\(title)</text>\n"
    for tick in stride(from: 0.0, through: 1.0, by: 0.25) {
        svg += "<line x1=\"\(x(0))\" y1=\"\(y(tick))\" x2=\"\(x(1))\" y2=\"\(y(tick))\" stroke=\"#e5e5e5\"/>"
        svg += "<text x=\"\(String(format: "%.1f", left - 4))\" y=\"\(y(tick))\" dy=\"4\" text-anchor=\"end\">\(String(format: "%.2g", tick))</text>"
        svg += "<text x=\"\(x(tick))\" y=\"\(String(format: "%.1f", height - bottom + 14))\" text-anchor=\"middle\">\(Int(tick * 100))%</text>\n"
    }
    svg += "<rect x=\"\(x(0))\" y=\"\(y(1))\" width=\"\(String(format: "%.1f", plotWidth))\" height=\"\(String(format: "%.1f", plotHeight))\" fill=\"none\" stroke=\"#999\"/>\n"
    for (method, curve) in curves where curve.count > 1 {
        let points = curve.enumerated().map { step, p in "\(x(Double(step) / Double(curve.count - 1))),\(y(p))" }
        svg += "<polyline fill=\"none\" stroke=\"\(methodColor(method))\" stroke-width=\"1.5\" points=\"\(points.joined(separator: " "))\"><title>\(escapeHTML(method.rawValue)): AUC \(String(format: "%.4f", areaUnderCurve(curve)))</title></polyline>\n"
    }
    svg += "<text x=\"\(x(0.5))\" y=\"\(String(format: "%.1f", height - 2))\" text-anchor=\"middle\" fill=\"#555\">pixels \(title == "insertion" ? "inserted" : "deleted"), probability of c</text>\n"
    return svg + "</svg></figure>\n"
}
