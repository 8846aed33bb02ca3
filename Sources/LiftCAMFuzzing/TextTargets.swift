import LiftCAM
import LiftCAMCommandLine
import LiftCAMImaging

// NPY, PPM/PGM and architecture JSON: formats whose sizes are written as text, so besides byte
// mutations the numbers are replaced with boundary values and the keywords swapped.

/// An NPY file with `dict` as its header text, the length field right for version `major`.
func npyFile(dict: String, data: [UInt8], major: UInt8 = 1) -> [UInt8] {
    var header = Array(dict.utf8)
    let prefix = major == 1 ? 10 : 12
    while (prefix + header.count + 1) % 64 != 0 { header.append(0x20) }
    header.append(0x0A)
    var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [major, 0]
    for i in 0..<(major == 1 ? 2 : 4) { out.append(UInt8(truncatingIfNeeded: header.count >> (8 * i))) }
    return out + header + data
}

/// Valid NPY files: float32 of rank 0 to 4 (np.save's exact bytes), an empty array, float64, and
/// format versions 2.0 and 3.0.
func npySeeds() -> [[UInt8]] {
    var seeds = [[], [5], [0, 3], [2, 3, 4], [1, 3, 12, 12]].map { shape -> [UInt8] in
        let count = shape.reduce(1, *)
        return encodeNPY(Tensor(shape: shape, storage: (0..<count).map { Float($0) * 0.25 - 1 }))
    }
    let doubles = (0..<6).flatMap { i -> [UInt8] in
        let bits = (Double(i) / 7).bitPattern
        return (0..<8).map { UInt8(truncatingIfNeeded: bits >> (8 * $0)) }
    }
    seeds.append(npyFile(dict: "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", data: doubles))
    let floats = [Float(0.5), -1, 2].flatMap { value in (0..<4).map { UInt8(truncatingIfNeeded: value.bitPattern >> (8 * $0)) } }
    seeds.append(npyFile(dict: "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", data: floats, major: 2))
    seeds.append(npyFile(dict: "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (3L,)}", data: floats, major: 3))
    return seeds
}

/// Header-aware NPY mutations: numbers in the shape, the dtype, fortran_order, the version and
/// the header length, or a rebuilt header whose length field is right but whose dict is mutated.
func mutateNPY(_ mutator: inout Mutator, _ seed: [UInt8]) -> [UInt8] {
    switch mutator.int(0...5) {
    case 0, 1: return mutator.mutate(seed)
    case 2:   // a shape entry replaced by a boundary number (10^12, negative, past Int64, ...)
        return mutator.replaceNumber(seed)
    case 3:
        let swaps = [("<f4", mutator.pick(["<f8", ">f4", "<i8", "|O", "<f2", "|b1", "<c8", "", "f4"])),
                     ("False", mutator.pick(["True", "None", "0", "Fals"])),
                     ("'shape'", mutator.pick(["'shap'", "'descr'", "'other'"])),
                     ("(", mutator.pick(["[", "((", "(-", ""])), (")", mutator.pick(["]", ",)", ""]))]
        let (old, new) = mutator.pick(swaps)
        return mutator.replacing(old, with: new, in: seed)
    case 4:   // version byte or header length
        return mutator.chance(1, in: 2) ? mutator.overwriteInteger(seed, at: 6, width: 1)
            : mutator.overwriteInteger(seed, at: 8, width: mutator.pick([2, 4]), bigEndian: false)
    default:  // rebuilt: a mutated dict with a consistent length, data kept or cut
        let major = seed.count > 6 ? seed[6] : 1
        let start = major == 1 ? 10 : 12
        guard seed.count > start else { return mutator.mutate(seed) }
        let length = major == 1 ? Int(seed[8]) | Int(seed[9]) << 8 : Int(seed[8]) | Int(seed[9]) << 8 | Int(seed[10]) << 16 | Int(seed[11]) << 24
        guard start + length <= seed.count else { return mutator.mutate(seed) }
        let dict = String(decoding: mutator.replaceNumber(Array(seed[start ..< start + length])), as: UTF8.self)
        var data = Array(seed[(start + length)...])
        if mutator.chance(1, in: 2) { data = mutator.mutate(data) }
        return npyFile(dict: dict.trimmingTrailingSpace, data: data, major: major)
    }
}

extension String {
    var trimmingTrailingSpace: String {
        var text = Substring(self)
        while let last = text.last, last == " " || last == "\n" { text = text.dropLast() }
        return String(text)
    }
}

/// decodeNPY on the bytes; a tensor must hold exactly the elements its shape says.
func npyTarget() -> FuzzTarget {
    FuzzTarget(name: "npy", seeds: npySeeds(), errorPrefix: "case.npy: ", mutate: mutateNPY) { bytes in
        let tensor = try decodeNPY(bytes, name: "case.npy")
        let header = try decodeNPYHeader(bytes, name: "case.npy")
        guard tensor.shape == header.shape, tensor.count == header.shape.reduce(1, *),
              (bytes.count - header.dataOffset) == tensor.count * (header.dtype == "<f8" ? 8 : 4) else {
            throw FuzzInvariantViolation("tensor \(tensor.shape) from \(bytes.count) bytes, header \(header)")
        }
        return []
    }
}

/// Valid P2, P3, P5 and P6 files, 8- and 16-bit, with comments.
func pnmSeeds() -> [[UInt8]] {
    let plainGray = Array("P2\n# a comment\n3 2\n15\n0 1 2\n13 14 15\n".utf8)
    let plainColour = Array("P3 2 2 255 255 0 0  0 255 0  0 0 255  7 8 9\n".utf8)
    let gray = Array("P5\n4 3\n255\n".utf8) + (0..<12).map { UInt8($0 * 20) }
    let colour = Array("P6 3 2\n#c\n255\n".utf8) + (0..<18).map { UInt8($0 * 13) }
    let deep = Array("P6\n2 2\n65535\n".utf8) + (0..<24).map { UInt8($0 * 11) }
    let deepGray = Array("P5 3 1 1000\n".utf8) + [0, 0, 1, 244, 3, 232]
    let picture = try! Image(width: 5, height: 4, channels: 3, pixels: (0..<60).map { UInt8($0 * 4) })
    return [plainGray, plainColour, gray, colour, deep, deepGray, PNM.encodePPM(picture), PNM.encodePGM(picture)]
}

func pnmTarget() -> FuzzTarget {
    FuzzTarget(name: "pnm", seeds: pnmSeeds(), errorPrefix: "PNM: ", mutate: { mutator, seed in
        switch mutator.int(0...3) {
        case 0, 1: return mutator.mutate(seed)
        case 2: return mutator.replaceNumber(seed)   // width, height or maxval at a boundary
        default: return mutator.replacing(String(decoding: seed.prefix(2), as: UTF8.self), with: mutator.pick(["P1", "P4", "P7", "P0", "p6", "P"]), in: seed)
        }
    }) { bytes in
        let image = try PNM.decode(bytes)
        guard image.pixels.count == image.width * image.height * image.channels, image.width * image.height <= Image.maxPixelCount else {
            throw FuzzInvariantViolation("decoded \(image.width)x\(image.height)x\(image.channels)")
        }
        return []
    }
}

/// Valid architecture files of both families, with the optional keys.
func architectureSeeds() -> [[UInt8]] {
    [
        #"{"family": "vgg", "config": [4, "M", 6], "batch_norm": false, "pool": [2, 2], "classifier": [8], "classes": 3, "input": [3, 12, 12], "class_names": ["cat", "dog & <fox>", "bird \"b\""]}"#,
        #"{"family": "vgg", "config": [8, 8, "M", 16, "M"], "batch_norm": true, "classifier": [], "classes": 10, "input": [1, 28, 28]}"#,
        #"{"family": "resnet", "block": "basic", "layers": [1, 1, 1, 1], "width": 8, "classes": 5, "input": [3, 32, 32]}"#,
        #"{"family": "resnet", "block": "bottleneck", "layers": [2, 1, 1, 1], "width": 4, "classes": 2, "class_names": ["a\u00e9", "\ud83d\ude00"]}"#,
        "{\n  \"family\": \"vgg\",\n  \"config\": [64, 64, \"M\", 128],\n  \"classes\": 1000\n}\n",
    ].map { Array($0.utf8) }
}

func architectureTarget() -> FuzzTarget {
    FuzzTarget(name: "json", seeds: architectureSeeds(), errorPrefix: "case.json: ", mutate: { mutator, seed in
        switch mutator.int(0...5) {
        case 0, 1: return mutator.mutate(seed)
        case 2, 3: return mutator.replaceNumber(seed)   // channel counts, sizes, classes at boundaries
        case 4:
            let swaps = [("\"vgg\"", mutator.pick(["\"resnet\"", "\"VGG\"", "1", "null"])), ("\"M\"", mutator.pick(["\"m\"", "0", "[]"])),
                         ("\"basic\"", "\"bottleneck\""), ("[", mutator.pick(["{", "[[", String(repeating: "[", count: 600)])),
                         ("]", mutator.pick(["}", ",]", ""])), (",", mutator.pick([",,", "", ", \"family\": 1,"])), ("\"", mutator.pick(["", "\\", "\"\\u"])),
                         ("false", mutator.pick(["true", "0", "nul"])), (": ", mutator.pick([" ", "::"]))]
            let (old, new) = mutator.pick(swaps)
            return mutator.replacing(old, with: new, in: seed)
        default:   // invalid UTF-8 or a control character somewhere
            var out = seed
            out.insert(mutator.pick([0xFF, 0xC3, 0x80, 0x00, 0x0A, 0xED]), at: mutator.int(0...out.count))
            return out
        }
    }) { bytes in
        let architecture = try Architecture.decode(bytes, name: "case.json")
        let input = architecture.inputShape
        guard input.count == 3, input.allSatisfy({ $0 >= 1 }), input[1] <= Architecture.maximumInputSide,
              input[2] <= Architecture.maximumInputSide, architecture.classCount >= 1 else {
            throw FuzzInvariantViolation("accepted input \(input), \(architecture.classCount) classes")
        }
        // What the file says must survive a round trip through the writer.
        let again = try Architecture.parse(JSONValue.parse(architecture.json.serialized(pretty: false)))
        guard again.inputShape == input, again.classCount == architecture.classCount else {
            throw FuzzInvariantViolation("round trip changed the architecture")
        }
        return []
    }
}
