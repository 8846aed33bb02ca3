import LiftCAMCommandLine
import LiftCAMCore

// liftcam.wasm: `liftcam forward` and `liftcam explain` as a WASI command, from the core. The
// options, errors and JSON are the native tool's (LiftCAMCommandLine); inputs are .npy tensors.
//
//   wasmkit run --dir . liftcam.wasm explain --arch A.json --weights DIR --input x.npy --method all --json -

/// The entry point WASI calls: arguments in, exit status out.
@_cdecl("_start")
func start() {
    MonotonicClock.now = {
        var nanoseconds: UInt64 = 0
        _ = wasiClockTimeGet(1, 1000, &nanoseconds)   // 1: the monotonic clock
        return Double(nanoseconds) * 1e-9
    }
    wasiProcExit(UInt32(run(Array(commandLineArguments().dropFirst()))))
}

/// The program's arguments, its name first.
func commandLineArguments() -> [String] {
    var count: UInt32 = 0, size: UInt32 = 0
    guard wasiArgsSizesGet(&count, &size) == WASIErrno.success, count > 0 else { return [] }
    var pointers = [UnsafeMutablePointer<UInt8>?](repeating: nil, count: Int(count))
    var buffer = [UInt8](repeating: 0, count: Int(size))
    return buffer.withUnsafeMutableBufferPointer { text in
        _ = pointers.withUnsafeMutableBufferPointer { wasiArgsGet($0.baseAddress!, text.baseAddress!) }
        return pointers.map { pointer in
            var length = 0
            while pointer![length] != 0 { length += 1 }
            return String(decoding: UnsafeBufferPointer(start: pointer!, count: length), as: UTF8.self)
        }
    }
}

let commands = [forwardCommandSpec, explainCommandSpec]

/// Runs one subcommand; 0 success, 1 bad input, 2 usage error (as the native tool).
func run(_ arguments: [String]) -> Int32 {
    guard let name = arguments.first, name != "--help", name != "-h", name != "help" else {
        write(overview + "\n", to: 1)
        return arguments.isEmpty ? 2 : 0
    }
    guard let spec = commands.first(where: { $0.name == name }) else {
        write("liftcam: unknown subcommand '\(name)'\n\n\(overview)\n", to: 2)
        return 2
    }
    do throws(ToolError) {
        let parsed = try parseArguments(Array(arguments.dropFirst()), for: spec)
        if parsed.helpRequested {
            write(spec.help + "\n", to: 1)
            return 0
        }
        let files = WASIFileSystem()
        if name == "forward" { try forward(parsed, files: files) } else { try explain(parsed, files: files) }
        return 0
    } catch {
        switch error {
        case .usage(let message):
            write("liftcam \(name): \(message)\n\(spec.usageLine)\n(see 'liftcam \(name) --help')\n", to: 2)
            return 2
        case .failure(let message):
            write("liftcam \(name): \(message)\n", to: 2)
            return 1
        }
    }
}

var overview: String {
    var lines = ["liftcam (WebAssembly): LIFT-CAM and the CAM methods it is compared with (Jung & Oh, ICCV 2021)", "",
                 "usage: liftcam <subcommand> [options]", "", "subcommands:"]
    for spec in commands { lines.append("  " + spec.name.padding(to: 10) + spec.summary) }
    lines += ["", "'liftcam <subcommand> --help' shows its options and an example."]
    return lines.joined(separator: "\n")
}

/// `liftcam forward`: the logits as JSON.
func forward(_ arguments: ParsedArguments, files: WASIFileSystem) throws(ToolError) {
    let network = try failing { () throws(LiftCAMError) in
        try loadNetwork(arch: arguments.required("arch"), weights: arguments.value("weights"), in: files)
    }
    _ = try Preprocessing(arguments: arguments, architecture: network.architecture)
    let path = arguments.required("input")
    let input = try loadInput(path, files: files)
    try failing { () throws(LiftCAMError) in try checkInput(input, fits: network, path: path) }
    try emit(forwardJSON(network: network, input: input), to: arguments.value("json") ?? "-", files: files)
}

/// `liftcam explain`: coefficients and maps as JSON (pictures and reports are the native tool's).
func explain(_ arguments: ParsedArguments, files: WASIFileSystem) throws(ToolError) {
    if arguments.value("out") != nil {
        throw ToolError.failure("--out writes pictures and a report, which this WebAssembly build does not make; use --json")
    }
    let arch = arguments.required("arch")
    let network = try failing { () throws(LiftCAMError) in
        try loadNetwork(arch: arch, weights: arguments.value("weights"), in: files)
    }
    _ = try Preprocessing(arguments: arguments, architecture: network.architecture)
    let path = arguments.required("input")
    let input = try loadInput(path, files: files)
    let methods = try parseMethods(arguments.value("method") ?? "lift")
    let explainer = try failing { () throws(LiftCAMError) in
        try makeExplainer(network: network, layer: arguments.value("layer"), input: input, path: path,
                          literal: arguments.flag("literal"))
    }
    let target = try arguments.int("target", default: explainer.predictedClass, minimum: 0)
    let explanations = try explainAll(explainer, methods: methods, target: target, options: try methodOptions(arguments),
                                      skipUnaffordable: arguments.value("method") == "all",
                                      note: { write($0 + "\n", to: 2) })
    let classNames = network.architecture.classNames
    if let destination = arguments.value("json") {
        try emit(explanationJSON(arch: arch, explainer: explainer, target: target, explanations: explanations,
                                 classNames: classNames), to: destination, files: files)
    }
    if arguments.value("json") != "-" {
        write(explanationSummary(explainer: explainer, target: target, explanations: explanations,
                                 classNames: classNames) + "\n", to: 1)
    }
}

/// A .npy input; images are decoded by the native tool only.
func loadInput(_ path: String, files: WASIFileSystem) throws(ToolError) -> Tensor {
    guard path.utf8.count >= 4, Array(path.utf8.suffix(4)).map({ $0 | 0x20 }) == Array(".npy".utf8) else {
        throw ToolError.failure("\(path): this WebAssembly build reads .npy tensors only (save the preprocessed input with numpy, or use the native tool for images)")
    }
    return try failing { () throws(LiftCAMError) in try loadTensorInput(path: path, in: files) }
}

/// JSON to standard output ("-") or to a file, written atomically, as the native tool does.
func emit(_ value: JSONValue, to destination: String, files: WASIFileSystem) throws(ToolError) {
    let text = value.serialized(pretty: destination != "-") + "\n"
    if destination == "-" {
        write(text, to: 1)
    } else {
        try failing { () throws(LiftCAMError) in try files.writeAtomically(destination, bytes: Array(text.utf8)) }
    }
}
