// A small JSON (RFC 8259) value, parser and serializer, for architecture files, reports and
// reference outputs: the library does not import Foundation, so it cannot use JSONSerialization.

/// One JSON value. Objects keep their keys in the order they were written or built.
///
/// Equality is structural and order-sensitive: two values are equal when they would serialize to
/// the same text (except that `.float(x)` and `.number(Double(x))` are different cases).
public enum JSONValue: Sendable {
    /// JSON's `null`.
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// Every number the parser reads is a Double (RFC 8259 §6 leaves the precision to us).
    case number(Double)
    /// A Float32 number, serialized with Float's shortest round-trip digits ("0.1", not the
    /// "0.10000000149011612" that the same value printed as a Double would give).
    case float(Float)
    /// A string, unescaped.
    case string(String)
    /// An array, in order.
    case array([JSONValue])
    /// Key-value pairs in order. The parser refuses duplicate keys.
    case object([(String, JSONValue)])

    /// An array of Float32 numbers that serializes with Float's shortest digits.
    public static func floats(_ values: [Float]) -> JSONValue {
        .array(values.map { .float($0) })
    }
}

// MARK: - Accessors

extension JSONValue {
    /// The value of the first `key` of an object; nil for a missing key or a non-object.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let pairs) = self else { return nil }
        return pairs.first { $0.0 == key }?.1
    }

    /// The element at `index` of an array; nil out of range or for a non-array.
    public subscript(index: Int) -> JSONValue? {
        guard case .array(let items) = self, items.indices.contains(index) else { return nil }
        return items[index]
    }

    /// The number (`.number` or `.float`) as a Double.
    public var doubleValue: Double? {
        if case .number(let value) = self { value } else if case .float(let value) = self { Double(value) } else { nil }
    }

    /// The number as an Int, only when it is integral and fits (2.0 gives 2; 2.5 gives nil).
    public var intValue: Int? { doubleValue.flatMap { Int(exactly: $0) } }

    /// The string of a `.string`; nil otherwise.
    public var stringValue: String? { if case .string(let value) = self { value } else { nil } }
    /// The value of a `.bool`; nil otherwise.
    public var boolValue: Bool? { if case .bool(let value) = self { value } else { nil } }
    /// The elements of an `.array`; nil otherwise.
    public var arrayValue: [JSONValue]? { if case .array(let items) = self { items } else { nil } }
    /// The key-value pairs of an `.object`, in order; nil otherwise.
    public var objectValue: [(String, JSONValue)]? { if case .object(let pairs) = self { pairs } else { nil } }
    /// Whether the value is `null`.
    public var isNull: Bool { if case .null = self { true } else { false } }

    /// An array whose elements are all numbers, as Float32; nil otherwise.
    public var floatArrayValue: [Float]? {
        guard let items = arrayValue else { return nil }
        let values = items.compactMap { $0.doubleValue.map(Float.init) }
        return values.count == items.count ? values : nil
    }
}

extension JSONValue: Equatable {
    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case let (.bool(a), .bool(b)): return a == b
        case let (.number(a), .number(b)): return a == b
        case let (.float(a), .float(b)): return a == b
        case let (.string(a), .string(b)): return a == b
        case let (.array(a), .array(b)): return a == b
        case let (.object(a), .object(b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }
}

extension JSONValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral,
    ExpressibleByDictionaryLiteral {
    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    /// Keeps the order of the literal.
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self = .object(elements) }
}

// MARK: - Serializing

extension JSONValue {
    /// JSON text. Compact by default; `pretty` indents by two spaces per level and puts arrays of
    /// scalars (numbers, strings, booleans, null) on one line, so long number lists stay readable.
    ///
    /// Integral numbers print without ".0"; others with the shortest digits that read back to the
    /// same Double (or Float, for `.float`). NaN and infinities are not JSON: they print as `null`.
    public func serialized(pretty: Bool = false) -> String {
        var text = ""
        write(to: &text, pretty: pretty, indent: 0)
        return text
    }

    private var isScalar: Bool { switch self { case .array, .object: false; default: true } }

    private func write(to text: inout String, pretty: Bool, indent: Int) {
        switch self {
        case .null: text += "null"
        case .bool(let value): text += value ? "true" : "false"
        case .number(let value): text += value.isFinite ? JSONValue.trimmed(value.description) : "null"
        case .float(let value): text += value.isFinite ? JSONValue.trimmed(value.description) : "null"
        case .string(let value): JSONValue.writeQuoted(value, to: &text)
        case .array(let items):
            if items.isEmpty { text += "[]"; return }
            let inline = !pretty || items.allSatisfy { $0.isScalar }
            text += "["
            for (i, item) in items.enumerated() {
                if i > 0 { text += inline && pretty ? ", " : "," }
                if !inline { JSONValue.newline(&text, indent + 1) }
                item.write(to: &text, pretty: pretty, indent: indent + 1)
            }
            if !inline { JSONValue.newline(&text, indent) }
            text += "]"
        case .object(let pairs):
            if pairs.isEmpty { text += "{}"; return }
            text += "{"
            for (i, (key, value)) in pairs.enumerated() {
                if i > 0 { text += "," }
                if pretty { JSONValue.newline(&text, indent + 1) }
                JSONValue.writeQuoted(key, to: &text)
                text += pretty ? ": " : ":"
                value.write(to: &text, pretty: pretty, indent: indent + 1)
            }
            if pretty { JSONValue.newline(&text, indent) }
            text += "}"
        }
    }

    private static func newline(_ text: inout String, _ indent: Int) {
        text += "\n" + String(repeating: "  ", count: indent)
    }

    /// Swift's shortest round-trip description, without the ".0" it gives integral values
    /// ("3.0" → "3", "-0.0" → "-0"); its other forms ("0.1", "1e-07", "1.5e+300") are valid JSON.
    private static func trimmed(_ description: String) -> String {
        description.hasSuffix(".0") ? String(description.dropLast(2)) : description
    }

    /// A JSON string literal: quotes, backslashes and control characters escaped; all else as UTF-8.
    private static func writeQuoted(_ value: String, to text: inout String) {
        text += "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case "\u{08}": text += "\\b"
            case "\u{0C}": text += "\\f"
            case _ where scalar.value < 0x20: text += "\\u" + hex4(scalar.value)
            default: text.unicodeScalars.append(scalar)
            }
        }
        text += "\""
    }
}


/// Four uppercase hexadecimal digits, as in "\u001F".
func hex4(_ value: UInt32) -> String {
    let digits = String(value, radix: 16, uppercase: true)
    return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
}
