import LiftCAMCore

// A LIFT-CAM program for a microcontroller: the fixture network tiny_vgg and one input are linked
// into the image (Scripts/pack_files.py → a C array), read through a MemoryFileSystem, and
// explained with LIFT-CAM and Grad-CAM. It prints one JSON line on the board's console
// (semihosting) with the logits, both α, the summation-to-delta check of Eq 8 and the memory it
// used, so the native build's numbers can be compared with it.

@_extern(c, "liftcam_fixture_bytes") func fixtureBytes() -> UnsafePointer<UInt8>
@_extern(c, "liftcam_fixture_count") func fixtureCount() -> UInt
@_extern(c, "liftcam_stack_used") func stackUsed() -> UInt
@_extern(c, "liftcam_console_write") func consoleWrite(_ text: UnsafePointer<UInt8>, _ count: UInt)

func say(_ text: String) {
    var line = text + "\n"
    line.withUTF8 { consoleWrite($0.baseAddress!, UInt($0.count)) }
}

/// Called by the board's start-up code; the status becomes the semihosting exit code.
@_cdecl("liftcam_main")
func liftcamMain() -> Int32 {
    do throws(LiftCAMError) {
        let archive = UnsafeRawBufferPointer(start: fixtureBytes(), count: Int(fixtureCount()))
        let files = try MemoryFileSystem(archive: archive, name: "fixture")
        let architecture = try Architecture.resolve("tiny_vgg/arch.json", in: files)
        let network = try Network(architecture: architecture, weights: try WeightDirectory(path: "tiny_vgg/weights", in: files))
        let input = try readNPY(path: "input.npy", in: files)
        let explainer = try Explainer(network: network, input: input)
        let target = explainer.predictedClass
        let lift = try explainer.coefficients(.lift, target: target)
        let gradcam = try explainer.coefficients(.gradcam, target: target)
        // Eq 8 with the zero reference: Σ_k α_k^lift = F^c(A) − F^c(0).
        let atZero = explainer.network.head.forward(Tensor(shape: [1] + explainer.activations.shape)).storage[target]
        let delta = explainer.logits[target] - atZero
        let summationError = abs(lift.reduce(0, +) - delta) / max(abs(delta), 1e-6)
        let report: JSONValue = .object([
            ("layer", .string(explainer.network.layer)), ("predicted", .number(Double(target))),
            ("logits", .floats(explainer.logits)), ("lift", .floats(lift)), ("gradcam", .floats(gradcam)),
            ("summation_relative_error", .float(summationError)),
            ("heap_peak_bytes", .number(Double(heapHighWater()))), ("stack_peak_bytes", .number(Double(stackUsed()))),
        ])
        say(report.serialized(pretty: false))
        return summationError < 1e-4 ? 0 : 3
    } catch {
        say("liftcam: \(error.description)")
        return 1
    }
}
