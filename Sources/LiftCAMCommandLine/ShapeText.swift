import LiftCAMCore

// `\(shape)` prints "[3, 224, 224]" in this module too, embedded or not (see the core's ShapeText).
extension DefaultStringInterpolation {
    mutating func appendInterpolation(_ values: [Int]) {
        appendLiteral(shapeText(values))
    }
}
