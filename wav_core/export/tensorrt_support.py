"""What TensorRT's ONNX parser accepts, checked on any machine before a GPU ever sees the graphs.

No machine this project runs on has TensorRT, so the standard-ops export is held to the parser's
published support (onnx-tensorrt's operator table for TensorRT 10: opsets 9-20) here, and the
engines are built with `trtexec` (the command below) or `wav export --tensorrt` where it exists.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import onnx

TENSORRT_OPSETS = (9, 20)
"""The default-domain opsets TensorRT 10's ONNX parser reads."""

TENSORRT_OPS = frozenset("""
Abs Acos Acosh Add And ArgMax ArgMin Asin Asinh Atan Atanh AveragePool BatchNormalization Cast CastLike
Ceil Celu Clip Concat Constant ConstantOfShape Conv ConvTranspose Cos Cosh CumSum DepthToSpace
DequantizeLinear Div Dropout Einsum Elu Equal Erf Exp Expand EyeLike Flatten Floor Gather
GatherElements GatherND Gelu Gemm GlobalAveragePool GlobalLpPool GlobalMaxPool Greater GreaterOrEqual
GroupNormalization GRU HardSigmoid HardSwish Identity If InstanceNormalization IsInf IsNaN LayerNormalization
LeakyRelu Less LessOrEqual Log LogSoftmax Loop LRN LSTM LpNormalization LpPool MatMul Max MaxPool Mean
Min Mish Mod Mul Neg NonMaxSuppression NonZero Not OneHot Or Pad PRelu Pow QuantizeLinear RandomNormal
RandomNormalLike RandomUniform RandomUniformLike Range Reciprocal ReduceL1 ReduceL2 ReduceLogSum
ReduceLogSumExp ReduceMax ReduceMean ReduceMin ReduceProd ReduceSum ReduceSumSquare Relu Reshape Resize
ReverseSequence RNN RoiAlign Round Scan Scatter ScatterElements ScatterND Selu Shape Shrink Sigmoid Sign
Sin Sinh Size Slice Softmax Softplus Softsign SpaceToDepth Split Sqrt Squeeze Sub Sum Tan Tanh
ThresholdedRelu Tile TopK Transpose Trilu Unsqueeze Where Xor
""".split())
"""Operators of TensorRT 10's ONNX parser (default domain)."""

CONSTANT_INPUTS = {"Slice": 3, "Squeeze": 1, "Unsqueeze": 1}
"""Inputs (by position) the parser needs as initializers or Constant outputs: the axes."""


def tensorrt_problems(path: str | Path) -> list[str]:
    """Everything in one ONNX file that TensorRT 10's parser would refuse, each naming the node or
    input; empty when the graph should parse."""
    path = Path(path)
    model = onnx.load(str(path), load_external_data=False)
    problems = []
    for imp in model.opset_import:
        if imp.domain in ("", "ai.onnx"):
            low, high = TENSORRT_OPSETS
            if not low <= imp.version <= high:
                problems.append(f"{path.name}: opset {imp.version}, expected {low}-{high}")
        elif any(n.domain == imp.domain for n in model.graph.node):
            problems.append(f"{path.name}: operators of the custom domain {imp.domain!r}")
    constants = {i.name for i in model.graph.initializer}
    constants |= {o for n in model.graph.node if n.op_type == "Constant" for o in n.output}
    for node in model.graph.node:
        label = f"{path.name}: node {node.name or node.output[0]} ({node.op_type})"
        if node.domain not in ("", "ai.onnx"):
            continue  # reported once per domain above
        if node.op_type not in TENSORRT_OPS:
            problems.append(f"{label}: operator not supported by TensorRT's ONNX parser")
        position = CONSTANT_INPUTS.get(node.op_type)
        if position is not None and len(node.input) > position and node.input[position] \
                and node.input[position] not in constants:
            problems.append(f"{label}: input {position} ({node.input[position]}) must be a constant")
        if node.op_type == "TopK" and next((a.i for a in node.attribute if a.name == "sorted"), 1) == 0:
            problems.append(f"{label}: TopK needs sorted=1")
        if node.op_type == "Mod":
            fmod = next((a.i for a in node.attribute if a.name == "fmod"), 0)
            if fmod == 0 and any(_is_float(model, name) for name in node.input):
                problems.append(f"{label}: float Mod needs fmod=1 (the ONNX rule the parser enforces)")
    for value in model.graph.input:
        dims = value.type.tensor_type.shape.dim
        if any(not d.HasField("dim_value") for d in dims):
            problems.append(f"{path.name}: input {value.name} has a dynamic shape (the engines are built for static ones)")
    return problems


def _is_float(model: onnx.ModelProto, name: str) -> bool:
    for init in model.graph.initializer:
        if init.name == name:
            return init.data_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE)
    for node in model.graph.node:
        if node.op_type == "Constant" and name in node.output:
            t = next((a.t for a in node.attribute if a.name == "value"), None)
            return t is not None and t.data_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE)
    return False  # computed: the parser decides; integer index arithmetic is what the export makes


def trtexec_command(onnx_path: str | Path, engine_path: str | Path, precision: str,
                    workspace_bytes: int = 1 << 30) -> str:
    """The `trtexec` line that builds the same engine as `build_engine` (precision, workspace)."""
    from .tensorrt_engines import PRECISIONS

    if precision not in PRECISIONS:
        raise ValueError(f"precision: got {precision!r}, expected one of {list(PRECISIONS)}")
    args = ["trtexec", f"--onnx={onnx_path}", f"--saveEngine={engine_path}",
            f"--memPoolSize=workspace:{workspace_bytes >> 20}M"]
    if precision != "fp32":
        args.append(f"--{precision}")
    return shlex.join(args)
