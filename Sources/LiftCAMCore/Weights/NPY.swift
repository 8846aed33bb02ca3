// NumPy's .npy format (numpy/lib/format.py, "NEP 1"): the 6-byte magic "\x93NUMPY", a major and
// minor version byte, the header length (2 bytes little-endian in version 1.0, 4 bytes in 2.0 and
// 3.0), a header that is a Python dict literal such as
//     {'descr': '<f4', 'fortran_order': False, 'shape': (3, 224, 224), }
// padded with spaces and a newline, then the raw elements. We read float32 and float64 C-ordered
// arrays into Float32 tensors and write float32 exactly as np.save does.

/// What an NPY header says, before any data is read.
public struct NPYHeader: Sendable, Equatable {
    /// The format version from the file's sixth byte: 1, 2 or 3 (which differ in the header length field
    /// and text encoding).
    public var majorVersion: Int
    /// The minor version (0 in every version NumPy writes).
    public var minorVersion: Int
    /// NumPy's dtype string ("descr"), e.g. "<f4" (little-endian float32) or "<i8" (int64).
    public var dtype: String
    /// True when the elements are stored column-major (Fortran order).
    public var fortranOrder: Bool
    /// Sizes of the dimensions; `[]` for a 0-d array, which holds one element.
    public var shape: [Int]
    /// Where the elements begin: magic, version, header length and header together.
    public var dataOffset: Int

    /// Whether the dtype is a signed or unsigned integer (kind 'i' or 'u'), such as the int64
    /// `num_batches_tracked` counters of PyTorch batch-norm layers.
    public var isIntegerDType: Bool {
        let kind = dtype.drop { "<>|=".contains($0) }.first
        return kind == "i" || kind == "u"
    }
}

/// Reads an NPY file of float32 ('<f4') or float64 ('<f8', rounded to Float32) into a tensor.
///
/// The data are read straight into the tensor's storage after the header has been checked against
/// the file's size, so a header that claims more than the file holds never causes an allocation.
public func readNPY(path: String, in files: some FileSystem) throws(LiftCAMError) -> Tensor {
    let file = try files.openForReading(path)
    let header = try parseNPYHeader(name: path, fileSize: file.size) { (count) throws(LiftCAMError) -> [UInt8] in try file.readExactly(count) }
    let layout = try checkedLayout(header, name: path, availableBytes: file.size - header.dataOffset)
    if layout.itemSize == 8 {
        let raw = try file.readExactly(layout.byteCount)
        let storage = [Float](unsafeUninitializedCapacity: layout.count) { floats, initialized in
            raw.withUnsafeBytes { floatsFromFloat64(UnsafeRawBufferPointer($0), into: floats) }
            initialized = layout.count
        }
        return Tensor(shape: header.shape, storage: storage)
    }
    // float32: straight into the tensor's storage, no second copy of a large weight.
    var failure: LiftCAMError?
    let storage = [Float](unsafeUninitializedCapacity: layout.count) { floats, initialized in
        do throws(LiftCAMError) {
            let got = try file.fill(UnsafeMutableRawBufferPointer(floats))
            if got != layout.byteCount { failure = LiftCAMError.file(path, "cannot read: the file ended early") }
        } catch {
            failure = error
        }
        floatsFromLittleEndian(floats)
        initialized = failure == nil ? layout.count : 0
    }
    if let failure { throw failure }
    return Tensor(shape: header.shape, storage: storage)
}

/// Decodes the bytes of an NPY file (see `readNPY(path:)`); `name` starts every error message.
public func decodeNPY(_ bytes: [UInt8], name: String) throws(LiftCAMError) -> Tensor {
    let header = try decodeNPYHeader(bytes, name: name)
    let layout = try checkedLayout(header, name: name, availableBytes: bytes.count - header.dataOffset)
    let storage = [Float](unsafeUninitializedCapacity: layout.count) { floats, initialized in
        bytes.withUnsafeBytes { all in
            let data = UnsafeRawBufferPointer(rebasing: all[header.dataOffset...])
            if layout.itemSize == 4 {
                UnsafeMutableRawBufferPointer(floats).copyMemory(from: data)
                floatsFromLittleEndian(floats)
            } else {
                floatsFromFloat64(data, into: floats)
            }
        }
        initialized = layout.count
    }
    return Tensor(shape: header.shape, storage: storage)
}

/// The header of an NPY file, reading only the header's bytes (not the data).
public func readNPYHeader(path: String, in files: some FileSystem) throws(LiftCAMError) -> NPYHeader {
    let file = try files.openForReading(path)
    return try parseNPYHeader(name: path, fileSize: file.size) { (count) throws(LiftCAMError) -> [UInt8] in try file.readExactly(count) }
}

/// The header at the start of `bytes` (the whole file, or at least its header).
public func decodeNPYHeader(_ bytes: [UInt8], name: String) throws(LiftCAMError) -> NPYHeader {
    var cursor = 0
    return try parseNPYHeader(name: name, fileSize: bytes.count) { (count) throws(LiftCAMError) -> [UInt8] in
        defer { cursor += count }
        return Array(bytes[cursor ..< cursor + count])  // parseNPYHeader checked the bounds
    }
}

/// NPY bytes of a float32 tensor, identical to `np.save` of the same array: version 1.0 (2.0
/// only for a header past 64 KiB, as numpy does), a header
/// dict with numpy's spare space for a growing first axis, padded so the data start at a multiple
/// of 64 bytes, then the elements little-endian in row-major (C) order.
public func encodeNPY(_ tensor: Tensor) -> [UInt8] {
    let shapeText: String
    switch tensor.shape.count {
    case 0: shapeText = "()"
    case 1: shapeText = "(\(tensor.shape[0]),)"
    default: shapeText = "(" + tensor.shape.map(String.init).joined(separator: ", ") + ")"
    }
    var dict = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shapeText), }"
    // numpy leaves room for the first dimension to grow to 21 digits (GROWTH_AXIS_MAX_DIGITS).
    if let first = tensor.shape.first { dict += String(repeating: " ", count: max(0, 21 - String(first).count)) }
    let textLength = dict.utf8.count + 1  // + "\n"
    // Version 1.0 stores the header length in 2 bytes; like numpy, move to 2.0 (4 bytes) past that.
    var major: UInt8 = 1
    var padding = 64 - (10 + textLength) % 64
    if textLength + padding > 65535 {
        major = 2
        padding = 64 - (12 + textLength) % 64
    }
    let prefixSize = major == 1 ? 10 : 12
    let headerLength = textLength + padding

    var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [major, 0]
    bytes.reserveCapacity(prefixSize + headerLength + tensor.count * 4)
    for i in 0 ..< (major == 1 ? 2 : 4) { bytes.append(UInt8(truncatingIfNeeded: headerLength >> (8 * i))) }
    bytes += Array(dict.utf8)
    bytes += [UInt8](repeating: 0x20, count: padding)
    bytes.append(0x0A)
    #if _endian(little)
    tensor.storage.withUnsafeBytes { bytes.append(contentsOf: $0) }
    #else
    for value in tensor.storage {
        withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
    }
    #endif
    return bytes
}

/// Writes `tensor` as an NPY file (see `encodeNPY`), atomically.
public func writeNPY(_ tensor: Tensor, path: String, in files: some FileSystem) throws(LiftCAMError) {
    try files.writeAtomically(path, bytes: encodeNPY(tensor))
}

// MARK: - Checking a header against what we can read

/// The longest header we parse. numpy itself refuses headers over 10 000 bytes unless told to
/// trust the file; float arrays need about 128.
private let maximumHeaderLength = 1 << 20

/// Magic, version and header dict, read in order through `read(count)`, whose requests are
/// checked against `fileSize` first.
private func parseNPYHeader(name: String, fileSize: Int, read: (Int) throws(LiftCAMError) -> [UInt8]) throws(LiftCAMError) -> NPYHeader {
    let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)
    let start = try read(min(fileSize, 8))
    guard start.starts(with: magic) else {
        throw LiftCAMError.file(name, "not an NPY file (it does not start with \\x93NUMPY)")
    }
    guard start.count == 8 else { throw LiftCAMError.file(name, "the file ends inside the NPY header") }
    let (major, minor) = (Int(start[6]), Int(start[7]))
    guard [1, 2, 3].contains(major) && minor == 0 else {
        throw LiftCAMError.file(name, "unsupported NPY format version \(major).\(minor) (only 1.0, 2.0 and 3.0)")
    }
    let lengthSize = major == 1 ? 2 : 4
    guard fileSize >= 8 + lengthSize else { throw LiftCAMError.file(name, "the file ends inside the NPY header") }
    let headerLength = try read(lengthSize).reversed().reduce(0) { $0 << 8 | Int($1) }
    let dataOffset = 8 + lengthSize + headerLength
    guard headerLength <= maximumHeaderLength else {
        throw LiftCAMError.file(name, "NPY header length \(headerLength) is absurd (at most \(maximumHeaderLength))")
    }
    guard dataOffset <= fileSize else {
        throw LiftCAMError.file(name, "NPY header length \(headerLength) runs past the end of the file (\(fileSize) bytes)")
    }
    // Versions 1.0 and 2.0 are latin-1 text, 3.0 is UTF-8; the keys and values we accept are ASCII.
    let text = try read(headerLength)
    let dict = try NPYHeaderDict(text: text, name: name)
    return NPYHeader(majorVersion: major, minorVersion: minor, dtype: dict.dtype,
                     fortranOrder: dict.fortranOrder, shape: dict.shape, dataOffset: dataOffset)
}

/// Element count, bytes per element and total bytes of a supported header whose data are exactly
/// `availableBytes` long; otherwise the one-line reason it cannot be read.
private func checkedLayout(_ header: NPYHeader, name: String, availableBytes: Int)
    throws(LiftCAMError) -> (count: Int, itemSize: Int, byteCount: Int) {
    let supported = "only float32 '<f4' and float64 '<f8'"
    let dtype = oneLine(header.dtype)
    let itemSize: Int
    switch header.dtype {
    case "<f4": itemSize = 4
    case "<f8": itemSize = 8
    case "|O", "<O", ">O", "O":
        throw LiftCAMError.file(name, "object arrays (dtype '\(dtype)') hold pickled Python objects and are not supported (\(supported))")
    case ">f4", ">f8":
        throw LiftCAMError.file(name, "big-endian dtype '\(dtype)' is not supported (\(supported); save with a.astype('<f4'))")
    default:
        throw LiftCAMError.file(name, "dtype '\(dtype)' is not supported (\(supported))")
    }
    if header.fortranOrder {
        throw LiftCAMError.file(name, "fortran_order True is not supported (save a C-ordered array, e.g. np.ascontiguousarray(a))")
    }
    let shapeText = "(" + header.shape.map(String.init).joined(separator: ", ") + (header.shape.count == 1 ? ",)" : ")")
    guard header.shape.count <= 64 else {
        throw LiftCAMError.file(name, "shape has \(header.shape.count) dimensions (numpy allows at most 64)")
    }
    var count = 1
    for size in header.shape {
        guard size >= 0 else { throw LiftCAMError.file(name, "negative dimension \(size) in shape \(shapeText)") }
        // No real array has a dimension past 2^31; refusing them keeps every later product small.
        guard size <= Int(Int32.max) else {
            throw LiftCAMError.file(name, "dimension \(size) in shape \(shapeText) is absurdly large")
        }
        let (product, overflow) = count.multipliedReportingOverflow(by: size)
        guard !overflow && product <= Int.max / 8 else {
            throw LiftCAMError.file(name, "the element count of shape \(shapeText) overflows")
        }
        count = product
    }
    let byteCount = count * itemSize
    guard byteCount == availableBytes else {
        let dims = header.shape.isEmpty ? "scalar" : header.shape.map(String.init).joined(separator: "x")
        let type = itemSize == 4 ? "float32" : "float64"
        throw LiftCAMError.file(name, "header says \(dims) \(type) (\(byteCount) bytes) but the file holds \(availableBytes) bytes after the header")
    }
    return (count, itemSize, byteCount)
}

// MARK: - Converting elements

/// Little-endian float32 bytes already copied into `floats`, put into host byte order.
private func floatsFromLittleEndian(_ floats: UnsafeMutableBufferPointer<Float>) {
    #if _endian(big)
    for i in floats.indices { floats[i] = Float(bitPattern: UInt32(littleEndian: floats[i].bitPattern)) }
    #endif
}

/// Little-endian float64 elements rounded to the nearest Float32 (values past Float's range
/// become ±infinity, as numpy's astype(np.float32) does).
private func floatsFromFloat64(_ data: UnsafeRawBufferPointer, into floats: UnsafeMutableBufferPointer<Float>) {
    for i in floats.indices {
        let bits = data.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)
        floats[i] = Float(Double(bitPattern: UInt64(littleEndian: bits)))
    }
}
