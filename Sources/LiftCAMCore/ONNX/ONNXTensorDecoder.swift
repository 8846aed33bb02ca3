// TensorProto from the wire format: dims (1), data_type (2), float_data (4), int32_data (5),
// string_data (6, refused), int64_data (7), name (8), raw_data (9), double_data (10),
// uint64_data (11), external_data (13), data_location (14). The fields are collected first (raw
// data as a byte range, not copied), then checked against the dims and converted in one pass:
// float32 and int64 raw data are one bulk copy. Sizes are checked against the bytes present
// before the elements are allocated.

extension ONNXTensor {
    /// Tensors of more elements are refused (2^31, or what fits a 32-bit address space).
    public static let maximumElementCount = Int.bitWidth > 32 ? 1 << 31 : Int.max / 8
}

/// TensorProto.DataType names, by number, for messages.
private let dataTypeNames = ["UNDEFINED", "FLOAT", "UINT8", "INT8", "UINT16", "INT16", "INT32", "INT64", "STRING", "BOOL",
                             "FLOAT16", "DOUBLE", "UINT32", "UINT64", "COMPLEX64", "COMPLEX128", "BFLOAT16", "FLOAT8E4M3FN",
                             "FLOAT8E4M3FNUZ", "FLOAT8E5M2", "FLOAT8E5M2FNUZ", "UINT4", "INT4", "FLOAT4E2M1", "FLOAT8E8M0", "UINT2"]

/// "FLOAT16 (10)".
func dataTypeText(_ type: UInt64) -> String {
    type < UInt64(dataTypeNames.count) ? "\(dataTypeNames[Int(type)]) (\(type))" : "\(type)"
}

/// Bytes per element in raw_data of the types LiftCAM reads; nil for the others.
private func elementWidth(_ type: UInt64) -> Int? {
    switch type {
    case 2, 3, 9: return 1
    case 4, 5, 10: return 2
    case 1, 6, 12: return 4
    case 7, 11, 13: return 8
    default: return nil
    }
}

/// The typed field that holds elements of `type` when raw_data does not.
private func typedField(_ type: UInt64) -> String {
    switch type {
    case 1: return "float_data"
    case 7: return "int64_data"
    case 11: return "double_data"
    case 12, 13: return "uint64_data"
    default: return "int32_data"
    }
}

/// Decodes one TensorProto; `place` ("GraphProto.initializer[3]") starts its errors, followed by
/// the tensor's name once it is known.
func decodeTensor(_ reader: inout ProtobufReader, place: String, _ fetch: ExternalDataFetcher) throws(LiftCAMError) -> ONNXTensor {
    var fields = TensorFields()
    // An error in the fields names the tensor when its name came before (raw_data follows it).
    do {
        try fields.read(&reader)
    } catch {
        throw LiftCAMError("\(fields.name.isEmpty ? place : "\(place) '\(oneLine(fields.name))'"): \(error.description)")
    }
    let named = fields.name.isEmpty ? place : "\(place) '\(oneLine(fields.name))'"
    return try within(named) { () throws(LiftCAMError) in try fields.tensor(reader.bytes, fetch) }
}

/// A TensorProto's fields as read, before they are checked against each other.
private struct TensorFields {
    var name = ""
    var dims: [UInt64] = []
    var dataType: UInt64 = 0
    var dataLocation: UInt64 = 0
    var raw: Range<Int>?
    var floatRanges: [Range<Int>] = [], doubleRanges: [Range<Int>] = []
    var int32s: [UInt64] = [], int64s: [UInt64] = [], uint64s: [UInt64] = []
    var external: [(String, String)] = []
    /// The typed data fields present, in the order first seen.
    var typed: [String] = []

    mutating func read(_ reader: inout ProtobufReader) throws(LiftCAMError) {
        while let field = try reader.nextField() {
            let typedName: String?
            switch field.number {
            case 1: try reader.appendVarints(field, "dims", to: &dims); typedName = nil
            case 2: dataType = try reader.readVarint(field, "data_type"); typedName = nil
            case 4: try reader.appendFixed(field, "float_data", width: 4, to: &floatRanges); typedName = "float_data"
            case 5: try reader.appendVarints(field, "int32_data", to: &int32s); typedName = "int32_data"
            case 6: try reader.skip(field); typedName = "string_data"
            case 7: try reader.appendVarints(field, "int64_data", to: &int64s); typedName = "int64_data"
            case 8: name = try reader.readString(field, "name"); typedName = nil
            case 9:
                try reader.expect(field, .lengthDelimited, "raw_data")
                raw = try reader.readLengthDelimited(); typedName = nil
            case 10: try reader.appendFixed(field, "double_data", width: 8, to: &doubleRanges); typedName = "double_data"
            case 11: try reader.appendVarints(field, "uint64_data", to: &uint64s); typedName = "uint64_data"
            case 13:
                var entry = try reader.readMessage(field, "external_data")
                external.append(try within("external_data[\(external.count)]") { () throws(LiftCAMError) in try decodeStringPair(&entry) })
                typedName = nil
            case 14: dataLocation = try reader.readVarint(field, "data_location"); typedName = nil
            default: try reader.skip(field); typedName = nil
            }
            if let typedName, !typed.contains(typedName) { typed.append(typedName) }
        }
    }

    /// The tensor these fields describe, its data taken from raw_data, the typed field of its
    /// type, or the external file.
    func tensor(_ bytes: [UInt8], _ fetch: ExternalDataFetcher) throws(LiftCAMError) -> ONNXTensor {
        guard let width = elementWidth(dataType) else {
            if dataType == 0 { throw LiftCAMError("data_type is not set") }
            throw LiftCAMError("data type \(dataTypeText(dataType)) is not supported (LiftCAM reads FLOAT, FLOAT16, DOUBLE and integer tensors)")
        }
        let (shape, count) = try checkedShape(dims)
        let sources = typed + (raw == nil ? [] : ["raw_data"]) + (dataLocation == 1 ? ["external data"] : [])
        guard sources.count <= 1 else { throw LiftCAMError("holds both \(sources[0]) and \(sources[1])") }
        guard dataLocation <= 1 else { throw LiftCAMError("unknown data_location \(dataLocation)") }
        let need = "dims \(shape) need"
        if dataLocation == 1 {
            let request = try externalRequest()
            if let length = request.length, length != count * width {
                throw LiftCAMError("external data length is \(length) bytes, \(need) \(count * width)")
            }
            let data = try fetch(request)
            guard data.count == count * width else {
                throw LiftCAMError("external data '\(oneLine(request.location))' holds \(data.count) bytes, \(need) \(count * width)")
            }
            let converted = data.withUnsafeBytes { convertRaw($0, type: dataType, count: count) }
            return ONNXTensor(name: name, dims: shape, data: dataType == 13 ? try checkedUInt64(converted) : converted)
        }
        if let raw {
            guard raw.count == count * width else { throw LiftCAMError("raw_data holds \(raw.count) bytes, \(need) \(count * width)") }
            let data = bytes.withUnsafeBytes { convertRaw(UnsafeRawBufferPointer(rebasing: $0[raw]), type: dataType, count: count) }
            return ONNXTensor(name: name, dims: shape, data: dataType == 13 ? try checkedUInt64(data) : data)
        }
        let field = typedField(dataType)
        if let given = typed.first, given != field {
            throw LiftCAMError("\(given) given for a \(dataTypeText(dataType)) tensor, which keeps its elements in \(field)")
        }
        let values: Int
        switch field {
        case "float_data": values = floatRanges.reduce(0) { $0 + $1.count } / 4
        case "double_data": values = doubleRanges.reduce(0) { $0 + $1.count } / 8
        case "int64_data": values = int64s.count
        case "uint64_data": values = uint64s.count
        default: values = int32s.count
        }
        guard values == count else { throw LiftCAMError("\(field) holds \(values) values, \(need) \(count)") }
        let data: ONNXTensorData
        switch dataType {
        case 1: data = .floats(floatsFromFixed32(bytes, floatRanges))
        case 11: data = .floats(floatsFromFixed64(bytes, doubleRanges))
        case 10: data = .floats(int32s.map { floatFromHalf(UInt16(truncatingIfNeeded: $0)) })
        case 7: data = .integers(int64s.map { Int64(bitPattern: $0) })
        case 12: data = .integers(uint64s.map { Int64(UInt32(truncatingIfNeeded: $0)) })
        case 13:
            if let index = uint64s.firstIndex(where: { $0 > UInt64(Int64.max) }) {
                throw LiftCAMError("uint64_data[\(index)] = \(uint64s[index]) is past Int64")
            }
            data = .integers(uint64s.map { Int64($0) })
        default: data = .integers(int32s.map { integerFromInt32Data($0, type: dataType) })
        }
        return ONNXTensor(name: name, dims: shape, data: data)
    }

    /// external_data's location (relative, without ".."), offset and length.
    func externalRequest() throws(LiftCAMError) -> ONNXExternalData {
        var location: String?, offset = 0, length: Int?
        for (key, value) in external {
            switch key {
            case "location": location = value
            case "offset": offset = try externalInteger(value, "offset")
            case "length": length = try externalInteger(value, "length")
            default: break
            }
        }
        guard let location else { throw LiftCAMError("data_location is EXTERNAL but external_data has no 'location'") }
        let bytes = Array(location.utf8)
        let separators: [UInt8] = [UInt8(ascii: "/"), UInt8(ascii: "\\")]
        guard !bytes.isEmpty, !bytes.contains(0) else { throw LiftCAMError("external data location '\(oneLine(location))' is empty or holds a NUL byte") }
        if separators.contains(bytes[0]) || (bytes.count > 1 && bytes[1] == UInt8(ascii: ":")) {
            throw LiftCAMError("external data location '\(oneLine(location))' is an absolute path; it must be relative to the model's folder")
        }
        // "a//./b" is "a/b"; a ".." could leave the folder.
        let components = bytes.split(whereSeparator: { separators.contains($0) }).filter { !$0.elementsEqual([0x2E]) }
        if components.contains(where: { $0.elementsEqual([0x2E, 0x2E]) }) {
            throw LiftCAMError("external data location '\(oneLine(location))' has a '..' component; it must stay inside the model's folder")
        }
        guard !components.isEmpty else { throw LiftCAMError("external data location '\(oneLine(location))' names no file") }
        let relative = components.map { String(decoding: $0, as: UTF8.self) }.joined(separator: "/")
        return ONNXExternalData(tensorName: name, location: relative, offset: offset, length: length)
    }
}

/// A decimal string of external_data ("offset", "length"): digits only, at most 18 of them.
private func externalInteger(_ text: String, _ key: String) throws(LiftCAMError) -> Int {
    let digits = Array(text.utf8)
    guard !digits.isEmpty, digits.count <= 18, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
        throw LiftCAMError("external_data \(key) '\(oneLine(text))' is not a non-negative integer")
    }
    let value = digits.reduce(Int64(0)) { $0 * 10 + Int64($1 - 0x30) }
    guard value <= Int64(Int.max) else { throw LiftCAMError("external_data \(key) \(value) is too large") }
    return Int(value)
}

/// The dims as Ints and their product, refused when a dim is negative, or it or the product passes
/// `ONNXTensor.maximumElementCount`.
private func checkedShape(_ dims: [UInt64]) throws(LiftCAMError) -> ([Int], Int) {
    let values = dims.map { Int64(bitPattern: $0) }
    let text = "[" + values.map { String($0) }.joined(separator: ", ") + "]"
    // Each dimension within the limit too, so that an empty tensor's strides cannot overflow either.
    guard values.allSatisfy({ $0 >= 0 && $0 <= Int64(ONNXTensor.maximumElementCount) }) else {
        throw LiftCAMError("dims \(text) has a negative dimension or one past \(ONNXTensor.maximumElementCount)")
    }
    var count = 1
    if !values.contains(0) {
        for value in values {
            let (product, overflow) = count.multipliedReportingOverflow(by: Int(value))
            guard !overflow, product <= ONNXTensor.maximumElementCount else {
                throw LiftCAMError("dims \(text) describe more than \(ONNXTensor.maximumElementCount) elements")
            }
            count = product
        }
    } else {
        count = 0
    }
    return (values.map { Int($0) }, count)
}

// MARK: - Converting elements

/// The elements of raw_data (or an external file), little-endian, `count` of them of `type`.
private func convertRaw(_ data: UnsafeRawBufferPointer, type: UInt64, count: Int) -> ONNXTensorData {
    switch type {
    case 1: return .floats(floatsFromFixed32(data))
    case 11: return .floats([Float](unsafeUninitializedCapacity: count) { out, initialized in
        for i in 0..<count { out[i] = Float(Double(bitPattern: UInt64(littleEndian: data.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))) }
        initialized = count
    })
    case 10: return .floats([Float](unsafeUninitializedCapacity: count) { out, initialized in
        for i in 0..<count { out[i] = floatFromHalf(UInt16(littleEndian: data.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
        initialized = count
    })
    case 7:
        var values = [Int64](repeating: 0, count: count)
        values.withUnsafeMutableBytes { $0.copyMemory(from: data) }
        #if _endian(big)
        for i in values.indices { values[i] = Int64(littleEndian: values[i]) }
        #endif
        return .integers(values)
    case 6: return .integers(integers(data, count, Int32.self))
    case 5: return .integers(integers(data, count, Int16.self))
    case 3: return .integers(integers(data, count, Int8.self))
    case 2: return .integers(integers(data, count, UInt8.self))
    case 4: return .integers(integers(data, count, UInt16.self))
    case 12: return .integers(integers(data, count, UInt32.self))
    case 9: return .integers(integers(data, count, UInt8.self).map { $0 == 0 ? 0 : 1 })
    default: return .integers(integers(data, count, UInt64.self))   // 13, UINT64: checkedUInt64 follows
    }
}

/// Refuses UINT64 elements past Int64.max, which `integers` wrapped to negative values.
private func checkedUInt64(_ data: ONNXTensorData) throws(LiftCAMError) -> ONNXTensorData {
    if case .integers(let values) = data, let index = values.firstIndex(where: { $0 < 0 }) {
        throw LiftCAMError("element \(index) (\(UInt64(bitPattern: values[index]))) of UINT64 data is past Int64")
    }
    return data
}

/// `count` little-endian integers of type T, widened (or, for UInt64, reinterpreted) to Int64.
private func integers<T: FixedWidthInteger>(_ data: UnsafeRawBufferPointer, _ count: Int, _: T.Type) -> [Int64] {
    [Int64](unsafeUninitializedCapacity: count) { out, initialized in
        for i in 0..<count {
            out[i] = Int64(truncatingIfNeeded: T(littleEndian: data.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self)))
        }
        initialized = count
    }
}

/// Little-endian float32 bytes, one bulk copy.
private func floatsFromFixed32(_ data: UnsafeRawBufferPointer) -> [Float] {
    [Float](unsafeUninitializedCapacity: data.count / 4) { out, initialized in
        UnsafeMutableRawBufferPointer(out).copyMemory(from: UnsafeRawBufferPointer(rebasing: data[..<(data.count / 4 * 4)]))
        #if _endian(big)
        for i in out.indices { out[i] = Float(bitPattern: UInt32(littleEndian: out[i].bitPattern)) }
        #endif
        initialized = data.count / 4
    }
}

/// The float32 elements of byte ranges of `bytes` (a packed run, or one unpacked element each).
func floatsFromFixed32(_ bytes: [UInt8], _ ranges: [Range<Int>]) -> [Float] {
    bytes.withUnsafeBytes { all in
        var floats: [Float] = []
        floats.reserveCapacity(ranges.reduce(0) { $0 + $1.count } / 4)
        for range in ranges { floats += floatsFromFixed32(UnsafeRawBufferPointer(rebasing: all[range])) }
        return floats
    }
}

/// The float64 elements of byte ranges of `bytes`, rounded to Float.
private func floatsFromFixed64(_ bytes: [UInt8], _ ranges: [Range<Int>]) -> [Float] {
    var floats: [Float] = []
    floats.reserveCapacity(ranges.reduce(0) { $0 + $1.count } / 8)
    bytes.withUnsafeBytes { all in
        for range in ranges {
            for offset in stride(from: range.lowerBound, to: range.upperBound, by: 8) {
                floats.append(Float(Double(bitPattern: UInt64(littleEndian: all.loadUnaligned(fromByteOffset: offset, as: UInt64.self)))))
            }
        }
    }
    return floats
}

/// An int32_data element of an integer or BOOL tensor, truncated to the type's width as
/// numpy's astype does.
private func integerFromInt32Data(_ value: UInt64, type: UInt64) -> Int64 {
    switch type {
    case 2: return Int64(UInt8(truncatingIfNeeded: value))
    case 3: return Int64(Int8(truncatingIfNeeded: value))
    case 4: return Int64(UInt16(truncatingIfNeeded: value))
    case 5: return Int64(Int16(truncatingIfNeeded: value))
    case 9: return value == 0 ? 0 : 1
    default: return Int64(Int32(truncatingIfNeeded: value))
    }
}

/// An IEEE half-precision bit pattern as Float (exact: every half is a Float).
func floatFromHalf(_ bits: UInt16) -> Float {
    let sign: UInt32 = UInt32(bits & 0x8000) << 16
    let exponent = UInt32(bits >> 10) & 0x1F
    let mantissa = UInt32(bits & 0x3FF)
    if exponent == 0x1F { return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13) }
    if exponent == 0 {
        let magnitude = Float(mantissa) * (1 / 16_777_216)   // mantissa · 2^-24, exact
        return sign == 0 ? magnitude : -magnitude
    }
    return Float(bitPattern: sign | (exponent + 112) << 23 | mantissa << 13)
}

// MARK: - External files

/// Reads external data through a `FileSystem`, relative to the model's folder. Exporters write
/// the tensors of one file in order, so the file of the last request stays open and is read on
/// forward; a request behind it, or in another file, opens that file again.
struct ExternalDataFiles<Files: FileSystem> {
    let files: Files
    let directory: String
    private var current: (location: String, file: Files.File, position: Int)?

    init(files: Files, directory: String) {
        self.files = files
        self.directory = directory
    }

    mutating func read(_ request: ONNXExternalData) throws(LiftCAMError) -> [UInt8] {
        let path = joinPath(directory, request.location)
        if current == nil || current?.location != request.location || (current?.position ?? 0) > request.offset {
            current = (request.location, try files.openForReading(path), 0)
        }
        guard let open = current else { return [] }
        let file = open.file
        var position = open.position
        let size = file.size
        let length = request.length ?? max(0, size - request.offset)
        guard request.offset <= size, length <= size - request.offset else {
            throw LiftCAMError.file(path, "offset \(request.offset) + length \(length) is past the end of the file (\(size) bytes)")
        }
        if request.offset > position {
            var scratch = [UInt8](repeating: 0, count: min(request.offset - position, 1 << 20))
            while request.offset > position {
                let want = min(request.offset - position, scratch.count)
                // withUnsafeMutableBytes rethrows untyped errors, so the outcome crosses it as a value.
                let got = try scratch.withUnsafeMutableBytes { buffer in
                    Result { () throws(LiftCAMError) in try file.fill(UnsafeMutableRawBufferPointer(rebasing: buffer[..<want])) }
                }.get()
                guard got > 0 else { throw LiftCAMError.file(path, "cannot read: the file ended early") }
                position += got
            }
        }
        let bytes = try file.readExactly(length)
        current = (request.location, file, position + length)
        return bytes
    }
}
