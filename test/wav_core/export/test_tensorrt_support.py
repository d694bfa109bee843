"""The standard-ops export is held to TensorRT 10's ONNX parser here, where no TensorRT exists, and
`wav export --trtexec` writes the exact commands that build its engines on a machine that has it."""

from __future__ import annotations

import shlex
import subprocess

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from wav_core.cli.main import main
from wav_core.export import read_manifest
from wav_core.export.tensorrt_support import tensorrt_problems, trtexec_command
from wav_core.model.files import save_model
from wav_core.planning import PlannerConfig, random_policy

SIZES = ["--K", "2", "--M", "3", "--N", "2", "--S", "2"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    policy = random_policy("tiny", PlannerConfig(K=2, M=3, N=2, S=2))
    return save_model(tmp_path_factory.mktemp("models") / "tiny", policy.model, policy.card)


def test_trtexec_script_builds_every_standard_graph_with_the_backends_settings(model_dir, capsys):
    assert main(["export", "--model", str(model_dir), "--trtexec", "--precision", "bf16", *SIZES]) == 0
    out = model_dir / "onnx-standard"
    assert "pass TensorRT's ONNX parser check" in capsys.readouterr().out
    manifest = read_manifest(out)
    script = (out / "trtexec.sh").read_text()
    assert subprocess.run(["sh", "-n", str(out / "trtexec.sh")]).returncode == 0
    lines = [shlex.split(line) for line in script.splitlines() if line.startswith("trtexec ")]
    assert len(lines) == len(manifest.graphs) >= 4
    for (name, graph), args in zip(manifest.graphs.items(), lines):
        assert args[1] == f"--onnx={out / graph['file']}" and (out / graph["file"]).is_file()
        assert args[2] == f"--saveEngine={out / 'trtexec' / f'{name}-bf16.engine'}"
        assert "--bf16" in args and "--memPoolSize=workspace:1024M" in args
        assert tensorrt_problems(out / graph["file"]) == []


def test_fp32_has_no_precision_flag_and_unknown_precisions_are_refused(tmp_path):
    assert "--fp16" not in trtexec_command(tmp_path / "a.onnx", tmp_path / "a.engine", "fp32")
    assert trtexec_command("a b.onnx", "a.engine", "fp16").startswith("trtexec '--onnx=a b.onnx'")
    with pytest.raises(ValueError, match="precision: got 'int8'"):
        trtexec_command("a.onnx", "a.engine", "int8")


def test_what_the_parser_would_refuse_is_named_by_node(tmp_path):
    """A graph with a custom-domain operator, an operator TensorRT lacks, axes computed at run time,
    a float Mod without fmod, an unsorted TopK and a dynamic input."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    nodes = [
        helper.make_node("MultiHeadAttention", ["x", "x", "x"], ["attn"], name="mha", domain="com.microsoft", num_heads=1),
        helper.make_node("Hardmax", ["attn"], ["hard"], name="hardmax"),
        helper.make_node("Shape", ["x"], ["shape"], name="shape"),
        helper.make_node("Unsqueeze", ["hard", "shape"], ["unsq"], name="unsqueeze"),
        helper.make_node("Mod", ["unsq", "two"], ["rem"], name="mod"),
        helper.make_node("TopK", ["rem", "k"], ["y", "idx"], name="topk", sorted=0),
    ]
    graph = helper.make_graph(nodes, "g", [x], [y], initializer=[numpy_helper.from_array(np.float32(2.0), "two"),
                                                                 numpy_helper.from_array(np.array([1], np.int64), "k")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    path = tmp_path / "bad.onnx"
    onnx.save(model, str(path))
    problems = "\n".join(tensorrt_problems(path))
    assert "custom domain 'com.microsoft'" in problems
    assert "node hardmax (Hardmax): operator not supported" in problems
    assert "node unsqueeze (Unsqueeze): input 1 (shape) must be a constant" in problems
    assert "node mod (Mod): float Mod needs fmod=1" in problems
    assert "node topk (TopK): TopK needs sorted=1" in problems
    assert "input x has a dynamic shape" in problems
    assert "Shape" not in problems and "mha" not in problems


def test_an_old_opset_is_refused(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    path = tmp_path / "old.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 7)]), str(path))
    assert tensorrt_problems(path) == ["old.onnx: opset 7, expected 9-20"]
