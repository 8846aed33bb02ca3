import LiftCAM

/// `liftcam forward`: the logits of one input.
enum ForwardCommand {
    static let spec = CommandSpec(
        name: "forward", summary: "run the network on one input and print its logits",
        options: networkOptions + [
            OptionSpec(name: "input", valueName: "FILE", help: "preprocessed tensor .npy [3,H,W] or [1,3,H,W], or an image", required: true),
            OptionSpec(name: "json", valueName: "FILE|-", help: "where to write {\"logits\": [...]} (default -, standard output)"),
        ] + Preprocessing.options,
        example: "liftcam forward --arch vgg16 --weights weights/vgg16 --input x.npy --json -")

    static func run(_ arguments: ParsedArguments, console: Console) throws {
        let network = try loadNetwork(arch: arguments.required("arch"), weights: arguments.required("weights"))
        let preprocessing = try Preprocessing(arguments: arguments, architecture: network.architecture)
        let input = try loadInput(path: arguments.required("input"), preprocessing: preprocessing)
        try checkInput(input.tensor, fits: network, path: arguments.required("input"))
        let logits = network.forward(input.tensor.batched).storage
        try emitJSON(.object([("logits", .floats(logits))]), to: arguments.value("json") ?? "-", console: console)
    }
}
