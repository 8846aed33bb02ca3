#!/usr/bin/env python3
"""Writes the ONNX files that Tests/LiftCAMTests/ONNXDecoderTests.swift decodes, and expected.json.

Run from anywhere (python3 with onnx, numpy, torch and torchvision; CI does not run it):

    python3 Fixtures/onnx/reader/generate_reader_fixtures.py

Made with onnx 1.23.2, numpy 2.x, torch 2.15, torchvision 0.29. Files:

    tensors.onnx        initializers of every supported data type, from raw_data and from the
                        typed fields (float_data, int32_data, int64_data, double_data,
                        uint64_data), FLOAT16 both ways, a scalar and an empty tensor
    attributes.onnx     one node with an attribute of every kind (float … type_protos), value_info
                        with dim_param, metadata_props, two opset_import domains, and unknown
                        fields (varint, fixed32, fixed64, bytes, a group) in five messages
    wire.onnx           written field by field: packed dims, unpacked float_data and int64_data,
                        packed attribute ints, unpacked attribute floats, a 10-byte varint
    external.onnx       three initializers in external.bin (offset and length, offset only, none)
    external_*.onnx     refused: offset/length past the end, an absolute path, a '..' component
    bad_*.onnx          refused: dims overflow, raw_data size mismatch, BFLOAT16 and STRING
                        tensors, a lying length inside a node, a sparse initializer
    torch_cnn.onnx      a three-layer CNN exported by torch.onnx.export (opset 17, dynamo=False)

With --large PATH it writes only a ~100 MB model (FLOAT and INT64 raw_data, one FLOAT16) for
measuring the decoder's speed: LIFTCAM_ONNX_LARGE=PATH swift test -c release --filter
ONNXDecoderTests/testLargeModelDecodeSpeed.

expected.json holds, per good file, what the decoder must return (values as float32/int64 numbers);
the Swift test states the refusals' messages itself.
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))


# -- A little wire-format writer, for the encodings onnx's serializer never produces ---------------

def varint(value):
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field(number, wire, payload=b""):
    tag = varint(number << 3 | wire)
    if wire == 2:
        return tag + varint(len(payload)) + payload
    return tag + payload


def v(number, value):
    return field(number, 0, varint(value))


def s(number, text):
    return field(number, 2, text.encode() if isinstance(text, str) else text)


# Unknown fields of every wire type: numbers no ONNX message uses.
UNKNOWN = v(900, 7) + field(901, 5, b"\x01\x02\x03\x04") + field(902, 1, b"\x00" * 8) + s(903, b"\xff\xfe unknown") \
    + field(904, 3) + v(1, 5) + s(2, "in a group") + field(905, 3) + field(905, 4) + field(904, 4)


def with_unknown(message):
    """The message with UNKNOWN's fields appended; python's protobuf keeps them when re-serialized."""
    cls = type(message)
    again = cls()
    again.ParseFromString(message.SerializeToString() + UNKNOWN)
    return again


def save(model, name):
    path = os.path.join(HERE, name)
    with open(path, "wb") as f:
        f.write(model if isinstance(model, bytes) else model.SerializeToString())
    return path


def graph_model(initializers, nodes=(), inputs=(), outputs=(), name="g", **kwargs):
    graph = helper.make_graph(list(nodes), name, list(inputs), list(outputs), initializer=list(initializers))
    model = helper.make_model(graph, producer_name="liftcam-fixture", opset_imports=[helper.make_opsetid("", 17)], **kwargs)
    model.ir_version = 8
    return model


def tensor_json(array, name):
    a = np.asarray(array)
    kind = "floats" if a.dtype.kind == "f" else "integers"
    with np.errstate(over="ignore"):   # -1e300 becomes -inf, as the decoder's Float(Double) gives
        values = a.astype(np.float32).ravel().tolist() if kind == "floats" else [int(x) for x in a.ravel()]
        # JSON has no inf/nan: spelled as strings the test maps back.
        values = [x if not isinstance(x, float) or np.isfinite(x) else str(x) for x in values]
    return {"name": name, "dims": list(a.shape), "kind": kind, "values": values}


def bare(name, dtype, shape):
    """A TensorProto with dims and type but no data (make_tensor checks the element count)."""
    t = TensorProto(name=name, data_type=dtype)
    t.dims.extend(shape)
    return t


def float16_bits(values):
    return np.array(values, dtype=np.float16).view(np.uint16)


def main():
    expected = {}

    # -- tensors.onnx --------------------------------------------------------------------------
    rng = np.random.default_rng(20211011)
    f16 = [0.5, -0.0, 6.1e-05, 5.96e-08, 65504.0, -np.inf, 1 / 3]
    arrays = {
        "f_raw": (rng.standard_normal((2, 3)).astype(np.float32), TensorProto.FLOAT, True),
        "f_data": (np.array([1.5, -2.25, 3e-39, 1e30], np.float32), TensorProto.FLOAT, False),
        "i64_raw": (np.array([[-1, 2**40], [-(2**63), 2**63 - 1]], np.int64), TensorProto.INT64, True),
        "i64_data": (np.array([7, -8, 2**53 + 1], np.int64), TensorProto.INT64, False),
        "i32_raw": (np.array([-(2**31), 5, 2**31 - 1], np.int32), TensorProto.INT32, True),
        "i32_data": (np.array([[-3, 4]], np.int32), TensorProto.INT32, False),
        "i16_raw": (np.array([-32768, 32767], np.int16), TensorProto.INT16, True),
        "i8_raw": (np.array([-128, 127, 0], np.int8), TensorProto.INT8, True),
        "i8_data": (np.array([-5, 6], np.int8), TensorProto.INT8, False),
        "u8_raw": (np.array([0, 255, 17], np.uint8), TensorProto.UINT8, True),
        "u16_data": (np.array([65535, 1], np.uint16), TensorProto.UINT16, False),
        "bool_raw": (np.array([True, False, True]), TensorProto.BOOL, True),
        "bool_data": (np.array([False, True]), TensorProto.BOOL, False),
        "u32_data": (np.array([4294967295, 3], np.uint32), TensorProto.UINT32, False),
        "u64_raw": (np.array([2**63 - 1, 0], np.uint64), TensorProto.UINT64, True),
        "d_raw": (np.array([1 / 3, -1e300, 1e-50], np.float64), TensorProto.DOUBLE, True),
        "d_data": (np.array([[0.1], [2.5]], np.float64), TensorProto.DOUBLE, False),
        "scalar": (np.array(-4.75, np.float32), TensorProto.FLOAT, True),
        "empty": (np.zeros((0, 3), np.float32), TensorProto.FLOAT, False),
    }
    tensors = []
    for name, (array, dtype, raw) in arrays.items():
        if raw:
            tensors.append(helper.make_tensor(name, dtype, array.shape, array.tobytes(), raw=True))
        else:
            tensors.append(helper.make_tensor(name, dtype, array.shape, array.ravel().tolist()))
    tensors.append(helper.make_tensor("f16_raw", TensorProto.FLOAT16, [len(f16)], np.array(f16, np.float16).tobytes(), raw=True))
    f16_data = bare("f16_data", TensorProto.FLOAT16, [len(f16)])
    f16_data.int32_data.extend(int(b) for b in float16_bits(f16))   # the bit patterns, as the spec says
    tensors.append(f16_data)
    model = graph_model(tensors)
    save(model, "tensors.onnx")
    loaded = onnx.load(os.path.join(HERE, "tensors.onnx"))
    expected["tensors.onnx"] = {"initializers": [tensor_json(numpy_helper.to_array(t), t.name) for t in loaded.graph.initializer]}

    # -- attributes.onnx -----------------------------------------------------------------------
    const = numpy_helper.from_array(np.array([[1, 2], [3, 4]], np.float32), "const_value")
    subgraph = helper.make_graph([], "sub", [], [])
    node = helper.make_node(
        "Custom", ["x", "", "w"], ["y"], name="every/attribute", domain="liftcam.test",
        f=0.25, i=-3, s="same", t=const, floats=[1.0, -0.5], ints=[3, -1, 2**40], strings=["a", "bé"],
        g=subgraph, graphs=[subgraph], tensors=[const],
        tp=helper.make_tensor_type_proto(TensorProto.FLOAT, [2]),
        type_protos=[helper.make_tensor_type_proto(TensorProto.FLOAT, [2])],
    )
    sparse = onnx.SparseTensorProto()
    sparse.values.CopyFrom(numpy_helper.from_array(np.array([1.0], np.float32), "v"))
    sparse.indices.CopyFrom(numpy_helper.from_array(np.array([0], np.int64), "i"))
    sparse.dims.extend([3])
    node.attribute.extend([helper.make_attribute("sp", sparse), helper.make_attribute("sps", [sparse])])
    node.attribute.append(with_unknown(helper.make_attribute("with_unknown", 9)))
    relu = with_unknown(helper.make_node("Relu", ["y"], ["z"]))   # unnamed
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, None, 7])]
    outputs = [helper.make_tensor_value_info("z", TensorProto.FLOAT, None)]
    graph = helper.make_graph([node, relu], "attribute graph", inputs, outputs,
                              initializer=[with_unknown(numpy_helper.from_array(np.array([9, 8], np.int64), "w"))],
                              value_info=[helper.make_tensor_value_info("y", TensorProto.INT64, [1, "n"]),
                                          with_unknown(helper.make_tensor_sequence_value_info("seq", TensorProto.FLOAT, None))])
    graph = with_unknown(graph)
    model = helper.make_model(graph, producer_name="liftcam-fixture",
                              opset_imports=[helper.make_opsetid("liftcam.test", 3), helper.make_opsetid("ai.onnx", 13)])
    model.ir_version = 9
    helper.set_model_props(model, {"classes": "cat,dog", "liftcam.layer": "features.3", "non-ascii": "\u00e9\u2028x"})
    model = with_unknown(model)
    save(model, "attributes.onnx")
    expected["attributes.onnx"] = {
        "ir_version": 9, "opset": 13, "producer": "liftcam-fixture", "graph_name": "attribute graph",
        "metadata": {"classes": "cat,dog", "liftcam.layer": "features.3", "non-ascii": "\u00e9\u2028x"},
        "attribute_kinds": {a.name: int(a.type) for a in node.attribute},
    }

    # -- wire.onnx: encodings onnx's serializer does not write ---------------------------------
    floats = [0.5, -1.0, 2.0, 1e-3]
    f32 = lambda x: np.array([x], np.float32).tobytes()
    tensor_a = s(8, "a") + v(2, TensorProto.FLOAT) + s(1, varint(2) + varint(2)) + b"".join(field(4, 5, f32(x)) for x in floats)
    tensor_b = v(1, 3) + v(2, TensorProto.INT64) + v(7, 2**64 - 5) + v(7, 6) + s(8, "b") + field(7, 0, b"\x81\x80\x80\x80\x80\x80\x80\x80\x80\x00")
    attribute = s(1, "kernel_shape") + v(20, 7) + s(8, varint(3) + varint(2**64 - 1))
    floats_attr = s(1, "scales") + v(20, 6) + field(7, 5, f32(1.5)) + field(7, 5, f32(-2.0)) + s(7, f32(4.0))
    wire_node = s(1, "a") + s(2, "out") + s(4, "Conv") + s(3, "n0") + s(5, attribute) + s(5, floats_attr)
    wire_graph = s(1, wire_node) + s(2, "wire") + s(5, tensor_a) + s(5, tensor_b)
    wire_model = v(1, 7) + s(7, wire_graph) + s(8, s(1, "") + v(2, 11))
    save(wire_model, "wire.onnx")
    loaded = onnx.load(os.path.join(HERE, "wire.onnx"))   # python's protobuf reads it the same way
    expected["wire.onnx"] = {
        "initializers": [tensor_json(numpy_helper.to_array(t), t.name) for t in loaded.graph.initializer],
        "ints": list(loaded.graph.node[0].attribute[0].ints), "floats": list(loaded.graph.node[0].attribute[1].floats),
    }

    # -- external data -------------------------------------------------------------------------
    ext = {"e_w": np.arange(12, dtype=np.float32).reshape(3, 4) / 8, "e_i": np.array([5, -6], np.int64),
           "e_last": np.array([0.25, 0.5], np.float32)}
    blob = ext["e_w"].tobytes() + b"\0" * 16 + ext["e_i"].tobytes() + ext["e_last"].tobytes()
    with open(os.path.join(HERE, "external.bin"), "wb") as f:
        f.write(blob)

    def external_tensor(name, dtype, shape, location, offset=None, length=None):
        t = bare(name, dtype, shape)
        t.data_location = TensorProto.EXTERNAL
        for key, value in (("location", location), ("offset", offset), ("length", length)):
            if value is not None:
                t.external_data.add(key=key, value=str(value))
        return t

    good = [external_tensor("e_w", TensorProto.FLOAT, [3, 4], "external.bin", 0, 48),
            external_tensor("e_i", TensorProto.INT64, [2], "./external.bin", 64, 16),
            external_tensor("e_last", TensorProto.FLOAT, [2], "external.bin", len(blob) - 8)]   # no length: to the end
    save(graph_model(good), "external.onnx")
    expected["external.onnx"] = {"initializers": [tensor_json(a, n) for n, a in ext.items()]}
    save(graph_model([external_tensor("e_w", TensorProto.FLOAT, [3, 4], "external.bin", len(blob) - 40, 48)]), "external_past_end.onnx")
    save(graph_model([external_tensor("e_w", TensorProto.FLOAT, [3, 4], "/etc/passwd", 0, 48)]), "external_absolute.onnx")
    save(graph_model([external_tensor("e_w", TensorProto.FLOAT, [3, 4], "sub/../../reader/external.bin", 0, 48)]), "external_dotdot.onnx")

    # -- refused files -------------------------------------------------------------------------
    huge = bare("huge", TensorProto.FLOAT, [2**31, 2**31, 4])
    save(graph_model([huge]), "bad_dims_overflow.onnx")
    short = bare("fc.weight", TensorProto.FLOAT, [10, 4])
    short.raw_data = b"\0" * 40
    save(graph_model([short]), "bad_raw_size.onnx")
    save(graph_model([helper.make_tensor("bf", TensorProto.BFLOAT16, [2], b"\0" * 4, raw=True)]), "bad_bfloat16.onnx")
    save(graph_model([helper.make_tensor("names", TensorProto.STRING, [1], [b"x"])]), "bad_string.onnx")
    # A node whose attribute's length claims 200 bytes where 7 are left: the graph's and the
    # node's lengths are right, the error is two messages deep.
    lying_node = s(1, "x") + s(2, "y") + s(4, "Relu") + s(3, "liar") + varint(5 << 3 | 2) + varint(200) + s(1, "alpha")
    save(v(1, 8) + s(7, s(1, s(4, "Relu") + s(3, "fine")) + s(1, lying_node)), "bad_lying_length.onnx")
    sparse_graph = helper.make_graph([], "g", [], [], sparse_initializer=[sparse])
    save(helper.make_model(sparse_graph), "bad_sparse.onnx")

    # -- a real export ---------------------------------------------------------------------------
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(8, 16, 3, stride=2), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
        torch.nn.Linear(16, 10)).eval()
    path = os.path.join(HERE, "torch_cnn.onnx")
    torch.onnx.export(net, torch.zeros(1, 3, 16, 16), path, dynamo=False, opset_version=17,
                      input_names=["image"], output_names=["logits"], dynamic_axes={"image": {0: "batch"}})
    loaded = onnx.load(path)
    expected["torch_cnn.onnx"] = {
        "ir_version": loaded.ir_version, "opset": next(o.version for o in loaded.opset_import if o.domain in ("", "ai.onnx")),
        "producer": loaded.producer_name,
        "op_types": [n.op_type for n in loaded.graph.node], "node_names": [n.name for n in loaded.graph.node],
        "initializers": [dict(tensor_json(numpy_helper.to_array(t), t.name), values=tensor_json(numpy_helper.to_array(t), t.name)["values"][:5])
                         for t in loaded.graph.initializer],
        "inputs": [[d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in loaded.graph.input],
        "conv_attributes": {a.name: list(a.ints) for a in loaded.graph.node[0].attribute if a.type == onnx.AttributeProto.INTS},
    }
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, ensure_ascii=False)
        f.write("\n")


def large(path):
    """~100 MB: 24 M floats in four initializers, 1 M int64, 1 M float16; values from their index."""
    tensors = []
    for i in range(4):
        values = (np.arange(6_000_000, dtype=np.float32) + i) / 1024
        tensors.append(numpy_helper.from_array(values.reshape(6000, 1000), f"w{i}"))
    tensors.append(numpy_helper.from_array(np.arange(1_000_000, dtype=np.int64) - 7, "ints"))
    tensors.append(numpy_helper.from_array((np.arange(1_000_000) % 2048).astype(np.float16), "halves"))
    onnx.save(graph_model(tensors), path)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--large":
        large(sys.argv[2])
    else:
        main()
