/// Reading architectures from JSON files (the format is in SPEC.md, "Architecture files").
extension Architecture {
    /// A torchvision name ("vgg16", "resnet50") or the path of a JSON architecture file.
    public static func resolve(_ nameOrPath: String, in files: some FileSystem) throws(LiftCAMError) -> Architecture {
        if let known = named(nameOrPath) { return known }
        guard nameOrPath.hasSuffix(".json") || files.kind(of: nameOrPath) != .missing else {
            throw LiftCAMError("unknown architecture '\(nameOrPath)': give one of \(knownNames.joined(separator: ", ")) or a .json architecture file")
        }
        return try load(path: nameOrPath, in: files)
    }

    /// Reads a JSON architecture file; every error names the file and the key.
    public static func load(path: String, in files: some FileSystem) throws(LiftCAMError) -> Architecture {
        try decode(files.readFile(path), name: path)
    }

    /// An architecture from the bytes of a JSON file; `name` starts every error message.
    public static func decode(_ bytes: [UInt8], name: String) throws(LiftCAMError) -> Architecture {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw LiftCAMError.file(name, "is not UTF-8 text")
        }
        do {
            return try parse(JSONValue.parse(text))
        } catch {
            // Keys and values are quoted from the file: a raw "\r" in one must not split the line.
            throw LiftCAMError.file(name, oneLine(error.description))
        }
    }

    /// An architecture from its JSON description.
    public static func parse(_ json: JSONValue) throws(LiftCAMError) -> Architecture {
        guard let pairs = json.objectValue else { throw LiftCAMError("expected a JSON object") }
        let reader = FieldReader(pairs: pairs)
        switch try reader.string("family") {
        case "vgg":
            try reader.allowOnly(["family", "config", "batch_norm", "pool", "classifier", "classes", "input", "class_names"])
            let config: [VGGItem] = try reader.array("config").enumerated().map { (index, item) throws(LiftCAMError) -> VGGItem in
                if item.stringValue == "M" { return .maxPool }
                guard let width = item.intValue, width >= 1 else {
                    throw LiftCAMError("config[\(index)] must be a positive channel count or \"M\"")
                }
                return .convolution(width)
            }
            guard config.contains(where: { if case .convolution = $0 { true } else { false } }) else {
                throw LiftCAMError("config must contain at least one convolution")
            }
            let pool = try reader.positiveInts("pool", count: 2, default: [7, 7])
            let configuration = VGGConfiguration(
                config: config, batchNorm: try reader.bool("batch_norm", default: false),
                pool: (pool[0], pool[1]), classifier: try reader.positiveInts("classifier", count: nil, default: [4096, 4096]),
                classes: try reader.positiveInt("classes", default: 1000),
                inputShape: try reader.positiveInts("input", count: 3, default: [3, 224, 224]),
                classNames: try reader.classNames())
            return try checked(.vgg(configuration))
        case "resnet":
            try reader.allowOnly(["family", "block", "layers", "width", "classes", "input", "class_names"])
            let blockName = try reader.string("block")
            guard let block = ResNetConfiguration.Block(rawValue: blockName) else {
                throw LiftCAMError("block must be \"basic\" or \"bottleneck\", got \"\(blockName)\"")
            }
            let configuration = ResNetConfiguration(
                block: block, layers: try reader.positiveInts("layers", count: 4, default: nil),
                width: try reader.positiveInt("width", default: 64), classes: try reader.positiveInt("classes", default: 1000),
                inputShape: try reader.positiveInts("input", count: 3, default: [3, 224, 224]),
                classNames: try reader.classNames())
            return try checked(.resnet(configuration))
        case let other:
            throw LiftCAMError("family must be \"vgg\" or \"resnet\", got \"\(other)\"")
        }
    }

    /// The largest network input side an architecture file may declare.
    public static let maximumInputSide = 4096
    /// The most elements one weight tensor may have (2^31, 8 GiB of Float; on a 32-bit target,
    /// as many Floats as its address space holds): past it the architecture is refused before
    /// anything is allocated.
    public static let maximumTensorElements = Int.bitWidth > 32 ? 1 << 31 : Int.max / MemoryLayout<Float>.stride

    /// The shapes of the largest weight tensors the architecture implies (convolutions and linear
    /// layers), by the JSON key that sets their size; the caller multiplies with overflow checks.
    private var weightSizes: [(String, [Int])] {
        switch self {
        case .vgg(let vgg):
            var sizes: [(String, [Int])] = [], channels = vgg.inputShape[0]
            for case .convolution(let width) in vgg.config {
                sizes.append(("config", [width, channels, 3, 3]))
                channels = width
            }
            var features = [channels, vgg.pool.height, vgg.pool.width]
            for (index, width) in (vgg.classifier + [vgg.classes]).enumerated() {
                let key = index == vgg.classifier.count ? "classes" : "classifier"
                sizes.append((index == 0 ? "pool' and '\(key)" : key, [width] + features))
                features = [width]
            }
            return sizes
        case .resnet(let resnet):
            let widest = [resnet.width, 8, resnet.block.expansion]
            return [("width", [resnet.width, resnet.inputShape[0], 7, 7]), ("width", widest + widest + [3, 3]),
                    ("classes", [resnet.classes] + widest)]
        case .graph:
            return []   // read from the file, whose sizes the ONNX reader checked
        }
    }

    /// The architecture, if its input, weight sizes and class names are acceptable.
    private static func checked(_ architecture: Architecture) throws(LiftCAMError) -> Architecture {
        let input = architecture.inputShape
        if input.count == 3, input[1] > maximumInputSide || input[2] > maximumInputSide {
            throw LiftCAMError("'input' \(input) is too large: at most \(maximumInputSide) pixels a side")
        }
        for (key, factors) in architecture.weightSizes {
            var elements = 1, overflow = false
            for factor in factors where !overflow {
                (elements, overflow) = elements.multipliedReportingOverflow(by: factor)
            }
            guard !overflow, elements <= maximumTensorElements else {
                throw LiftCAMError("'\(key)' is too large: a weight tensor would have \(overflow ? "more than Int.max" : "\(elements)") elements (at most \(maximumTensorElements))")
            }
        }
        if let names = architecture.classNames, names.count != architecture.classCount {
            throw LiftCAMError("class_names has \(names.count) names for \(architecture.classCount) classes")
        }
        return architecture
    }

    /// The JSON description (the same format `parse` reads), without class names.
    public var json: JSONValue {
        func ints(_ values: [Int]) -> JSONValue { .array(values.map { .number(Double($0)) }) }
        switch self {
        case .vgg(let c):
            let config: [JSONValue] = c.config.map {
                switch $0 {
                case .maxPool: return .string("M")
                case .convolution(let width): return .number(Double(width))
                }
            }
            return .object([("family", "vgg"), ("config", .array(config)), ("batch_norm", .bool(c.batchNorm)),
                            ("pool", ints([c.pool.height, c.pool.width])), ("classifier", ints(c.classifier)),
                            ("classes", .number(Double(c.classes))), ("input", ints(c.inputShape))])
        case .resnet(let c):
            return .object([("family", "resnet"), ("block", .string(c.block.rawValue)), ("layers", ints(c.layers)),
                            ("width", .number(Double(c.width))), ("classes", .number(Double(c.classes))),
                            ("input", ints(c.inputShape))])
        case .graph(let g):
            // A description only: an ONNX model is loaded from its file (`--arch model.onnx`).
            return .object([("family", "onnx"), ("file", .string(g.path)), ("classes", .number(Double(g.classCount))),
                            ("input", ints(g.inputShape))])
        }
    }
}

/// Typed access to the fields of one JSON object, with errors that name the key.
private struct FieldReader {
    let pairs: [(String, JSONValue)]

    func value(_ key: String) -> JSONValue? { pairs.last { $0.0 == key }?.1 }

    func allowOnly(_ keys: Set<String>) throws(LiftCAMError) {
        for (key, _) in pairs where !keys.contains(key) {
            throw LiftCAMError("unknown key '\(key)' (expected \(keys.sorted().joined(separator: ", ")))")
        }
    }

    func string(_ key: String) throws(LiftCAMError) -> String {
        guard let value = value(key) else { throw LiftCAMError("missing key '\(key)'") }
        guard let text = value.stringValue else { throw LiftCAMError("'\(key)' must be a string") }
        return text
    }

    func array(_ key: String) throws(LiftCAMError) -> [JSONValue] {
        guard let value = value(key) else { throw LiftCAMError("missing key '\(key)'") }
        guard let items = value.arrayValue else { throw LiftCAMError("'\(key)' must be an array") }
        return items
    }

    func bool(_ key: String, default fallback: Bool) throws(LiftCAMError) -> Bool {
        guard let value = value(key) else { return fallback }
        guard let flag = value.boolValue else { throw LiftCAMError("'\(key)' must be true or false") }
        return flag
    }

    func positiveInt(_ key: String, default fallback: Int) throws(LiftCAMError) -> Int {
        guard let value = value(key) else { return fallback }
        guard let number = value.intValue, number >= 1, number <= 1 << 24 else {
            throw LiftCAMError("'\(key)' must be a positive integer")
        }
        return number
    }

    /// An array of positive integers, of length `count` when given.
    func positiveInts(_ key: String, count: Int?, default fallback: [Int]?) throws(LiftCAMError) -> [Int] {
        guard let value = value(key) else {
            if let fallback { return fallback }
            throw LiftCAMError("missing key '\(key)'")
        }
        guard let items = value.arrayValue else { throw LiftCAMError("'\(key)' must be an array of positive integers") }
        let numbers = items.compactMap { $0.intValue }.filter { $0 >= 1 && $0 <= 1 << 24 }
        guard numbers.count == items.count else { throw LiftCAMError("'\(key)' must hold positive integers only") }
        if let count, numbers.count != count {
            throw LiftCAMError("'\(key)' must have \(count) entries, got \(numbers.count)")
        }
        return numbers
    }

    func classNames() throws(LiftCAMError) -> [String]? {
        guard let value = value("class_names") else { return nil }
        guard let items = value.arrayValue else { throw LiftCAMError("'class_names' must be an array of strings") }
        let names = items.compactMap { $0.stringValue }
        guard names.count == items.count else { throw LiftCAMError("'class_names' must hold strings only") }
        return names
    }
}
