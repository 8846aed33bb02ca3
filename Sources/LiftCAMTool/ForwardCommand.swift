import LiftCAM
import LiftCAMCommandLine

/// `liftcam forward`: the logits of one input.
enum ForwardCommand {
    static let spec = forwardCommandSpec

    static func run(_ arguments: ParsedArguments, console: Console) throws {
        let network = try loadNetwork(arch: arguments.required("arch"), weights: arguments.value("weights"))
        let preprocessing = try Preprocessing(arguments: arguments, architecture: network.architecture)
        let input = try loadInput(path: arguments.required("input"), preprocessing: preprocessing)
        try checkInput(input.tensor, fits: network, path: arguments.required("input"))
        try emitJSON(forwardJSON(network: network, input: input.tensor), to: arguments.value("json") ?? "-", console: console)
    }
}
