// The protobuf wire format (protobuf.dev/programming-guides/encoding), as much as reading an ONNX
// file needs: a message is a sequence of fields, each a varint tag (field number << 3 | wire
// type) followed by a varint (0), 8 bytes (1), a varint length and that many bytes (2), a group
// (3 … 4, obsolete) or 4 bytes (5). Every length is checked against the bytes that remain before
// anything is read or allocated; a nested message reads the same array within narrower bounds, so
// nothing is copied and every error can name its absolute byte offset.

/// How a field's value is encoded.
enum WireType: UInt8 {
    case varint = 0, fixed64 = 1, lengthDelimited = 2, startGroup = 3, endGroup = 4, fixed32 = 5
}

/// One field's tag: its number and wire type, and the offset of the tag for error messages.
struct ProtobufField {
    var number: Int
    var wireType: WireType
    var offset: Int
}

/// Reads the fields of one message in `bytes[position..<end]`. Errors are `LiftCAMError`s that
/// start with "byte N: "; the decoder adds where in the model it was and the file's path.
struct ProtobufReader {
    /// The whole file; shared with every nested reader, never copied.
    let bytes: [UInt8]
    /// The next byte to read.
    private(set) var position: Int
    /// One past the message's last byte.
    let end: Int
    /// How many messages enclose this one.
    let depth: Int

    /// Messages (and groups) nested deeper than this are refused; ONNX's own nesting is below 10.
    static let maximumDepth = 64

    /// A reader of the whole of `bytes` as one message.
    init(_ bytes: [UInt8]) {
        self.init(bytes, position: 0, end: bytes.count, depth: 0)
    }

    private init(_ bytes: [UInt8], position: Int, end: Int, depth: Int) {
        self.bytes = bytes
        self.position = position
        self.end = end
        self.depth = depth
    }

    /// Whether every field of the message has been read.
    var isAtEnd: Bool { position >= end }

    /// An error at byte `offset`: "byte N: problem".
    static func error(at offset: Int, _ problem: String) -> LiftCAMError {
        LiftCAMError("byte \(offset): \(problem)")
    }

    /// The next field's tag, or nil at the end of the message. Field number 0, wire types 6 and 7
    /// and a stray end-group tag are refused.
    mutating func nextField() throws(LiftCAMError) -> ProtobufField? {
        guard position < end else { return nil }
        let offset = position
        let tag = try readVarint()
        let number = tag >> 3
        guard let wireType = WireType(rawValue: UInt8(tag & 7)) else {
            throw Self.error(at: offset, "invalid wire type \(tag & 7) in the tag of field \(number)")
        }
        guard number >= 1, number <= 0x1FFF_FFFF else { throw Self.error(at: offset, "invalid field number \(number)") }
        if wireType == .endGroup { throw Self.error(at: offset, "end of group \(number) without its start") }
        return ProtobufField(number: Int(number), wireType: wireType, offset: offset)
    }

    /// A varint of at most 10 bytes whose value fits in 64 bits.
    mutating func readVarint() throws(LiftCAMError) -> UInt64 {
        let start = position
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < end else { throw Self.error(at: start, "truncated varint") }
            let byte = bytes[position]
            position += 1
            if shift == 63 && byte > 1 { throw Self.error(at: start, "varint overflows 64 bits") }
            value |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return value }
            shift += 7
        }
    }

    /// Four bytes, little-endian.
    mutating func readFixed32() throws(LiftCAMError) -> UInt32 {
        guard end - position >= 4 else { throw Self.error(at: position, "truncated 4-byte value") }
        defer { position += 4 }
        return UInt32(littleEndianBytes(position, 4))
    }

    /// Eight bytes, little-endian.
    mutating func readFixed64() throws(LiftCAMError) -> UInt64 {
        guard end - position >= 8 else { throw Self.error(at: position, "truncated 8-byte value") }
        defer { position += 8 }
        return littleEndianBytes(position, 8)
    }

    private func littleEndianBytes(_ start: Int, _ count: Int) -> UInt64 {
        var value: UInt64 = 0
        for i in (0..<count).reversed() { value = value << 8 | UInt64(bytes[start + i]) }
        return value
    }

    /// The byte range of a length-delimited value, its length checked against the message's end.
    mutating func readLengthDelimited() throws(LiftCAMError) -> Range<Int> {
        let offset = position
        let length = try readVarint()
        guard length <= UInt64(end - position) else {
            throw Self.error(at: offset, "length \(length) runs past the end of its message (\(end - position) bytes left)")
        }
        let start = position
        position += Int(length)
        return start..<position
    }

    /// A reader of the embedded message that is the value of the current field.
    mutating func readMessage() throws(LiftCAMError) -> ProtobufReader {
        let offset = position
        let range = try readLengthDelimited()
        guard depth < Self.maximumDepth else { throw Self.error(at: offset, "messages nested deeper than \(Self.maximumDepth)") }
        return ProtobufReader(bytes, position: range.lowerBound, end: range.upperBound, depth: depth + 1)
    }

    /// A string field, decoded as UTF-8 with invalid sequences replaced (never refused).
    mutating func readString() throws(LiftCAMError) -> String {
        String(decoding: bytes[try readLengthDelimited()], as: UTF8.self)
    }

    /// Skips the value of `field` (whatever its wire type), groups included.
    mutating func skip(_ field: ProtobufField) throws(LiftCAMError) {
        switch field.wireType {
        case .varint: _ = try readVarint()
        case .fixed64: _ = try readFixed64()
        case .fixed32: _ = try readFixed32()
        case .lengthDelimited: _ = try readLengthDelimited()
        case .endGroup: throw Self.error(at: field.offset, "end of group \(field.number) without its start")
        case .startGroup:
            guard depth < Self.maximumDepth else { throw Self.error(at: field.offset, "groups nested deeper than \(Self.maximumDepth)") }
            var inner = ProtobufReader(bytes, position: position, end: end, depth: depth + 1)
            while true {
                guard inner.position < end else { throw Self.error(at: field.offset, "group \(field.number) has no end") }
                let offset = inner.position
                let tag = try inner.readVarint()
                if tag & 7 == 4 {
                    guard tag >> 3 == UInt64(field.number) else {
                        throw Self.error(at: offset, "group \(field.number) ended by the end of group \(tag >> 3)")
                    }
                    break
                }
                inner.position = offset
                guard let next = try inner.nextField() else { break }
                try inner.skip(next)
            }
            position = inner.position
        }
    }

    /// Refuses a field whose wire type is not the one its number calls for.
    func expect(_ field: ProtobufField, _ wireType: WireType, _ name: String) throws(LiftCAMError) {
        guard field.wireType == wireType else {
            throw Self.error(at: field.offset, "field \(field.number) (\(name)) has wire type \(field.wireType.rawValue), expected \(wireType.rawValue)")
        }
    }

    // MARK: Scalars and repeated scalars

    /// A varint field (int32, int64, enum or bool).
    mutating func readVarint(_ field: ProtobufField, _ name: String) throws(LiftCAMError) -> UInt64 {
        try expect(field, .varint, name)
        return try readVarint()
    }

    /// A string (or bytes) field.
    mutating func readString(_ field: ProtobufField, _ name: String) throws(LiftCAMError) -> String {
        try expect(field, .lengthDelimited, name)
        return try readString()
    }

    /// An embedded message field.
    mutating func readMessage(_ field: ProtobufField, _ name: String) throws(LiftCAMError) -> ProtobufReader {
        try expect(field, .lengthDelimited, name)
        return try readMessage()
    }

    /// One element (wire type 0) or a packed run (wire type 2) of a repeated varint field.
    mutating func appendVarints(_ field: ProtobufField, _ name: String, to values: inout [UInt64]) throws(LiftCAMError) {
        if field.wireType == .varint { values.append(try readVarint()); return }
        try expect(field, .lengthDelimited, name)
        let range = try readLengthDelimited()
        // Each varint ends in one byte below 0x80: that many elements, no more than the bytes hold.
        var count = 0
        for i in range where bytes[i] < 0x80 { count += 1 }
        values.reserveCapacity(values.count + count)
        var packed = ProtobufReader(bytes, position: range.lowerBound, end: range.upperBound, depth: depth + 1)
        while !packed.isAtEnd { values.append(try packed.readVarint()) }
    }

    /// One element (wire type 5 or 1, per `width`) or a packed run of a repeated fixed-width field:
    /// the byte ranges of the elements, to be converted in bulk.
    mutating func appendFixed(_ field: ProtobufField, _ name: String, width: Int, to ranges: inout [Range<Int>]) throws(LiftCAMError) {
        if field.wireType == (width == 4 ? .fixed32 : .fixed64) {
            let start = position
            if width == 4 { _ = try readFixed32() } else { _ = try readFixed64() }
            ranges.append(start..<position)
            return
        }
        try expect(field, .lengthDelimited, name)
        let range = try readLengthDelimited()
        guard range.count % width == 0 else {
            throw Self.error(at: field.offset, "packed \(name) holds \(range.count) bytes, not a multiple of \(width)")
        }
        ranges.append(range)
    }
}
