// Splitting a graph network (an ONNX model) at a named tensor: the body is everything that computes
// it from the image, the head everything that computes the logits from it (Section 3.3's f^[l] and
// F, for a graph). A chain-shaped part becomes a `Sequential` of its layers, so the fast paths of
// VGG's and ResNet's heads (head decomposition, the map game's shortcut) apply to it unchanged.

extension Network {
    /// The split of `graph` after the tensor (or node) named `layer`.
    func splitGraph(_ graph: GraphLayer, model: GraphModel, at layer: String) throws(LiftCAMError) -> SplitNetwork {
        let byNode = graph.steps.first { $0.operation.name == layer }?.outputs.first
        guard let slot = model.slot(named: layer) ?? byNode else {
            throw LiftCAMError("unknown layer '\(oneLine(layer))': \(model.path) has no tensor or node of that name; the default is '\(model.defaultLayer)'\(describeMapTensors(graph, model: model))")
        }
        guard slot != graph.inputSlot, slot != graph.outputSlot else {
            throw LiftCAMError("layer '\(oneLine(layer))' is the network's \(slot == graph.inputSlot ? "input" : "output"); choose a tensor in between")
        }
        let body = try graph.subgraph(name: "body", from: graph.inputSlot, to: slot)
        let head: GraphLayer
        do throws(LiftCAMError) {
            head = try graph.subgraph(name: "head", from: slot, to: graph.outputSlot)
        } catch {
            throw LiftCAMError("layer '\(oneLine(layer))' cannot split the network: \(error.description)")
        }
        let literal = kernels == .literal
        let bodyLayers: Sequential
        if let chain = body.chain {
            let sequence = Sequential(name: "body", layers: chain)
            bodyLayers = literal ? sequence : sequence.fused().mergingReLUs()
        } else {
            bodyLayers = Sequential(name: "body", layers: [literal ? body : body.fused(mergingReLUs: true)])
        }
        let headLayers: Sequential
        if let chain = head.chain {
            let sequence = Sequential(name: "head", layers: chain)
            headLayers = literal ? sequence : sequence.fused()
        } else {
            headLayers = Sequential(name: "head", layers: [literal ? head : head.fused()])
        }
        return SplitNetwork(layer: layer, body: bodyLayers, head: headLayers, kernels: kernels)
    }

    /// ", e.g. …": the last few tensors of activation maps, as split points to try.
    private func describeMapTensors(_ graph: GraphLayer, model: GraphModel) -> String {
        guard let shapes = try? graph.slotShapes(for: model.inputShape) else { return "" }
        let maps = graph.steps.flatMap { $0.outputs }.filter { (shapes[$0]?.count ?? 0) == 4 }.map { "'\(graph.slotNames[$0])'" }
        return maps.isEmpty ? "" : "; tensors of activation maps include \(maps.suffix(5).joined(separator: ", "))"
    }
}
