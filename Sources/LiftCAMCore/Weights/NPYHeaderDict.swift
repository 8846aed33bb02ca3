// The header of an NPY file is the repr() of a Python dict, e.g.
//     {'descr': '<f4', 'fortran_order': False, 'shape': (3, 224, 224), }
// numpy reads it with ast.literal_eval; we parse the few literal forms such a dict can hold
// (strings, True/False/None, integers, tuples and lists) instead of evaluating anything.

/// The three entries numpy requires in an NPY header, parsed from the header's text.
struct NPYHeaderDict {
    let dtype: String
    let fortranOrder: Bool
    let shape: [Int]

    /// Parses `text` (the bytes between the header length and the data); `name` starts errors.
    init(text: [UInt8], name: String) throws(LiftCAMError) {
        var parser = PythonLiteralParser(text: text, name: name)
        let entries = try parser.parseHeaderDict()
        func entry(_ key: String) throws(LiftCAMError) -> PythonLiteral {
            guard let value = entries.first(where: { $0.key == key })?.value else {
                throw parser.malformed("no '\(key)' key")
            }
            return value
        }
        for (key, _) in entries where !["descr", "fortran_order", "shape"].contains(key) {
            throw parser.malformed("unexpected key '\(key)'")
        }
        switch try entry("descr") {
        case .string(let value): dtype = value
        case .list:
            throw LiftCAMError.file(name, "structured dtypes (a list as 'descr') are not supported (only float32 '<f4' and float64 '<f8')")
        default: throw parser.malformed("'descr' is not a string")
        }
        guard case .bool(let fortran) = try entry("fortran_order") else {
            throw parser.malformed("'fortran_order' is not True or False")
        }
        fortranOrder = fortran
        guard case .tuple(let items) = try entry("shape") else { throw parser.malformed("'shape' is not a tuple") }
        shape = try items.map { (item) throws(LiftCAMError) -> Int in
            guard case .integer(let size) = item else { throw parser.malformed("'shape' holds a non-integer") }
            return size
        }
    }
}

/// The values a header dict can hold.
indirect enum PythonLiteral {
    case string(String)
    case bool(Bool)
    case none
    case integer(Int)
    case tuple([PythonLiteral])
    case list([PythonLiteral])
}

/// A recursive-descent parser for the Python literals of an NPY header, over its bytes.
struct PythonLiteralParser {
    let text: [UInt8]
    let name: String
    var position = 0
    var depth = 0

    init(text: [UInt8], name: String) {
        self.text = text
        self.name = name
    }

    /// "<name>: malformed NPY header (<problem>): <the header, trimmed>".
    func malformed(_ problem: String) -> LiftCAMError {
        // Show the header as numpy wrote it, without its padding, non-printable bytes as "?".
        var shown = String(decoding: text.map { $0 >= 0x20 && $0 < 0x7F ? $0 : UInt8(ascii: "?") }, as: UTF8.self)
        while shown.hasSuffix(" ") || shown.hasSuffix("?") { shown.removeLast() }
        if shown.count > 120 { shown = String(shown.prefix(120)) + "..." }
        return LiftCAMError.file(name, "malformed NPY header (\(oneLine(problem))): \(shown)")
    }

    /// `{key: value, ...}` with an optional trailing comma, then only whitespace to the end.
    mutating func parseHeaderDict() throws(LiftCAMError) -> [(key: String, value: PythonLiteral)] {
        skipWhitespace()
        guard consume("{") else { throw malformed("it does not start with '{'") }
        var entries: [(key: String, value: PythonLiteral)] = []
        while true {
            skipWhitespace()
            if consume("}") { break }
            guard case .string(let key) = try parseValue() else { throw malformed("a key is not a string") }
            if entries.contains(where: { $0.key == key }) { throw malformed("duplicate key '\(key)'") }
            skipWhitespace()
            guard consume(":") else { throw malformed("expected ':' after '\(key)'") }
            entries.append((key, try parseValue()))
            skipWhitespace()
            if consume("}") { break }
            guard consume(",") else { throw malformed("expected ',' or '}' after the value of '\(key)'") }
        }
        skipWhitespace()
        guard position == text.count else { throw malformed("text after the closing '}'") }
        return entries
    }

    private mutating func parseValue() throws(LiftCAMError) -> PythonLiteral {
        skipWhitespace()
        guard position < text.count else { throw malformed("it ends where a value was expected") }
        switch text[position] {
        case UInt8(ascii: "'"), UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "("): return .tuple(try parseSequence(closing: ")"))
        case UInt8(ascii: "["): return .list(try parseSequence(closing: "]"))
        case UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseInteger()
        default:
            for (word, value) in [("True", PythonLiteral.bool(true)), ("False", .bool(false)), ("None", .none)]
            where text[position...].starts(with: Array(word.utf8)) {
                position += word.utf8.count
                return value
            }
            throw malformed("unexpected '\(Unicode.Scalar(text[position]))'")
        }
    }

    /// A tuple or list: items separated by commas, an optional trailing comma.
    private mutating func parseSequence(closing: Unicode.Scalar) throws(LiftCAMError) -> [PythonLiteral] {
        depth += 1
        // Header values nest two levels at most (a list of tuples); deeper input is not a header.
        guard depth <= 8 else { throw malformed("nested too deeply") }
        position += 1
        var items: [PythonLiteral] = []
        while true {
            skipWhitespace()
            if consume(closing) { break }
            items.append(try parseValue())
            skipWhitespace()
            if consume(closing) { break }
            guard consume(",") else { throw malformed("expected ',' or '\(closing)'") }
        }
        depth -= 1
        return items
    }

    /// A quoted string, single or double quotes; a backslash takes the next byte literally.
    private mutating func parseString() throws(LiftCAMError) -> String {
        let quote = text[position]
        position += 1
        var bytes: [UInt8] = []
        while position < text.count && text[position] != quote {
            if text[position] == UInt8(ascii: "\\") { position += 1 }
            if position < text.count { bytes.append(text[position]) }
            position += 1
        }
        guard position < text.count else { throw malformed("unterminated string") }
        position += 1
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A decimal integer with an optional sign and the "L" suffix of Python 2 longs.
    private mutating func parseInteger() throws(LiftCAMError) -> PythonLiteral {
        let start = position
        _ = consume("-") || consume("+")
        while position < text.count && (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(text[position]) { position += 1 }
        let digits = String(decoding: text[start..<position], as: UTF8.self)
        _ = consume("L") || consume("l")
        guard digits.contains(where: { $0.isNumber }) else { throw malformed("a sign without digits") }
        guard let value = Int(digits) else { throw malformed("integer \(digits) is absurdly large") }
        return .integer(value)
    }

    private mutating func skipWhitespace() {
        while position < text.count && [0x20, 0x09, 0x0A, 0x0D].contains(text[position]) { position += 1 }
    }

    private mutating func consume(_ character: Unicode.Scalar) -> Bool {
        guard position < text.count && text[position] == UInt8(ascii: character) else { return false }
        position += 1
        return true
    }
}
