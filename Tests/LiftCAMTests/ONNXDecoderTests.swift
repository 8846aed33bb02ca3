import Foundation
import LiftCAM
import XCTest

/// The ONNX reader on files written by onnx.helper, by hand (wire encodings onnx never writes) and
/// by torch.onnx.export (Fixtures/onnx/reader/generate_reader_fixtures.py, whose expected.json the
/// values are compared with), and its refusals: each one line starting with the file's path.
final class ONNXDecoderTests: PlatformTestCase {
    private static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/onnx/reader").path
    private static let expected: [String: Any] = {
        let data = FileManager.default.contents(atPath: directory + "/expected.json") ?? Data()
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
    }()

    private func path(_ name: String) -> String { Self.directory + "/" + name }
    private func expected(_ name: String) -> [String: Any] { Self.expected[name] as? [String: Any] ?? [:] }
    private func model(_ name: String) throws -> ONNXModel { try ONNXModel.read(path: path(name)) }

    /// The tensor's elements as Floats (compared by their bits: -0.0 and -inf as such) or integers.
    private func numbers(_ data: ONNXTensorData) -> (kind: String, floats: [Float], integers: [Int64]) {
        switch data {
        case .floats(let values): return ("floats", values, [])
        case .integers(let values): return ("integers", [], values)
        }
    }

    /// Compares initializers with expected.json's entries (all, or the first `prefix` values).
    private func assertInitializers(_ tensors: [ONNXTensor], _ entries: Any?, prefix: Int? = nil, _ label: String,
                                    line: UInt = #line) {
        let entries = entries as? [[String: Any]] ?? []
        XCTAssertEqual(tensors.map(\.name), entries.map { $0["name"] as? String ?? "?" }, label, line: line)
        for (tensor, entry) in zip(tensors, entries) {
            let name = "\(label) \(tensor.name)"
            XCTAssertEqual(tensor.dims, entry["dims"] as? [Int], name, line: line)
            let (kind, floats, integers) = numbers(tensor.data)
            XCTAssertEqual(kind, entry["kind"] as? String, name, line: line)
            XCTAssertEqual(floats.count + integers.count, tensor.elementCount, name, line: line)
            let want = entry["values"] as? [Any] ?? []
            XCTAssertEqual(want.count, prefix.map { min($0, tensor.elementCount) } ?? tensor.elementCount, name, line: line)
            if kind == "floats" {
                // JSON's decimal → Double may be off in the last bits of the Double, never of the Float.
                let expected = want.map { value -> Float in
                    if let text = value as? String { return text == "-inf" ? -.infinity : text == "inf" ? .infinity : .nan }
                    return Float((value as? NSNumber)?.doubleValue ?? .nan)
                }
                let got = Array(floats.prefix(want.count))
                XCTAssertEqual(got.map(\.bitPattern), expected.map(\.bitPattern), "\(name): \(got) vs \(expected)", line: line)
            } else {
                XCTAssertEqual(Array(integers.prefix(want.count)), want.map { ($0 as? NSNumber)?.int64Value ?? 0 }, name, line: line)
            }
        }
    }

    /// Each file is refused with "<its path>: <message>".
    private func assertRefused(_ cases: [(String, String)], line: UInt = #line) {
        for (name, message) in cases {
            XCTAssertThrowsError(try model(name), name, line: line) { XCTAssertEqual("\($0)", "\(path(name)): \(message)", line: line) }
        }
    }

    // MARK: Files that decode

    func testTensorsOfEveryTypeFromRawDataAndTypedFields() throws {
        let model = try model("tensors.onnx")
        XCTAssertEqual(model.irVersion, 8)
        XCTAssertEqual(model.opsetVersion, 17)
        XCTAssertEqual(model.producerName, "liftcam-fixture")
        assertInitializers(model.graph.initializers, expected("tensors.onnx")["initializers"], "tensors.onnx")
        XCTAssertEqual(model.graph.initializers.count, 21)
    }

    func testWireEncodingsOnnxNeverWrites() throws {
        // Packed dims, unpacked float_data and int64_data, an overlong 10-byte varint, packed
        // attribute ints, attribute floats half unpacked and half packed.
        let model = try model("wire.onnx")
        let want = expected("wire.onnx")
        XCTAssertEqual(model.irVersion, 7)
        XCTAssertEqual(model.opsetVersion, 11)
        XCTAssertEqual(model.graph.name, "wire")
        assertInitializers(model.graph.initializers, want["initializers"], "wire.onnx")
        let node = try XCTUnwrap(model.graph.nodes.first)
        XCTAssertEqual([node.name, node.opType, node.domain], ["n0", "Conv", ""])
        XCTAssertEqual(node.inputs, ["a"])
        XCTAssertEqual(node.outputs, ["out"])
        XCTAssertEqual(try node.ints("kernel_shape", default: []), (want["ints"] as? [Int]) ?? [0])
        XCTAssertEqual(try node.ints("kernel_shape", default: []), [3, -1])
        guard case .floats(let floats) = node.attribute("scales") else { return XCTFail("scales: \(String(describing: node.attribute("scales")))") }
        XCTAssertEqual(floats, [1.5, -2, 4])
        XCTAssertEqual(floats.map(Double.init), want["floats"] as? [Double])
    }

    func testEveryAttributeKindMetadataValueInfoAndUnknownFields() throws {
        let model = try model("attributes.onnx")
        let want = expected("attributes.onnx")
        XCTAssertEqual(model.irVersion, 9)
        XCTAssertEqual(model.opsetVersion, 13)   // "ai.onnx"; the custom domain's 3 is not the opset
        XCTAssertEqual(model.graph.name, "attribute graph")
        XCTAssertEqual(model.metadata, want["metadata"] as? [String: String])
        XCTAssertEqual(model.metadata["non-ascii"], "é\u{2028}x")
        let node = model.graph.nodes[0]
        XCTAssertEqual([node.name, node.opType, node.domain], ["every/attribute", "Custom", "liftcam.test"])
        XCTAssertEqual(node.inputs, ["x", "", "w"])
        XCTAssertEqual(node.label, "Custom node 'every/attribute'")
        let kinds = want["attribute_kinds"] as? [String: Int] ?? [:]
        XCTAssertEqual(Set(node.attributes.map(\.name)), Set(kinds.keys))
        for attribute in node.attributes {
            let kind: Int
            switch attribute.value {
            case .float(let value): kind = 1; XCTAssertEqual(value, 0.25)
            case .int(let value): kind = 2; XCTAssertEqual(value, attribute.name == "i" ? -3 : 9)
            case .string(let value): kind = 3; XCTAssertEqual(value, "same")
            case .tensor(let tensor):
                kind = 4
                XCTAssertEqual(tensor.name, "const_value")
                XCTAssertEqual(tensor.dims, [2, 2])
                guard case .floats(let values) = tensor.data else { XCTFail("tensor kind"); continue }
                XCTAssertEqual(values, [1, 2, 3, 4])
            case .floats(let values): kind = 6; XCTAssertEqual(values, [1, -0.5])
            case .ints(let values): kind = 7; XCTAssertEqual(values, [3, -1, 1 << 40])
            case .strings(let values): kind = 8; XCTAssertEqual(values, ["a", "bé"])
            case .unsupported(let type): kind = Int(type)
            }
            XCTAssertEqual(kind, kinds[attribute.name], attribute.name)
        }
        XCTAssertEqual(try node.int("i", default: 0), -3)
        XCTAssertEqual(try node.float("f", default: 0), 0.25)
        XCTAssertThrowsError(try node.ints("g", default: [])) {
            XCTAssertEqual("\($0)", "Custom node 'every/attribute': attribute 'g' is not a list of integers")
        }
        XCTAssertEqual(model.graph.nodes[1].opType, "Relu")
        XCTAssertEqual(model.graph.nodes[1].name, "")
        // value_info: dim_param, dim_value and an unset dimension; a sequence has no tensor type.
        let input = model.graph.inputs[0]
        XCTAssertEqual(input.name, "x")
        XCTAssertEqual(input.elementType, 1)
        XCTAssertEqual(input.shape, [.symbol("batch"), .size(3), .unknown, .size(7)])
        XCTAssertEqual(model.graph.outputs.map(\.name), ["z"])
        XCTAssertNil(model.graph.outputs[0].shape)
        XCTAssertEqual(model.graph.valueInfo.map(\.name), ["y", "seq"])
        XCTAssertEqual(model.graph.valueInfo[0].elementType, 7)
        XCTAssertEqual(model.graph.valueInfo[0].shape, [.size(1), .symbol("n")])
        XCTAssertEqual(model.graph.valueInfo[1].elementType, 0)
        XCTAssertNil(model.graph.valueInfo[1].shape)
        assertInitializers(model.graph.initializers, [["name": "w", "dims": [2], "kind": "integers", "values": [9, 8]]], "w")
    }

    func testTorchExportedCNN() throws {
        let model = try model("torch_cnn.onnx")
        let want = expected("torch_cnn.onnx")
        XCTAssertEqual(model.irVersion, (want["ir_version"] as? NSNumber)?.int64Value)
        XCTAssertEqual(model.opsetVersion, 17)
        XCTAssertEqual(model.producerName, "pytorch")
        XCTAssertEqual(model.graph.nodes.count, 8)
        XCTAssertEqual(model.graph.nodes.map(\.opType), want["op_types"] as? [String])
        XCTAssertEqual(model.graph.nodes.map(\.name), want["node_names"] as? [String])
        XCTAssertEqual(model.graph.nodes.map(\.opType), ["Conv", "Relu", "MaxPool", "Conv", "Relu", "GlobalAveragePool", "Flatten", "Gemm"])
        let conv = model.graph.nodes[0]
        for (name, values) in want["conv_attributes"] as? [String: [Int]] ?? [:] {
            XCTAssertEqual(try conv.ints(name, default: []), values, name)
        }
        XCTAssertEqual(try conv.ints("pads", default: []), [1, 1, 1, 1])
        assertInitializers(model.graph.initializers, want["initializers"], prefix: 5, "torch_cnn.onnx")
        XCTAssertEqual(model.graph.initializers.first { $0.name == "4.weight" }?.dims, [16, 8, 3, 3])
        XCTAssertEqual(model.graph.inputs.map(\.name), ["image"])
        XCTAssertEqual(model.graph.inputs[0].shape, [.symbol("batch"), .size(3), .size(16), .size(16)])
        XCTAssertEqual(model.graph.outputs.map(\.name), ["logits"])
    }

    func testExternalDataRelativeToTheModelsFolder() throws {
        let want = expected("external.onnx")["initializers"]
        assertInitializers(try model("external.onnx").graph.initializers, want, "POSIX")
        // The same through an in-memory file system, and through a fetcher that sees the requests.
        let bytes = try readFileBytes(path("external.onnx"))
        let files = MemoryFileSystem(files: ["m/external.onnx": bytes, "m/external.bin": try readFileBytes(path("external.bin"))])
        assertInitializers(try ONNXModel.read(path: "m/external.onnx", in: files).graph.initializers, want, "memory")
        var requests: [String] = []
        _ = try ONNXModel(decoding: bytes, path: "e.onnx") { (request) throws(LiftCAMError) -> [UInt8] in
            requests.append("\(request.tensorName) \(request.location) \(request.offset) \(request.length.map(String.init) ?? "-")")
            return try files.readFile("m/external.bin").dropFirst(request.offset).prefix(request.length ?? .max).map { $0 }
        }
        XCTAssertEqual(requests, ["e_w external.bin 0 48", "e_i external.bin 64 16", "e_last external.bin 80 -"])
        XCTAssertThrowsError(try ONNXModel(decoding: bytes, path: "e.onnx")) {
            XCTAssertEqual("\($0)", "e.onnx: GraphProto.initializer[0] 'e_w': the data are in the external file 'external.bin', which decoding bytes alone cannot read")
        }
    }

    func testExternalDataOutsideTheFolderOrPastTheEndIsRefused() {
        assertRefused([
            ("external_past_end.onnx", "GraphProto.initializer[0] 'e_w': \(path("external.bin")): offset 48 + length 48 is past the end of the file (88 bytes)"),
            ("external_absolute.onnx", "GraphProto.initializer[0] 'e_w': external data location '/etc/passwd' is an absolute path; it must be relative to the model's folder"),
            ("external_dotdot.onnx", "GraphProto.initializer[0] 'e_w': external data location 'sub/../../reader/external.bin' has a '..' component; it must stay inside the model's folder"),
        ])
    }

    // MARK: Refusals

    func testRefusedFilesSayWhereAndWhy() {
        assertRefused([
            ("bad_dims_overflow.onnx", "GraphProto.initializer[0] 'huge': dims [2147483648, 2147483648, 4] describe more than 2147483648 elements"),
            ("bad_raw_size.onnx", "GraphProto.initializer[0] 'fc.weight': raw_data holds 40 bytes, dims [10, 4] need 160"),
            ("bad_bfloat16.onnx", "GraphProto.initializer[0] 'bf': data type BFLOAT16 (16) is not supported (LiftCAM reads FLOAT, FLOAT16, DOUBLE and integer tensors)"),
            ("bad_string.onnx", "GraphProto.initializer[0] 'names': data type STRING (8) is not supported (LiftCAM reads FLOAT, FLOAT16, DOUBLE and integer tensors)"),
            ("bad_lying_length.onnx", "GraphProto.node[1] (Relu 'liar'): byte 39: length 200 runs past the end of its message (7 bytes left)"),
            ("bad_sparse.onnx", "GraphProto.sparse_initializer[0]: sparse initializers are not supported"),
        ])
    }

    func testWireFormatErrorsByHand() {
        let cases: [([UInt8], String)] = [
            ([], "ModelProto has no graph"),
            ([0x08], "byte 1: truncated varint"),
            ([0x08] + [UInt8](repeating: 0xFF, count: 9) + [0x02], "byte 1: varint overflows 64 bits"),
            ([0x08] + [UInt8](repeating: 0x80, count: 11), "byte 1: varint overflows 64 bits"),
            ([0x0F], "byte 0: invalid wire type 7 in the tag of field 1"),
            ([0x00], "byte 0: invalid field number 0"),
            ([0x0C], "byte 0: end of group 1 without its start"),
            ([0x3A, 0x05, 0x0A], "byte 1: length 5 runs past the end of its message (1 bytes left)"),
            ([0x3A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F], "byte 1: length 4294967295 runs past the end of its message (0 bytes left)"),
            ([0x10, 0x01], "byte 0: field 2 (producer_name) has wire type 0, expected 2"),
            ([0x1B, 0x08, 0x01], "byte 0: group 3 has no end"),
            ([0x1B, 0x24], "byte 1: group 3 ended by the end of group 4"),
            ([UInt8](repeating: 0x1B, count: 70), "byte 64: groups nested deeper than 64"),
            ([0x1B, 0x08, 0x01, 0x1C, 0x3A, 0x00, 0x3A, 0x00], "byte 6: a second ModelProto.graph"),
            ([0x1D, 0x01, 0x02], "byte 1: truncated 4-byte value"),
            ([0x0D, 0x01, 0x02, 0x03, 0x04], "byte 0: field 1 (ir_version) has wire type 5, expected 0"),
        ]
        for (bytes, message) in cases {
            XCTAssertThrowsError(try ONNXModel(decoding: bytes, path: "w.onnx"), message) { XCTAssertEqual("\($0)", "w.onnx: \(message)") }
        }
        // A group of unknown fields, then an empty graph: skipped correctly.
        XCTAssertEqual(try ONNXModel(decoding: [0x1B, 0x08, 0x01, 0x23, 0x24, 0x1C, 0x3A, 0x00], path: "g.onnx").graph.nodes.count, 0)
    }

    /// A claim of 2^31 floats over 8 bytes (or none) is refused from the sizes alone: no 8 GiB buffer.
    func testHugeClaimsAreRefusedBeforeAllocating() throws {
        // ModelProto.graph { initializer { dims: 2^30, dims: 2, data_type: FLOAT, name: "h", raw_data: 8 bytes } }
        let header: [UInt8] = [0x08, 0x80, 0x80, 0x80, 0x80, 0x04, 0x08, 0x02, 0x10, 0x01, 0x42, 0x01, 0x68]
        func model(_ tensor: [UInt8]) -> [UInt8] { [0x3A, UInt8(tensor.count + 2), 0x2A, UInt8(tensor.count)] + tensor }
        let before = peakResidentKiB()
        XCTAssertThrowsError(try ONNXModel(decoding: model(header + [0x4A, 0x08] + [UInt8](repeating: 0, count: 8)), path: "h.onnx")) {
            XCTAssertEqual("\($0)", "h.onnx: GraphProto.initializer[0] 'h': raw_data holds 8 bytes, dims [1073741824, 2] need 8589934592")
        }
        XCTAssertThrowsError(try ONNXModel(decoding: model(header), path: "h.onnx")) {
            XCTAssertEqual("\($0)", "h.onnx: GraphProto.initializer[0] 'h': float_data holds 0 values, dims [1073741824, 2] need 2147483648")
        }
        XCTAssertThrowsError(try ONNXModel(decoding: model(header + [0x08, 0x03]), path: "h.onnx")) {
            XCTAssertEqual("\($0)", "h.onnx: GraphProto.initializer[0] 'h': dims [1073741824, 2, 3] describe more than 2147483648 elements")
        }
        XCTAssertThrowsError(try ONNXModel(decoding: model(header + [0x08, 0x7F]), path: "h.onnx")) {
            XCTAssertEqual("\($0)", "h.onnx: GraphProto.initializer[0] 'h': dims [1073741824, 2, 127] describe more than 2147483648 elements")
        }
        XCTAssertLessThan(peakResidentKiB() - before, 64 * 1024)
    }

    /// Every cut of a real file, and every byte replaced: a one-line error naming the file, never
    /// a trap; cuts inside the graph can never decode.
    func testTruncatedAndCorruptedFilesFailWithOneLine() throws {
        for name in ["torch_cnn.onnx", "attributes.onnx", "tensors.onnx", "wire.onnx"] {
            let bytes = try readFileBytes(path(name))
            let whole = try ONNXModel(decoding: bytes, path: name).graph
            var decoded = 0
            for cut in 0..<bytes.count {
                do {
                    // Only a cut after the graph, at a boundary of ModelProto's fields, can decode:
                    // never to a shorter graph.
                    let graph = try ONNXModel(decoding: Array(bytes[..<cut]), path: "cut.onnx").graph
                    XCTAssertEqual([graph.nodes.count, graph.initializers.count, graph.inputs.count],
                                   [whole.nodes.count, whole.initializers.count, whole.inputs.count], "\(name) cut at \(cut)")
                    decoded += 1
                } catch {
                    XCTAssertTrue(error.description.hasPrefix("cut.onnx: "), error.description)
                    XCTAssertFalse(error.description.contains { $0.isNewline }, error.description)
                }
            }
            XCTAssertLessThan(decoded, 20, name)
            var refused = 0
            for index in bytes.indices {
                for replacement: UInt8 in [0x00, 0xFF, 0x80, bytes[index] ^ 0x01] {
                    var corrupted = bytes
                    corrupted[index] = replacement
                    do {
                        _ = try ONNXModel(decoding: corrupted, path: "bad.onnx")
                    } catch {
                        refused += 1
                        XCTAssertTrue(error.description.hasPrefix("bad.onnx: "), error.description)
                        XCTAssertFalse(error.description.contains { $0.isNewline }, error.description)
                    }
                }
            }
            XCTAssertGreaterThan(refused, bytes.count / 8, name)
        }
    }

    /// Opt-in: LIFTCAM_ONNX_LARGE names the ~100 MB model `generate_reader_fixtures.py --large PATH`
    /// writes; prints the decode time (raw_data floats are one bulk copy per tensor).
    func testLargeModelDecodeSpeed() throws {
        guard let path = ProcessInfo.processInfo.environment["LIFTCAM_ONNX_LARGE"] else { throw XCTSkip("LIFTCAM_ONNX_LARGE not set") }
        let bytes = try readFileBytes(path)
        var times: [Double] = []
        var model: ONNXModel?
        for _ in 0..<5 {
            let start = Date()
            model = try ONNXModel(decoding: bytes, path: path)
            times.append(Date().timeIntervalSince(start))
        }
        let start = Date()
        _ = try ONNXModel.read(path: path)
        let withRead = Date().timeIntervalSince(start)
        let graph = try XCTUnwrap(model).graph
        XCTAssertEqual(graph.initializers.map(\.name), ["w0", "w1", "w2", "w3", "ints", "halves"])
        guard case .floats(let w3) = graph.initializers[3].data, case .integers(let ints) = graph.initializers[4].data,
              case .floats(let halves) = graph.initializers[5].data else { return XCTFail("kinds") }
        XCTAssertEqual([w3[0], w3[5_999_999]], [3.0 / 1024, 6_000_002.0 / 1024])
        XCTAssertEqual([ints[0], ints[999_999]], [-7, 999_992])
        XCTAssertEqual([halves[2047], halves[2048]], [2047, 0])
        let megabytes = Double(bytes.count) / 1e6, best = times.min() ?? 0
        print(String(format: "onnx decode: %.1f MB in %.3f s best of 5 (median %.3f s, %.0f MB/s); read(path:) with the file read %.3f s",
                     megabytes, best, times.sorted()[2], megabytes / best, withRead))
    }
}
