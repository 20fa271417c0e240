"""float16 for the fixtures' build scripts (models/*/build.py).

torch 1.13 has no float16 kernels on the CPU (matmul, conv, layer norm,
softmax, gelu all fail), so a model cannot be traced in float16. The build
scripts round their weights to float16, export in float32 and convert the
ONNX graph with `convert` below. `Float16Mode` runs the torch model with
every floating operator's output rounded to float16, to estimate what a
float16 graph's runtime gets against the float32 reference.

Import it by path (the scripts are not a package), after setting
sys.dont_write_bytecode so that no __pycache__ is left behind:

    spec = importlib.util.spec_from_file_location("efferent_fp16", ".../models/fp16.py")
"""
import numpy as np
import onnx
from onnx import numpy_helper

FLOAT, HALF = onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16


def _half_tensor(t):
    arr = numpy_helper.to_array(t)
    assert arr.dtype == np.float32
    h = arr.astype(np.float16)
    assert np.all(np.isfinite(h)), t.name
    return numpy_helper.from_array(h, t.name)


def convert(m):
    """Convert a float32 ONNX model (weights loaded, not external) to float16
    throughout: float initializers and Constant tensors (any TENSOR
    attribute: Constant, ConstantOfShape) are rounded and must stay finite,
    Casts to float become Casts to float16, and every float value (inputs,
    outputs) is declared float16. Intermediate value_info is dropped, then
    re-inferred with strict type checking, which must find no float32 value
    left. Returns (the converted model, value_info dropped again; the
    sorted operator types). m itself is modified too."""
    g = m.graph
    for i, t in enumerate(g.initializer):
        if t.data_type == FLOAT:
            g.initializer[i].CopyFrom(_half_tensor(t))
    ops = set()
    for node in g.node:
        ops.add(node.op_type)
        for a in node.attribute:
            assert a.type not in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS), node.op_type
            if a.type == onnx.AttributeProto.TENSOR and a.t.data_type == FLOAT:
                a.t.CopyFrom(_half_tensor(a.t))
        if node.op_type == "Cast":
            for a in node.attribute:
                if a.name == "to" and a.i == FLOAT:
                    a.i = HALF
    for v in list(g.input) + list(g.output):
        if v.type.tensor_type.elem_type == FLOAT:
            v.type.tensor_type.elem_type = HALF
    del g.value_info[:]
    onnx.checker.check_model(m)
    m = onnx.shape_inference.infer_shapes(m, check_type=True, strict_mode=True)
    for v in m.graph.value_info:
        assert v.type.tensor_type.elem_type != FLOAT, f"{v.name} is still float32"
    del m.graph.value_info[:]
    return m, sorted(ops)


def round_module(module):
    """Round a torch module's parameters and floating buffers to float16 in
    place (kept float32): the graph's weights and the reference's are then
    the same numbers."""
    import torch
    with torch.no_grad():
        for t in list(module.parameters()) + [b for b in module.buffers() if b.is_floating_point()]:
            t.copy_(t.half().float())


def Float16Mode():
    """A torch dispatch mode that rounds every floating tensor an operator
    returns, and every Python float it is given, to float16 (values kept in
    float32): a float16 graph as ONNX Runtime's CPU runs one, each operator
    computing from float16 inputs and storing a float16 result. An
    estimate: the runtime may fuse operators or accumulate differently."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_map

    def arg(x):
        if isinstance(x, float):
            return float(np.float16(x))
        return x

    def out(x):
        if isinstance(x, torch.Tensor) and x.is_floating_point():
            return x.half().float()
        return x

    class Mode(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            return tree_map(out, func(*tree_map(arg, args), **tree_map(arg, kwargs or {})))

    return Mode()
