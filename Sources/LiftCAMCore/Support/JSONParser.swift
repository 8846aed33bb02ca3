// Parsing JSON text into `JSONValue` (RFC 8259), with errors that give the line and column.

// MARK: - Parsing

extension JSONValue {
    /// The deepest nesting of arrays and objects `parse` accepts; deeper input is refused rather
    /// than allowed to exhaust the stack of a recursive parser.
    public static let maximumNestingDepth = 512

    /// Parses JSON text (RFC 8259). Errors read "JSON: line L, column C: problem" (columns count
    /// characters from 1); callers prepend the file name.
    public static func parse(_ text: String) throws(LiftCAMError) -> JSONValue {
        var parser = JSONParser(bytes: Array(text.utf8))
        return try parser.parseDocument()
    }
}

/// A recursive-descent parser over the UTF-8 bytes of the text (valid UTF-8, since it came from a
/// String, so bytes outside escapes can be copied through unchanged).
private struct JSONParser {
    let bytes: [UInt8]
    var position = 0
    var depth = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func parseDocument() throws(LiftCAMError) -> JSONValue {
        skipWhitespace()
        let value = try parseValue()
        skipWhitespace()
        if position < bytes.count { throw failure("unexpected \(describeCurrent()) after the JSON value") }
        return value
    }

    private mutating func parseValue() throws(LiftCAMError) -> JSONValue {
        guard position < bytes.count else { throw failure("unexpected end of input, expected a value") }
        switch bytes[position] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): return try parseLiteral("true", .bool(true))
        case UInt8(ascii: "f"): return try parseLiteral("false", .bool(false))
        case UInt8(ascii: "n"): return try parseLiteral("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw failure("unexpected \(describeCurrent()), expected a value")
        }
    }

    private mutating func parseLiteral(_ word: String, _ value: JSONValue) throws(LiftCAMError) -> JSONValue {
        let expected = Array(word.utf8)
        guard bytes[position...].starts(with: expected) else { throw failure("invalid literal, expected '\(word)'") }
        position += expected.count
        return value
    }

    private mutating func enterNesting() throws(LiftCAMError) {
        depth += 1
        if depth > JSONValue.maximumNestingDepth {
            throw failure("nesting deeper than \(JSONValue.maximumNestingDepth) levels")
        }
    }

    private mutating func parseArray() throws(LiftCAMError) -> JSONValue {
        try enterNesting()
        position += 1  // "["
        var items: [JSONValue] = []
        skipWhitespace()
        if consume("]") { depth -= 1; return .array(items) }
        while true {
            skipWhitespace()
            if peek("]") { throw failure("trailing comma before ']'") }
            items.append(try parseValue())
            skipWhitespace()
            if consume("]") { break }
            guard consume(",") else { throw failure("expected ',' or ']' in an array, found \(describeCurrent())") }
        }
        depth -= 1
        return .array(items)
    }

    private mutating func parseObject() throws(LiftCAMError) -> JSONValue {
        try enterNesting()
        position += 1  // "{"
        var pairs: [(String, JSONValue)] = []
        var seen = Set<String>()
        skipWhitespace()
        if consume("}") { depth -= 1; return .object(pairs) }
        while true {
            skipWhitespace()
            if peek("}") { throw failure("trailing comma before '}'") }
            guard peek("\"") else { throw failure("expected a string key in an object, found \(describeCurrent())") }
            let keyPosition = position
            let key = try parseString()
            guard seen.insert(key).inserted else {
                position = keyPosition
                throw failure("duplicate key \"\(key)\"")
            }
            skipWhitespace()
            guard consume(":") else { throw failure("expected ':' after key \"\(key)\", found \(describeCurrent())") }
            skipWhitespace()
            pairs.append((key, try parseValue()))
            skipWhitespace()
            if consume("}") { break }
            guard consume(",") else { throw failure("expected ',' or '}' in an object, found \(describeCurrent())") }
        }
        depth -= 1
        return .object(pairs)
    }

    private mutating func parseString() throws(LiftCAMError) -> String {
        let start = position
        position += 1  // opening quote
        var utf8: [UInt8] = []
        while true {
            guard position < bytes.count else {
                position = start
                throw failure("unterminated string")
            }
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") { position += 1; break }
            if byte < 0x20 { throw failure("\(describeCurrent()) in a string must be escaped") }
            if byte != UInt8(ascii: "\\") {
                utf8.append(byte)
                position += 1
                continue
            }
            position += 1
            guard position < bytes.count else { continue }  // reported as unterminated
            let escape = bytes[position]
            position += 1
            switch escape {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(escape)
            case UInt8(ascii: "b"): utf8.append(0x08)
            case UInt8(ascii: "f"): utf8.append(0x0C)
            case UInt8(ascii: "n"): utf8.append(0x0A)
            case UInt8(ascii: "r"): utf8.append(0x0D)
            case UInt8(ascii: "t"): utf8.append(0x09)
            case UInt8(ascii: "u"): utf8.append(contentsOf: String(try parseUnicodeEscape()).utf8)
            default:
                position -= 1
                let character = describeCurrent()
                position -= 1
                throw failure("invalid escape: backslash followed by \(character) in a string")
            }
        }
        return String(decoding: utf8, as: UTF8.self)
    }

    /// The scalar of "\uXXXX" (the "\u" already consumed), joining a UTF-16 surrogate pair.
    private mutating func parseUnicodeEscape() throws(LiftCAMError) -> Unicode.Scalar {
        let escapeStart = position - 2
        let first = try parseHex4()
        if !(0xD800...0xDFFF).contains(first) { return Unicode.Scalar(first)! }
        // A high surrogate must be followed by "\u" and a low one; anything else is an unpaired half.
        if (0xD800...0xDBFF).contains(first) && bytes[position...].starts(with: Array("\\u".utf8)) {
            position += 2
            let second = try parseHex4()
            if (0xDC00...0xDFFF).contains(second) {
                return Unicode.Scalar(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00))!
            }
        }
        position = escapeStart
        throw failure("unpaired surrogate \\u\(hex4(first)) in a string")
    }

    private mutating func parseHex4() throws(LiftCAMError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            // One character at a time, so UInt32(_:radix:) never sees the "+" or "-" it would accept.
            guard position < bytes.count, let digit = UInt32(String(Unicode.Scalar(bytes[position])), radix: 16)
            else { throw failure("expected four hexadecimal digits after \\u") }
            value = value * 16 + digit
            position += 1
        }
        return value
    }

    /// -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? read as the nearest Double.
    private mutating func parseNumber() throws(LiftCAMError) -> JSONValue {
        let start = position
        _ = consume("-")
        if consume("0") {
            if position < bytes.count && isDigit(bytes[position]) { throw failure("leading zero in a number") }
        } else if !skipDigits() {
            throw failure("expected a digit after '-'")
        }
        if consume(".") && !skipDigits() { throw failure("expected a digit after the decimal point") }
        if consume("e") || consume("E") {
            if !consume("+") { _ = consume("-") }
            if !skipDigits() { throw failure("expected a digit in the exponent") }
        }
        let literal = String(decoding: bytes[start..<position], as: UTF8.self)
        // The grammar above is a subset of what Double(String) accepts, which rounds correctly.
        guard let value = Double(literal), value.isFinite else {
            position = start
            throw failure("number \(literal) is out of range for a 64-bit float")
        }
        return .number(value)
    }

    private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    /// Skips [0-9]*; whether there was at least one digit.
    private mutating func skipDigits() -> Bool {
        let start = position
        while position < bytes.count && isDigit(bytes[position]) { position += 1 }
        return position > start
    }

    /// Skips space, tab, line feed and carriage return (RFC 8259 §2: the only whitespace).
    private mutating func skipWhitespace() {
        while position < bytes.count && [0x20, 0x09, 0x0A, 0x0D].contains(bytes[position]) { position += 1 }
    }

    private func peek(_ character: Unicode.Scalar) -> Bool {
        position < bytes.count && bytes[position] == UInt8(ascii: character)
    }

    private mutating func consume(_ character: Unicode.Scalar) -> Bool {
        guard peek(character) else { return false }
        position += 1
        return true
    }

    /// The character at `position` for a message: "'x'", "end of input", "control character U+000A".
    private func describeCurrent() -> String {
        guard position < bytes.count else { return "end of input" }
        let byte = bytes[position]
        if byte < 0x20 || byte == 0x7F { return "control character U+\(hex4(UInt32(byte)))" }
        // Decode the whole (possibly multi-byte) character starting here.
        var end = position + 1
        while end < bytes.count && bytes[end] & 0xC0 == 0x80 { end += 1 }
        return "'" + String(decoding: bytes[position..<end], as: UTF8.self) + "'"
    }

    /// "JSON: line L, column C: problem" for the current position (column in characters).
    private func failure(_ problem: String) -> LiftCAMError {
        var line = 1
        var column = 1
        for byte in bytes[..<min(position, bytes.count)] {
            if byte == 0x0A {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {  // not a UTF-8 continuation byte: a new character
                column += 1
            }
        }
        return LiftCAMError("JSON: line \(line), column \(column): \(oneLine(problem))")
    }
}
