// Shapes in messages print as Swift prints an [Int] ("[3, 224, 224]"). Embedded Swift has no
// reflection, so it cannot print an array by itself ("(cannot print value in embedded Swift)"):
// this overload, more specific than the standard library's generic one, is chosen for every
// `\(shape)` in this module, natively and embedded alike.

extension DefaultStringInterpolation {
    mutating func appendInterpolation(_ values: [Int]) {
        appendLiteral(shapeText(values))
    }
}

/// "[a, b, c]", as Swift's `[Int].description`.
public func shapeText(_ values: [Int]) -> String {
    var text = "["
    for (index, value) in values.enumerated() {
        if index > 0 { text += ", " }
        text += String(value)
    }
    return text + "]"
}
