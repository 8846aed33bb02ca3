import Foundation
import LiftCAM
import LiftCAMCommandLine
import LiftCAMImaging

/// An evaluation dataset: a folder with `manifest.csv`, whose header is exactly
/// `file,label,x_min,y_min,x_max,y_max`, and one row per image:
///
///     cat.png,281,12,30,180,200
///     dog.npy,207,,,,
///
/// `file` is relative to the folder (or absolute): a .png, .ppm or .pgm image (preprocessed like
/// `explain` does) or a .npy tensor `[3, H, W]` / `[1, 3, H, W]` used as the network input as is.
/// `label` is a class index. The box is in pixels of the network input, half-open
/// [x_min, x_max) × [y_min, y_max); four empty fields, or x_max ≤ x_min or y_max ≤ y_min, mean no
/// box, and the pointing game (Eq 15) leaves the image out. Fields may be double-quoted (RFC 4180).
///
/// Rows are named by their line number in manifest.csv (the header is row 1), as an editor shows
/// them; images by their index among the data rows (0-based), which orders results and shards.
struct Manifest {
    static let header = ["file", "label", "x_min", "y_min", "x_max", "y_max"]
    static let fileName = "manifest.csv"
    static let imageExtensions = ["png", "ppm", "pgm"]

    let directory: String
    let path: String
    /// The data rows in file order (blank lines left out): line number and fields.
    let rows: [(line: Int, fields: [String]?)]
    /// CRC-32 of the manifest's bytes: shards of one run must have read the same manifest.
    let checksum: UInt32

    /// Reads and splits the manifest; a missing file or a wrong header is an error for the whole
    /// dataset, a bad data row only for its image (see `item(_:check:)`).
    init(directory: String) throws {
        guard isDirectory(directory) else {
            throw LiftCAMError.file(directory, fileExists(directory) ? "is not a directory" : "no such directory")
        }
        let path = inDirectory(directory, Manifest.fileName)
        try self.init(directory: directory, path: path, bytes: readFileBytes(path))
    }

    /// Splits the bytes of the manifest at `path` (in `directory`).
    init(directory: String, path: String, bytes: [UInt8]) throws {
        self.directory = directory
        self.path = path
        checksum = Checksum.crc32(bytes)
        // Lines split on the bytes: a String would keep "\r\n" together as one Character.
        let byteLines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        var rows: [(line: Int, fields: [String]?)] = []
        var sawHeader = false
        for (offset, lineBytes) in byteLines.enumerated() {
            var line = Substring(String(decoding: lineBytes.last == UInt8(ascii: "\r") ? lineBytes.dropLast() : lineBytes, as: UTF8.self))
            if offset == 0 && line.hasPrefix("\u{FEFF}") { line = line.dropFirst() }   // a byte-order mark some editors write
            if line.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
            let fields = csvFields(line)
            if !sawHeader {
                guard let fields, fields.map({ $0.trimmingCharacters(in: .whitespaces) }) == Manifest.header else {
                    throw LiftCAMError("\(path) row \(offset + 1): the header must be exactly \(Manifest.header.joined(separator: ",")), found '\(oneLine(line))'")
                }
                sawHeader = true
                continue
            }
            rows.append((offset + 1, fields))
        }
        guard sawHeader else { throw LiftCAMError.file(path, "empty: expected the header \(Manifest.header.joined(separator: ","))") }
        self.rows = rows
    }

    /// What a row is checked against before any image is evaluated.
    struct Check {
        let network: Network
        /// The classes a label may name.
        let classes: Int
        /// The network input an image file becomes, `[3, H, W]`.
        let imageInputShape: [Int]
    }

    /// The image of data row `index`, checked as far as can be without decoding it: field count,
    /// label, box, the file's type, presence and readability, and for .npy the tensor's shape
    /// (read from its header). Errors read "<manifest> row N: problem".
    func item(_ index: Int, check: Check) throws -> DatasetItem {
        let (line, parsed) = rows[index]
        func bad(_ problem: String) -> LiftCAMError { LiftCAMError("\(path) row \(line): \(oneLine(problem))") }
        guard let parsed else { throw bad("unterminated quoted field") }
        guard parsed.count == Manifest.header.count else {
            throw bad("expected \(Manifest.header.count) fields (\(Manifest.header.joined(separator: ","))), found \(parsed.count)")
        }
        let fields = parsed.map { $0.trimmingCharacters(in: .whitespaces) }
        let file = fields[0]
        guard !file.isEmpty else { throw bad("the file name is empty") }
        guard let label = Int(fields[1]) else { throw bad("label '\(fields[1])' is not an integer") }
        guard (0..<check.classes).contains(label) else {
            throw bad("label \(label) is out of range: the network has \(check.classes) classes (0…\(check.classes - 1))")
        }
        let filePath = file.hasPrefix("/") ? file : inDirectory(directory, file)
        let suffix = file.split(separator: ".").count > 1 ? file.split(separator: ".").last!.lowercased() : ""
        guard suffix == "npy" || Manifest.imageExtensions.contains(suffix) else {
            throw bad("\(file): unsupported file type (expected .png, .ppm, .pgm or .npy)")
        }
        guard fileExists(filePath) else { throw bad("\(file): no such file") }
        guard !isDirectory(filePath) else { throw bad("\(file): is a directory") }
        guard access(filePath, R_OK) == 0 else { throw bad("\(file): cannot read: \(String(cString: strerror(errno)))") }
        var inputShape = check.imageInputShape
        if suffix == "npy" {
            do throws(LiftCAMError) {
                let header = try readNPYHeader(path: filePath)
                inputShape = header.shape.count == 4 && header.shape[0] == 1 ? Array(header.shape.dropFirst()) : header.shape
                guard inputShape.count == 3, inputShape[0] == 3 || inputShape[0] == 1 else {
                    throw LiftCAMError("expected a tensor [3, H, W] or [1, 3, H, W], found \(header.shape)")
                }
                guard (1...maximumInputSide).contains(inputShape[1]), (1...maximumInputSide).contains(inputShape[2]) else {
                    throw LiftCAMError("the tensor \(header.shape) is empty or larger than \(maximumInputSide) pixels a side")
                }
                _ = try check.network.checkInput(shape: inputShape)
            } catch {
                let message = error.description.hasPrefix(filePath + ": ") ? String(error.description.dropFirst(filePath.count + 2)) : error.description
                throw bad("\(file): \(message)")
            }
        }
        let box = try parseBox(Array(fields[2...]), height: inputShape[1], width: inputShape[2], bad: bad)
        return DatasetItem(index: index, row: line, file: file, path: filePath, label: label, box: box, inputShape: inputShape)
    }

    /// Four empty fields: no box. Otherwise four integers within the input, 0 ≤ x ≤ W, 0 ≤ y ≤ H
    /// (half-open, so x_max = W reaches the last column); an empty area is kept as an empty box.
    private func parseBox(_ fields: [String], height: Int, width: Int, bad: (String) -> LiftCAMError) throws -> BoundingBox? {
        if fields.allSatisfy(\.isEmpty) { return nil }
        var numbers: [Int] = []
        for (name, text) in zip(Manifest.header[2...], fields) {
            guard let value = Int(text) else {
                throw bad(text.isEmpty ? "\(name) is empty (give all four box fields, or none)" : "\(name) '\(text)' is not an integer")
            }
            let limit = name.hasPrefix("x") ? width : height
            guard (0...limit).contains(value) else {
                throw bad("\(name) \(value) is outside the network input (\(name.hasPrefix("x") ? "0…\(width)" : "0…\(height)") for a \(width)×\(height) input)")
            }
            numbers.append(value)
        }
        return BoundingBox(xMin: numbers[0], yMin: numbers[1], xMax: numbers[2], yMax: numbers[3])
    }
}

/// One image of the dataset, checked.
struct DatasetItem {
    /// Position among the data rows (0-based).
    let index: Int
    /// Line number in manifest.csv.
    let row: Int
    /// As written in the manifest, and resolved against the dataset folder.
    let file: String
    let path: String
    let label: Int
    let box: BoundingBox?
    /// The network input this file becomes, `[C, H, W]`.
    let inputShape: [Int]
}

/// Checks the bytes of a manifest.csv in `directory` as `liftcam evaluate` does before evaluating
/// anything, against a network whose image inputs are `imageInputShape` `[3, H, W]`. Returns one
/// entry per data row: nil when the row is good, otherwise its one-line error. A file that is not a
/// manifest at all (no header, a wrong one) throws. For embedding and for the fuzz harness.
public func checkManifest(bytes: [UInt8], directory: String, network: Network, imageInputShape: [Int]) throws -> [String?] {
    let manifest = try Manifest(directory: directory, path: inDirectory(directory, Manifest.fileName), bytes: bytes)
    let check = Manifest.Check(network: network, classes: network.architecture.classCount, imageInputShape: imageInputShape)
    return manifest.rows.indices.map { index in
        do {
            _ = try manifest.item(index, check: check)
            return nil
        } catch {
            return "\(error)"
        }
    }
}

/// `--shard i/n`: every n-th image starting at i (0-based).
struct Shard: Equatable {
    var index = 0
    var count = 1

    init(index: Int = 0, count: Int = 1) {
        self.index = index
        self.count = count
    }

    init(parsing text: String) throws {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map { Int($0) }
        guard parts.count == 2, let i = parts[0], let n = parts[1], n >= 1, (0..<n).contains(i) else {
            throw ToolError.usage("--shard must be i/n with 0 ≤ i < n, got '\(text)'")
        }
        (index, count) = (i, n)
    }

    /// The data-row indices this shard evaluates: `--limit` first keeps the first `limit` rows,
    /// then the shard takes every `count`-th of them from `index`.
    func indices(rowCount: Int, limit: Int?) -> [Int] {
        Array(stride(from: index, to: min(rowCount, limit ?? rowCount), by: count))
    }
}

/// The fields of one CSV line (RFC 4180 quoting: "a,b" and "" for a quote inside quotes); nil
/// when a quoted field is not closed.
func csvFields(_ line: Substring) -> [String]? {
    var fields: [String] = []
    var current = ""
    var quoted = false
    var characters = line.makeIterator()
    var pending = characters.next()
    while let character = pending {
        pending = characters.next()
        if quoted {
            if character == "\"" {
                if pending == "\"" {
                    current.append("\"")
                    pending = characters.next()
                } else {
                    quoted = false
                }
            } else {
                current.append(character)
            }
        } else if character == "\"" {
            quoted = true
        } else if character == "," {
            fields.append(current)
            current = ""
        } else {
            current.append(character)
        }
    }
    if quoted { return nil }
    fields.append(current)
    return fields
}

/// `directory/name`, without doubling a trailing slash.
private func inDirectory(_ directory: String, _ name: String) -> String {
    directory.hasSuffix("/") ? directory + name : directory + "/" + name
}
