"""TensorRT: trtexec's exported timings and profiles, the precision path per TensorRT version,
the engine cache key, trtexec's argument lists, and the agent's TensorRT runtime; engines built
on the device: the conversion's build input (the ONNX model, the int8 QDQ model calibrated on
the workload's data, the build spec), the agent builder's decisions (precision path, batch
profile, whether a staged engine fits the board) and the host's engine cache.

The real tests (the runtime on a tiny engine; an engine built by the agent, kept by the host and
staged again) need TensorRT, cuda-python and a CUDA GPU and skip elsewhere; here the runtime is
checked for its refusals without TensorRT, and its buffer and stream plumbing against a stand-in
of the two APIs (host memory playing the device). Nothing stands in for TensorRT's builder."""

from __future__ import annotations

import ctypes
import enum
import importlib
import json
import shutil
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from edgebench.agent import tensorrt_build as build
from edgebench.agent.runtimes import RuntimeUnavailable
from edgebench.agent.runtimes.tensorrt import NO_CUDA_BINDING, NO_TENSORRT, TensorRT
from edgebench.convert import tensorrt as trt_convert
from edgebench.convert import trtexec as tx
from edgebench.convert.job import convert_workload
from edgebench.devices import engine_cache
from edgebench.devices.staging import stage_run
from edgebench.fileio import read_json, sha256_file, write_json
from edgebench.formats import FORMATS
from edgebench.testing import trtexec_fidelity as fidelity

# trtexec 10.x --exportTimes: every iteration after the warm-up (sampleReporting exportJSONTrace)
TIMES_CURRENT = """[
  { "startEnqMs" : 1.21472, "endEnqMs" : 1.27466, "startH2dMs" : 1.21811, "endH2dMs" : 1.22662,
    "startComputeMs" : 1.22731, "endComputeMs" : 1.78437, "startD2hMs" : 1.78578,
    "endD2hMs" : 1.79027, "h2dMs" : 0.00851, "computeMs" : 0.55706, "d2hMs" : 0.00449,
    "latencyMs" : 0.57006, "endToEndMs" : 0.57555 }
, { "startEnqMs" : 1.80112, "endEnqMs" : 1.85301, "startH2dMs" : 1.80401, "endH2dMs" : 1.81199,
    "startComputeMs" : 1.81263, "endComputeMs" : 2.36012, "startD2hMs" : 2.36101,
    "endD2hMs" : 2.36544, "h2dMs" : 0.00798, "computeMs" : 0.54749, "d2hMs" : 0.00443,
    "latencyMs" : 0.5599, "endToEndMs" : 0.56143 }
, { "startEnqMs" : 2.37, "endEnqMs" : 2.421, "startH2dMs" : 2.373, "endH2dMs" : 2.381,
    "startComputeMs" : 2.382, "endComputeMs" : 2.95, "startD2hMs" : 2.951,
    "endD2hMs" : 2.956, "h2dMs" : 0.008, "computeMs" : 0.568, "d2hMs" : 0.005,
    "latencyMs" : 0.581, "endToEndMs" : 0.586 }
]
"""
# older trtexec (TensorRT 7): input/output copies as startInMs/inMs/outMs
TIMES_OLD = """[
  { "startInMs" : 0.93, "endInMs" : 0.98, "startComputeMs" : 0.99, "endComputeMs" : 1.53,
    "startOutMs" : 1.54, "endOutMs" : 1.56, "inMs" : 0.05, "computeMs" : 0.54,
    "outMs" : 0.02, "latencyMs" : 0.61, "endToEndMs" : 0.63 }
, { "startInMs" : 1.6, "endInMs" : 1.66, "startComputeMs" : 1.67, "endComputeMs" : 2.19,
    "startOutMs" : 2.2, "endOutMs" : 2.23, "inMs" : 0.06, "computeMs" : 0.52,
    "outMs" : 0.03, "latencyMs" : 0.61, "endToEndMs" : 0.63 }
]
"""
# older still: no latencyMs and no computeMs, only the compute's start and end
TIMES_OLD_BARE = (
    '[{"startInMs": 0.5, "inMs": 0.1, "startComputeMs": 0.6, "endComputeMs": 1.1, "outMs": 0.2}]'
)
PROFILE = """[
  { "count" : 1043 }
, { "name" : "conv1 + relu1", "timeMs" : 120.5, "averageMs" : 0.11553, "medianMs" : 0.1147,
    "percentage" : 41.2 }
, { "name" : "fc + softmax", "timeMs" : 50.1, "averageMs" : 0.04804, "medianMs" : 0.0471,
    "percentage" : 17.1 }
]
"""
PROFILE_OLD = (
    '[{"count": 10}, {"name": "(Unnamed Layer* 0) [Convolution]", "timeMs": 1.5, '
    '"averageMs": 0.15, "percentage": 100.0}]'
)


def test_export_times_of_the_current_trtexec():
    records = fidelity.parse_export_times(TIMES_CURRENT)
    assert len(records) == 3
    first = records[0]
    assert first["schema"] == "current"
    assert first["latency_ms"] == 0.57006 and first["compute_ms"] == 0.55706
    assert first["h2d_ms"] == 0.00851 and first["d2h_ms"] == 0.00449
    assert first["end_to_end_ms"] == 0.57555 and first["start_ms"] == 1.21472
    assert first["enqueue_ms"] == pytest.approx(1.27466 - 1.21472)
    assert fidelity.trtexec_median_ms(records) == 0.57006
    assert fidelity.trtexec_median_ms(records, "compute_ms") == 0.55706
    # bytes, a parsed list and a file read the same
    assert fidelity.parse_export_times(TIMES_CURRENT.encode()) == records
    assert fidelity.parse_export_times(json.loads(TIMES_CURRENT)) == records


def test_export_times_of_older_trtexec_share_the_schema(tmp_path):
    records = fidelity.parse_export_times(TIMES_OLD)
    assert [r["schema"] for r in records] == ["old", "old"]
    assert records[0]["latency_ms"] == 0.61 and records[0]["compute_ms"] == 0.54
    assert records[0]["h2d_ms"] == 0.05 and records[0]["d2h_ms"] == 0.02
    assert records[0]["enqueue_ms"] is None
    assert set(records[0]) == set(fidelity.parse_export_times(TIMES_CURRENT)[0])
    (tmp_path / "times.json").write_text(TIMES_OLD_BARE)
    (bare,) = fidelity.parse_export_times(tmp_path / "times.json")
    assert bare["compute_ms"] == pytest.approx(0.5)
    assert bare["latency_ms"] == pytest.approx(0.1 + 0.5 + 0.2)  # inMs + compute + outMs
    assert bare["end_to_end_ms"] is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("not json", "not JSON"),
        ('{"latencyMs": 1}', "must be a JSON list"),
        ("[]", "no iterations"),
        ("[1.5]", "is not an object"),
        ('[{"timeMs": 1.0, "name": "conv"}]', "neither the current fields"),
        ('[{"startInMs": 0, "inMs": 0.1, "outMs": 0.1}]', "no computeMs"),
        (TIMES_CURRENT.replace('"latencyMs" : 0.5599', '"latencyMs" : "fast"'), "latencyMs"),
        (TIMES_CURRENT.replace('"computeMs" : 0.568', '"computeMs" : NaN'), "finite"),
        (TIMES_CURRENT.replace('"computeMs" : 0.568', '"computeMs" : -0.5'), "negative"),
        (TIMES_CURRENT.rstrip().rstrip("]") + "," + TIMES_OLD.lstrip().lstrip("["), "mixes"),
    ],
)
def test_malformed_export_times_are_refused(text, problem):
    with pytest.raises(ValueError, match=problem):
        fidelity.parse_export_times(text)


def test_export_profile_of_both_generations():
    profile = fidelity.parse_export_profile(PROFILE)
    assert profile["count"] == 1043
    assert [layer["name"] for layer in profile["layers"]] == ["conv1 + relu1", "fc + softmax"]
    assert profile["layers"][0] == {
        "name": "conv1 + relu1",
        "time_ms": 120.5,
        "average_ms": 0.11553,
        "median_ms": 0.1147,
        "percentage": 41.2,
    }
    old = fidelity.parse_export_profile(PROFILE_OLD)
    assert old["count"] == 10 and old["layers"][0]["median_ms"] is None
    for bad, problem in [
        ("[]", "non-empty"),
        ('[{"name": "x"}]', "must start with"),
        ('[{"count": 3}, {"name": "x", "timeMs": 1}]', "lacks averageMs, percentage"),
        ('[{"count": 3}, 7]', "not an object"),
    ]:
        with pytest.raises(ValueError, match=problem):
            fidelity.parse_export_profile(bad)
    with pytest.raises(ValueError, match="no iteration carries"):
        fidelity.trtexec_median_ms([{"latency_ms": None}])


def test_precision_path_on_tensorrt_10_uses_builder_flags():
    paths = {p: tx.precision_path("10.3.0.30", p) for p in tx.PRECISIONS}
    assert {p["path"] for p in paths.values()} == {"flags"}
    assert [paths[p]["trtexec_args"] for p in ("fp32", "fp16", "int8")] == [
        [],
        ["--fp16"],
        ["--int8"],
    ]
    assert paths["fp16"]["model"] == "fp32" and paths["int8"]["model"] == "qdq"
    assert "calibration set" in paths["int8"]["needs"]
    assert "random" in paths["int8"]["needs"]  # never trtexec's random scales
    assert tx.precision_path("8.5.2", "int8")["path"] == "flags"  # JetPack 5


def test_precision_path_on_tensorrt_11_comes_from_the_model():
    paths = {p: tx.precision_path("11.0.0", p) for p in tx.PRECISIONS}
    assert {p["path"] for p in paths.values()} == {"strongly-typed"}
    assert all(p["trtexec_args"] == [] for p in paths.values())
    assert [paths[p]["model"] for p in ("fp32", "fp16", "int8")] == ["fp32", "fp16", "qdq"]
    assert "cast to fp16" in paths["fp16"]["needs"] and "removed --fp16" in paths["fp16"]["needs"]
    assert "Q/DQ" in paths["int8"]["needs"] and "--calib" in paths["int8"]["needs"]
    assert paths["int8"]["tensorrt_major"] == 11
    with pytest.raises(ValueError, match="no 'bf16' path"):
        tx.precision_path("10.3", "bf16")
    with pytest.raises(ValueError, match="not a TensorRT version"):
        tx.precision_path("unknown", "fp32")


JETSON_FACTS = {
    "hostname": "orin-1",
    "cpu_cur_freq_khz": "729600",
    "governor": "schedutil",
    "board": "NVIDIA Jetson Orin Nano Developer Kit\x00",
    "l4t_release": "# R36 (release), REVISION: 3.0, GCID: 36923193, BOARD: generic, EABI: aarch64",
    "machine": "aarch64",
}
SHA = "ab" * 32


def test_engine_cache_key_follows_what_makes_an_engine_specific(tmp_path):
    key = tx.engine_cache_key(SHA, JETSON_FACTS, "10.3.0.30", "fp16", None)
    assert len(key) == 64 and int(key, 16) >= 0
    same = {**JETSON_FACTS, "hostname": "orin-2", "cpu_cur_freq_khz": "1510400", "uptime": 5}
    same["board"] = "NVIDIA Jetson Orin Nano Developer Kit"  # the device tree's NUL aside
    assert tx.engine_cache_key(SHA.upper(), same, "10.3.0.30", "fp16", None) == key

    def key_with(facts=None, sha=SHA, version="10.3.0.30", precision="fp16", dla=None):
        return tx.engine_cache_key(sha, {**JETSON_FACTS, **(facts or {})}, version, precision, dla)

    different = [
        key_with(sha="cd" * 32),
        key_with({"board": "NVIDIA Jetson AGX Orin Developer Kit"}),
        key_with({"l4t_release": "# R35 (release), REVISION: 4.1, GCID: 33958178"}),
        key_with({"machine": "x86_64"}),
        key_with({"gpu_name": "NVIDIA H100 80GB HBM3"}),
        key_with(version="10.3.0.26"),
        key_with(precision="int8"),
        key_with(dla=0),
        key_with(dla=1),
    ]
    assert len({key, *different}) == len(different) + 1
    path = tx.engine_cache_path(tmp_path, key)
    assert path == tmp_path / key[:2] / f"{key}.engine"
    with pytest.raises(ValueError, match="not an engine cache key"):
        tx.engine_cache_path(tmp_path, "../../etc/passwd")
    with pytest.raises(ValueError, match="sha256"):
        tx.engine_cache_key("abc", JETSON_FACTS, "10.3", "fp32", None)


def test_trtexec_build_argv_per_precision_path():
    ten, eleven = "10.3.0", "11.0.0"
    argv = tx.trtexec_build_argv("m.onnx", "m.engine", tx.precision_path(ten, "fp16"))
    assert argv == ["trtexec", "--onnx=m.onnx", "--saveEngine=m.engine", "--fp16"]
    int8 = tx.precision_path(ten, "int8")
    assert tx.trtexec_build_argv("q.onnx", "e", int8, source_model="qdq", dla_core=0) == [
        "trtexec", "--onnx=q.onnx", "--saveEngine=e", "--int8",
        "--useDLACore=0", "--allowGPUFallback",
    ]  # fmt: skip
    cached = tx.trtexec_build_argv("m.onnx", "e", int8, calibration_cache="calib.cache")
    assert cached[-2:] == ["--int8", "--calib=calib.cache"]
    with pytest.raises(ValueError, match="needs a Q/DQ ONNX model"):  # random scales otherwise
        tx.trtexec_build_argv("m.onnx", "e", int8)
    assert tx.trtexec_build_argv(
        "q.onnx", "e", tx.precision_path(eleven, "int8"), source_model="qdq"
    ) == ["trtexec", "--onnx=q.onnx", "--saveEngine=e"]
    with pytest.raises(ValueError, match="removed --calib"):
        tx.trtexec_build_argv("m.onnx", "e", tx.precision_path(eleven, "int8"), "calib.cache")
    with pytest.raises(ValueError, match="cast to fp16"):
        tx.trtexec_build_argv("m.onnx", "e", tx.precision_path(eleven, "fp16"))
    fp16 = tx.trtexec_build_argv(
        "h.onnx", "e", tx.precision_path(eleven, "fp16"), source_model="fp16", extra=["--x"]
    )
    assert fp16 == ["trtexec", "--onnx=h.onnx", "--saveEngine=e", "--x"]
    with pytest.raises(ValueError, match="for int8"):
        tx.trtexec_build_argv("m.onnx", "e", tx.precision_path(ten, "fp16"), "calib.cache")


def test_trtexec_fidelity_argv():
    argv = fidelity.trtexec_fidelity_argv(
        "m.engine", "times.json", shapes={"input:0": (4, 3, 8, 8)}
    )
    assert argv[:3] == ["trtexec", "--loadEngine=m.engine", "--exportTimes=times.json"]
    assert "--shapes='input:0':4x3x8x8" in argv and "--noDataTransfers" in argv
    full = fidelity.trtexec_fidelity_argv(
        "m.engine", "t.json", end_to_end=True, dla_core=1, profile_file="p.json", iterations=50
    )
    assert "--noDataTransfers" not in full and "--useDLACore=1" in full
    assert "--exportProfile=p.json" in full and "--iterations=50" in full
    assert all(isinstance(arg, str) for arg in full)


def test_runtime_without_tensorrt_says_how_to_get_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorrt", None)  # not importable, even where installed
    with pytest.raises(RuntimeUnavailable) as caught:
        TensorRT()
    assert str(caught.value).startswith(NO_TENSORRT)
    assert "python3 -c 'import tensorrt'" in str(caught.value)
    with pytest.raises(RuntimeUnavailable, match="cannot drive 'pycuda'"):
        TensorRT("pycuda")


def test_runtime_without_a_cuda_binding_says_so(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorrt", types.SimpleNamespace(__version__="10.3.0"))
    for name in ("cuda", "cuda.bindings", "cuda.bindings.runtime", "cuda.cudart"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(RuntimeUnavailable) as caught:
        TensorRT()
    assert str(caught.value).startswith(NO_CUDA_BINDING)


# -- a stand-in of cuda-python's runtime and TensorRT 10, host memory playing the device ----


def fake_cudart(calls: list):
    cudart = types.ModuleType("cuda.bindings.runtime")
    cudart.cudaError_t = enum.IntEnum("cudaError_t", {"cudaSuccess": 0, "cudaErrorMemory": 2})
    cudart.cudaMemcpyKind = enum.Enum("cudaMemcpyKind", ["cudaMemcpyHostToDevice", "D2H"])
    cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost = cudart.cudaMemcpyKind.D2H
    ok = cudart.cudaError_t.cudaSuccess
    memory = {}

    def allocate(nbytes):
        buffer = ctypes.create_string_buffer(nbytes)
        memory[ctypes.addressof(buffer)] = buffer
        return ok, ctypes.addressof(buffer)

    def copy(destination, source, nbytes, kind, stream):
        ctypes.memmove(destination, source, nbytes)
        calls.append("h2d" if kind == cudart.cudaMemcpyKind.cudaMemcpyHostToDevice else "d2h")
        return (ok,)

    class Stream(int):
        pass

    cudart.cudaMalloc = cudart.cudaMallocHost = allocate
    cudart.cudaFree = cudart.cudaFreeHost = lambda pointer: (memory.pop(pointer) and ok,)
    cudart.cudaMemcpyAsync = copy
    cudart.cudaStreamCreate = lambda: (ok, Stream(7))
    cudart.cudaStreamSynchronize = lambda stream: (calls.append("sync"), ok)[1:]
    cudart.cudaStreamDestroy = lambda stream: (ok,)
    cudart.memory = memory
    return cudart


def fake_tensorrt(calls: list, weights: np.ndarray, bias: np.ndarray):
    trt = types.ModuleType("tensorrt")
    trt.__version__ = "10.3.0.30"
    trt.TensorIOMode = enum.Enum("TensorIOMode", ["INPUT", "OUTPUT"])
    trt.Logger = type("Logger", (), {"WARNING": 2, "__init__": lambda self, level: None})
    trt.nptype = lambda dtype: np.float32

    class Context:
        def __init__(self):
            self.shapes, self.addresses = {}, {}

        def set_input_shape(self, name, shape):
            self.shapes[name] = shape
            self.shapes["y"] = (shape[0], weights.shape[1])
            return 1 <= shape[0] <= 8

        def get_tensor_shape(self, name):
            return self.shapes[name]

        def set_tensor_address(self, name, address):
            self.addresses[name] = address
            return True

        def execute_async_v3(self, stream):
            assert isinstance(stream, int)
            x_shape, y_shape = self.shapes["x"], self.shapes["y"]
            x = np.frombuffer(
                (ctypes.c_float * int(np.prod(x_shape))).from_address(self.addresses["x"]),
                dtype=np.float32,
            ).reshape(x_shape)
            y = np.frombuffer(
                (ctypes.c_float * int(np.prod(y_shape))).from_address(self.addresses["y"]),
                dtype=np.float32,
            ).reshape(y_shape)
            y[...] = x @ weights + bias
            calls.append("execute")
            return True

    class Engine:
        num_io_tensors = 2

        def get_tensor_name(self, index):
            return ["x", "y"][index]

        def get_tensor_mode(self, name):
            return trt.TensorIOMode.INPUT if name == "x" else trt.TensorIOMode.OUTPUT

        def get_tensor_shape(self, name):
            return (-1, weights.shape[0]) if name == "x" else (-1, weights.shape[1])

        def get_tensor_dtype(self, name):
            return "float"

        def get_tensor_profile_shape(self, name, profile):
            return (1, weights.shape[0]), (1, weights.shape[0]), (8, weights.shape[0])

        def create_execution_context(self):
            return Context()

    class Runtime:
        num_DLA_cores = 2

        def __init__(self, logger):
            self.DLA_core = -1

        def deserialize_cuda_engine(self, blob):
            trt.dla_core_at_deserialize = self.DLA_core
            return Engine() if blob == b"engine" else None

    trt.Runtime = Runtime
    return trt


@pytest.fixture
def stand_in(monkeypatch, tmp_path):
    calls: list[str] = []
    rng = np.random.default_rng(0)
    weights = rng.normal(size=(5, 3)).astype(np.float32)
    bias = rng.normal(size=3).astype(np.float32)
    cudart, trt = fake_cudart(calls), fake_tensorrt(calls, weights, bias)
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    monkeypatch.setitem(sys.modules, "cuda.bindings.runtime", cudart)
    (tmp_path / "m.engine").write_bytes(b"engine")
    return types.SimpleNamespace(
        calls=calls, weights=weights, bias=bias, trt=trt, cudart=cudart, model=tmp_path / "m.engine"
    )


@pytest.mark.parametrize("end_to_end", [False, True])
def test_runtime_plumbing_times_the_copies_only_end_to_end(stand_in, end_to_end):
    runtime = TensorRT(end_to_end=end_to_end, dla_core=1)
    assert (runtime.module, runtime.version, runtime.name) == ("tensorrt", "10.3.0.30", "tensorrt")
    runtime.prepare(str(stand_in.model), 4, threads=2)
    assert stand_in.trt.dla_core_at_deserialize == 1
    assert runtime.input_spec() == ((4, 5), np.dtype(np.float32), None)
    batch = np.random.default_rng(1).normal(size=(4, 5)).astype(np.float32)
    stand_in.calls.clear()
    runtime.feed(batch)
    assert stand_in.calls == ([] if end_to_end else ["h2d", "sync"])  # outside the timed call
    stand_in.calls.clear()
    runtime.infer()
    timed = ["h2d", "execute", "d2h", "sync"] if end_to_end else ["execute", "sync"]
    assert stand_in.calls == timed
    out = runtime.output()
    assert out.dtype == np.float32 and out.shape == (4, 3)
    np.testing.assert_allclose(out, batch @ stand_in.weights + stand_in.bias, rtol=1e-6)
    details = runtime.details()
    assert details["dla_core"] == 1 and details["end_to_end"] is end_to_end
    assert details["tensorrt_major"] == 10 and details["cuda_binding"] == "cuda.bindings.runtime"
    assert details["engine_tensors"] == [
        {"name": "x", "mode": "input", "shape": [4, 5], "dtype": "float32"},
        {"name": "y", "mode": "output", "shape": [4, 3], "dtype": "float32"},
    ]
    runtime.prepare(str(stand_in.model), 1, threads=1)  # a new batch frees the old buffers
    assert len(stand_in.cudart.memory) == 4
    runtime.close()
    assert stand_in.cudart.memory == {}


def test_runtime_refusals(stand_in, tmp_path):
    with pytest.raises(RuntimeUnavailable, match="DLA core 2 is not present"):
        TensorRT(dla_core=2).prepare(str(stand_in.model), 1, 1)
    with pytest.raises(RuntimeError, match="outside the engine's profile"):
        TensorRT().prepare(str(stand_in.model), 16, 1)
    (tmp_path / "other.engine").write_bytes(b"built elsewhere")
    with pytest.raises(RuntimeError, match="GPU model and TensorRT version it was built with"):
        TensorRT().prepare(str(tmp_path / "other.engine"), 1, 1)


# -- the real thing --------------------------------------------------------------------------


def _gpu_or_skip():
    """A TensorRT runtime where tensorrt and cuda-python import and CUDA sees a GPU (a Jetson
    has no nvidia-smi: CUDA itself is asked)."""
    reason = "needs an NVIDIA GPU and TensorRT: {}"
    try:
        importlib.import_module("tensorrt")
    except (ImportError, OSError) as error:
        pytest.skip(reason.format(f"import tensorrt failed ({error})"))
    try:
        runtime = TensorRT()
    except RuntimeUnavailable as error:
        pytest.skip(reason.format(error))
    error, count = runtime._cudart.cudaGetDeviceCount()
    if error != runtime._cudart.cudaError_t.cudaSuccess or count == 0:
        pytest.skip(reason.format(f"CUDA finds no GPU ({getattr(error, 'name', error)})"))
    return runtime


def tiny_onnx(path, weights: np.ndarray, bias: np.ndarray) -> None:
    """y = x @ W + b with a dynamic batch dimension."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "W"], ["xw"]),
            helper.make_node("Add", ["xw", "b"], ["y"]),
        ],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", weights.shape[0]])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", weights.shape[1]])],
        [numpy_helper.from_array(weights, "W"), numpy_helper.from_array(bias, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def build_engine(onnx_path, engine_path, features: int, max_batch: int = 8) -> None:
    import tensorrt as trt

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # explicit batch is the only mode in TensorRT 10
    parser = trt.OnnxParser(network, logger)
    assert parser.parse(onnx_path.read_bytes()), [
        parser.get_error(i) for i in range(parser.num_errors)
    ]
    config = builder.create_builder_config()
    profile = builder.create_optimization_profile()
    profile.set_shape("x", (1, features), (1, features), (max_batch, features))
    config.add_optimization_profile(profile)
    blob = builder.build_serialized_network(network, config)
    assert blob is not None, "TensorRT could not build the tiny engine"
    engine_path.write_bytes(bytes(blob))


@pytest.mark.parametrize("end_to_end", [False, True])
def test_tensorrt_runs_a_tiny_engine_on_the_gpu(tmp_path, end_to_end):
    _gpu_or_skip()
    rng = np.random.default_rng(0)
    weights = rng.normal(size=(16, 4)).astype(np.float32)
    bias = rng.normal(size=4).astype(np.float32)
    tiny_onnx(tmp_path / "tiny.onnx", weights, bias)
    build_engine(tmp_path / "tiny.onnx", tmp_path / "tiny.engine", 16)
    runtime = TensorRT(end_to_end=end_to_end)
    for batch in (1, 4):
        runtime.prepare(str(tmp_path / "tiny.engine"), batch, 1)
        shape, dtype, quantization = runtime.input_spec()
        assert shape == (batch, 16) and dtype == np.float32 and quantization is None
        x = rng.normal(size=shape).astype(np.float32)
        runtime.feed(x)
        for _ in range(3):
            runtime.infer()
        np.testing.assert_allclose(runtime.output(), x @ weights + bias, rtol=1e-3, atol=1e-4)
    details = runtime.details()
    assert details["end_to_end"] is end_to_end and details["tensorrt_major"] >= 10
    runtime.close()


# -- engines built on the device: the conversion's build input --------------------------------


def tiny_workload(tmp_path, samples: int = 40):
    """A workload folder, its converted onnx-fp32 model (y = x @ W + b, dynamic batch) and a
    dataset whose inputs span [-4, 4], well outside the workload's random range [0, 1]."""
    rng = np.random.default_rng(3)
    weights = rng.normal(size=(16, 4)).astype(np.float32)
    bias = rng.normal(size=4).astype(np.float32)
    out = tmp_path / "converted"
    out.mkdir()
    tiny_onnx(out / "onnx-fp32.onnx", weights, bias)
    write_json(
        out / "onnx-fp32.json",
        {
            "status": "ok",
            "reason": "",
            "model_file": "onnx-fp32.onnx",
            "sha256": sha256_file(out / "onnx-fp32.onnx"),
        },
    )
    meta = {"workload": "tiny", "input_range": [0.0, 1.0], "input_shape": [[16]]}
    write_json(tmp_path / "w" / "meta.json", meta)
    x_train = rng.uniform(-4, 4, (samples, 16)).astype(np.float32)
    np.savez(tmp_path / "data.npz", x_train=x_train)
    return types.SimpleNamespace(
        dir=tmp_path / "w", out=out, dataset=tmp_path / "data.npz", x_train=x_train
    )


@pytest.fixture
def no_trtexec(monkeypatch):
    """A host without trtexec, even where one is installed: the engine is built on the device."""
    monkeypatch.setattr(trt_convert, "trtexec", lambda: None)


def test_device_build_record_names_the_onnx_model_and_its_build_spec(tmp_path, no_trtexec):
    work = tiny_workload(tmp_path)
    record = convert_workload(work.dir, "tensorrt-fp32", work.out / "tensorrt-fp32.json")
    assert record["status"] == "ok", record["reason"]
    onnx_file, spec_file = work.out / "tensorrt-fp32.onnx", work.out / "tensorrt-fp32.build.json"
    assert record["model_file"] == onnx_file.name
    assert record["sha256"] == sha256_file(onnx_file) == sha256_file(work.out / "onnx-fp32.onnx")
    assert record["files"] == {p.name: sha256_file(p) for p in (onnx_file, spec_file)}
    assert record["build"]["build_on"] == "device" and "on the device" in record["build"]["where"]
    spec = read_json(spec_file)
    assert spec == {
        "build_on": "device",
        "precision": "fp32",
        "model": "fp32",
        "max_batch": trt_convert.MAX_BATCH,
        "inputs": [["x", [-1, 16]]],
    }
    assert record["ops"] == {"MatMul": 1, "Add": 1}
    assert trt_convert.missing_tool(FORMATS["tensorrt-fp32"]) is None  # no trtexec needed
    # staged as the agent expects: model.onnx with its spec as model.json
    companions = [work.out / name for name in record["files"] if name != record["model_file"]]
    stage_run(tmp_path / "stage", onnx_file, {}, None, companions, with_agent=False)
    staged = tmp_path / "stage" / "model.onnx"
    assert read_json(staged.with_suffix(build.SPEC_SUFFIX)) == spec


def test_device_build_int8_is_a_qdq_model_calibrated_on_the_workload_data(tmp_path, no_trtexec):
    import onnx
    from onnx import numpy_helper

    work = tiny_workload(tmp_path)
    record = convert_workload(
        work.dir, "tensorrt-int8", work.out / "tensorrt-int8.json", samples=32, dataset=work.dataset
    )
    assert record["status"] == "ok", record["reason"]
    assert record["calibration"] == {"source": "dataset", "samples": 32, "seed": 0}
    assert record["build"]["model"] == "qdq" and record["build"]["precision"] == "int8"
    assert "QDQ" in record["quantization"]
    model = onnx.load(str(work.out / record["model_file"]))
    assert {"QuantizeLinear", "DequantizeLinear"} <= {node.op_type for node in model.graph.node}
    weights = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    (quantize_input,) = [
        n for n in model.graph.node if n.op_type == "QuantizeLinear" and n.input[0] == "x"
    ]
    scale = float(weights[quantize_input.input[1]])
    # symmetric min-max over the dataset's first 32 samples (absmax ~4), not the range [0, 1]
    absmax = float(np.abs(work.x_train[:32]).max())
    assert scale * 127 == pytest.approx(absmax, rel=0.01)


# -- the agent's builder: decisions that need no TensorRT -------------------------------------


@pytest.mark.parametrize(
    ("version", "path", "network_flags", "flags"),
    [
        ("8.5.2.2", "flags", ["EXPLICIT_BATCH"], {"fp32": [], "fp16": ["FP16"], "int8": ["INT8"]}),
        ("10.3.0.30", "flags", [], {"fp32": [], "fp16": ["FP16"], "int8": ["INT8"]}),
        ("11.0.0", "strongly-typed", ["STRONGLY_TYPED"], {"fp32": [], "fp16": [], "int8": []}),
    ],
)
def test_builder_precision_path_per_tensorrt_version(version, path, network_flags, flags):
    for precision, model in build.CONVERTED_MODEL.items():
        if path == "strongly-typed" and precision == "fp16":
            model = build.FP16_MODEL  # a cast model: the only fp16 TensorRT 11 builds
        plan = build.precision_plan(version, precision, model)
        assert (plan["path"], plan["network_flags"]) == (path, network_flags)
        assert plan["builder_flags"] == flags[precision]
        host = tx.precision_path(version, precision)  # the host's rule for trtexec agrees
        assert (host["path"], host["model"]) == (plan["path"], plan["model"])


def test_builder_refuses_what_the_model_cannot_give():
    with pytest.raises(build.BuildRefused) as caught:
        build.precision_plan("11.1.0", "fp16", build.FP32_MODEL)
    assert isinstance(caught.value, RuntimeUnavailable)  # the run is unsupported, not failed
    assert "removed the FP16 builder flag" in str(caught.value)
    assert "cast to fp16" in str(caught.value)
    with pytest.raises(build.BuildRefused, match="never random scales"):
        build.precision_plan("10.3.0", "int8", build.FP32_MODEL)
    with pytest.raises(ValueError, match="no 'bf16' path"):
        build.precision_plan("10.3.0", "bf16", build.FP32_MODEL)
    with pytest.raises(ValueError, match="not a TensorRT version"):
        build.precision_plan("unknown", "fp32", build.FP32_MODEL)


def test_builder_profile_covers_batch_one_to_max_batch():
    assert build.batch_profile([("x", [-1, 3, 8, 8]), ("mask", [1, 4])], 16) == {
        "x": ((1, 3, 8, 8), (1, 3, 8, 8), (16, 3, 8, 8))
    }
    assert build.batch_profile([("x", [1, 16])], 64) == {}
    with pytest.raises(build.EngineBuildFailed, match="dynamic dimensions besides the batch"):
        build.batch_profile([("x", [-1, -1, 16])], 8)


BOARD = {
    "board": "NVIDIA Jetson Orin Nano Developer Kit\x00",
    "l4t_release": "# R36 (release), REVISION: 3.0",
    "machine": "aarch64",
}
GPU = {"gpu_name": "Orin", "gpu_compute_capability": "8.7", "cuda_version": "12.6"}


def identity(**changes):
    settings = {
        "tensorrt": "10.3.0.30",
        "onnx_sha256": SHA,
        "precision": "int8",
        "max_batch": 64,
        "dla_core": None,
        "workspace_mb": None,
    }
    merged = {**BOARD, **GPU, **settings, **changes}
    return build.engine_identity(merged, {}, {})


def staged_engine(folder, blob: bytes, of: dict):
    """An engine and its record as the host stages them (model.engine, model.facts)."""
    plan = build.precision_plan("10.3.0", "int8", "qdq")
    record = build.engine_record(blob, of, plan, "built", build_ns=5)
    (folder / "model.engine").write_bytes(blob)
    (folder / "model.facts").write_text(json.dumps(record))
    return folder / "model.engine", folder / "model.facts"


def test_a_staged_engine_is_taken_only_where_its_record_matches_the_board(tmp_path):
    here = identity()
    assert here["board"] == "NVIDIA Jetson Orin Nano Developer Kit"  # the device tree's NUL
    assert build.fitting_engine(tmp_path / "model.engine", tmp_path / "model.facts", here) == (
        None,
        "",
    )
    engine = staged_engine(tmp_path, b"plan-bytes", here)
    assert build.fitting_engine(*engine, here) == (b"plan-bytes", "")
    for change, named in [
        ({"gpu_name": "NVIDIA H100 80GB HBM3"}, "gpu_name"),
        ({"tensorrt": "10.7.0"}, "tensorrt"),
        ({"l4t_release": "# R35 (release), REVISION: 4.1"}, "l4t_release"),
        ({"max_batch": 8}, "max_batch"),
        ({"dla_core": 0}, "dla_core"),
    ]:
        blob, why = build.fitting_engine(*engine, identity(**change))
        assert blob is None and "another board or build" in why and named in why
    (tmp_path / "model.engine").write_bytes(b"plan-by")  # cut short in transit
    blob, why = build.fitting_engine(*engine, here)
    assert blob is None and "not the ones its record lists" in why
    (tmp_path / "model.facts").write_text("{not json")
    assert "could not be read" in build.fitting_engine(*engine, here)[1]


def test_gpu_facts_from_cuda_python_calls():
    calls = fake_cudart([])
    properties = types.SimpleNamespace(name=b"Orin\x00\x00garbage", major=8, minor=7)
    calls.cudaGetDevice = lambda: (calls.cudaError_t.cudaSuccess, 0)
    calls.cudaGetDeviceProperties = lambda device: (calls.cudaError_t.cudaSuccess, properties)
    calls.cudaRuntimeGetVersion = lambda: (calls.cudaError_t.cudaSuccess, 12060)

    def check(result):
        error, value = result
        assert error == calls.cudaError_t.cudaSuccess
        return value

    assert build.gpu_facts(calls, check) == GPU


def test_runtime_refuses_fp16_on_tensorrt_11_before_loading(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorrt", types.SimpleNamespace(__version__="11.0.0.1"))
    monkeypatch.setitem(sys.modules, "cuda.bindings.runtime", fake_cudart([]))
    with pytest.raises(build.BuildRefused, match="cast to fp16"):
        TensorRT(precision="fp16")
    assert TensorRT(precision="int8").version == "11.0.0.1"  # the QDQ model gives int8 there


def test_build_input_without_tensorrt_is_an_unsupported_run(tmp_path, monkeypatch, no_trtexec):
    from edgebench.agent.runner import run_job

    monkeypatch.setitem(sys.modules, "tensorrt", None)  # not importable, even where installed
    work = tiny_workload(tmp_path)
    record = convert_workload(work.dir, "tensorrt-fp16", work.out / "tensorrt-fp16.json")
    companions = [work.out / name for name in record["files"] if name != record["model_file"]]
    job = {
        "device": "jetson",
        "workload": "tiny",
        "format": "tensorrt-fp16",
        "runtime_family": "tensorrt",
        "runtime_options": {"precision": "fp16"},
        "batch_sizes": [1],
        "timing": {"min_runs": 5, "min_s": 0.0, "max_s": 1},
        "threads": 1,
        "seed": 0,
        "input_range": [0.0, 1.0],
    }
    stage = tmp_path / "stage"
    job_file = stage_run(stage, work.out / record["model_file"], job, None, companions)
    assert run_job(read_json(job_file), stage) == "unsupported"
    end = json.loads((stage / "out" / "run.jsonl").read_text().splitlines()[-1])
    assert end["reason"].startswith(NO_TENSORRT)


# -- the host's engine cache ------------------------------------------------------------------


def test_engine_cache_key_follows_the_build_settings():
    key = engine_cache.cache_key(identity())
    assert key == tx.engine_cache_key(
        SHA, {**BOARD, **GPU}, "10.3.0.30", "int8", None, max_batch=64, workspace_mb=None
    )
    changed = [
        identity(onnx_sha256="cd" * 32),
        identity(board="NVIDIA Jetson AGX Orin Developer Kit"),
        identity(gpu_compute_capability="7.2"),
        identity(cuda_version="12.2"),
        identity(tensorrt="10.7.0.23"),
        identity(max_batch=8),
        identity(workspace_mb=512),
        identity(dla_core=1),
    ]
    keys = {engine_cache.cache_key(each) for each in changed}
    assert len(keys) == len(changed) and key not in keys


def returned_run(folder, blob: bytes, of: dict, origin: str = "built"):
    """The raw folder of a run whose agent returned `blob` as its engine, as kept by the host:
    out/engine.plan and out/engine.json, with the end record listing both with their hashes."""
    from edgebench.agent.runlog import RunLogWriter, header_record

    plan = build.precision_plan(of["tensorrt"], of["precision"], "qdq")
    record = build.engine_record(blob, of, plan, origin, build_ns=1_500_000_000)
    log = RunLogWriter(folder / "run.jsonl")
    log.write(header_record({"device": "jetson", "workload": "w", "format": "tensorrt-fp32"}))
    if origin == "built":
        build.write_engine(folder, blob, record)
    else:
        build.write_engine_record(folder, record)
    log.end("complete")
    return folder


ENGINE_JOB = {
    "device": "orin",
    "workload": "tiny",
    "format": "tensorrt-int8",
    "runtime_options": {"precision": "int8"},
}
ENGINE_CONVERSION = {
    "sha256": SHA,
    "build": {"build_on": "device", "precision": "int8", "max_batch": 64},
}


def test_engine_cache_keeps_a_returned_engine_and_stages_it_for_that_device(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert engine_cache.engine_files_to_stage(ENGINE_JOB, ENGINE_CONVERSION) == []  # never seen
    raw = returned_run(tmp_path / "raw", b"\x00engine" * 100, identity())
    cached = engine_cache.keep_engine(ENGINE_JOB, ENGINE_CONVERSION, raw)
    assert cached == Path(
        tx.engine_cache_path("results/engines", engine_cache.cache_key(identity()))
    )
    assert cached.read_bytes() == b"\x00engine" * 100
    assert not (raw / build.ENGINE_FILE).exists()  # moved, not copied
    assert read_json("results/engines/devices/orin.json")["facts"]["gpu_name"] == "Orin"
    staged = engine_cache.engine_files_to_stage(ENGINE_JOB, ENGINE_CONVERSION)
    assert staged == [cached, cached.with_suffix(".facts")]
    # staged beside the model, the agent on that board takes it
    (tmp_path / "tiny.onnx").write_bytes(b"the model")
    stage_run(tmp_path / "stage", tmp_path / "tiny.onnx", {}, None, staged, with_agent=False)
    blob, why = build.fitting_engine(
        tmp_path / "stage" / "model.engine", tmp_path / "stage" / "model.facts", identity()
    )
    assert (blob, why) == (b"\x00engine" * 100, "")
    # nothing for another device, other settings, or an engine built on the host
    assert (
        engine_cache.engine_files_to_stage({**ENGINE_JOB, "device": "nano"}, ENGINE_CONVERSION)
        == []
    )
    on_dla = {**ENGINE_JOB, "runtime_options": {"precision": "int8", "dla_core": 0}}
    assert engine_cache.engine_files_to_stage(on_dla, ENGINE_CONVERSION) == []
    host_built = {**ENGINE_CONVERSION, "build": {"build_on": "host"}}
    assert engine_cache.engine_files_to_stage(ENGINE_JOB, host_built) == []


def test_engine_cache_learns_the_board_from_a_run_that_took_the_cached_engine(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    raw = returned_run(tmp_path / "raw", b"engine", identity(tensorrt="10.7.0"), origin="cache")
    assert engine_cache.keep_engine(ENGINE_JOB, ENGINE_CONVERSION, raw) is None
    assert read_json("results/engines/devices/orin.json")["tensorrt"] == "10.7.0"
    assert cached_engines() == []


def cached_engines() -> list[Path]:
    return sorted(Path("results/engines").glob("*/*.engine"))


def new_end_record(raw: Path, status: str = "complete", listing: Path | None = None) -> None:
    """Replace the raw folder's run.jsonl with one whose end record lists the files of
    `listing` (default: the raw folder itself) with their hashes."""
    from edgebench.agent.runlog import RunLogWriter, header_record

    folder = listing or raw
    log = RunLogWriter(folder / "run.jsonl")
    log.write(header_record({"device": "jetson", "workload": "w", "format": "tensorrt-fp32"}))
    log.end(status)
    if folder != raw:
        shutil.copy(folder / "run.jsonl", raw / "run.jsonl")


def test_a_corrupt_partial_or_stale_engine_never_enters_the_cache(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    blob = b"engine-bytes" * 50
    # altered after the agent listed it in the end record
    raw = returned_run(tmp_path / "altered", blob, identity())
    (raw / build.ENGINE_FILE).write_bytes(blob[:-1] + b"X")
    assert engine_cache.keep_engine(ENGINE_JOB, ENGINE_CONVERSION, raw) is None
    assert "not the file the run's end record lists" in capsys.readouterr().out
    # cut short before the end record was written (the record describes the whole engine)
    raw = returned_run(tmp_path / "partial", blob, identity())
    (raw / build.ENGINE_FILE).write_bytes(blob[:100])
    new_end_record(raw)  # an end record that lists the partial file
    assert engine_cache.keep_engine(ENGINE_JOB, ENGINE_CONVERSION, raw) is None
    assert "not the engine the agent's record describes" in capsys.readouterr().out
    # built from another model than the conversion's
    raw = returned_run(tmp_path / "other", blob, identity(onnx_sha256="cd" * 32))
    assert engine_cache.keep_engine(ENGINE_JOB, ENGINE_CONVERSION, raw) is None
    assert "another ONNX model" in capsys.readouterr().out
    # left by an earlier run: this run's end record does not list it
    raw = returned_run(tmp_path / "stale", blob, identity())
    (tmp_path / "later-run").mkdir()
    new_end_record(raw, "failed", listing=tmp_path / "later-run")
    assert (
        engine_cache.keep_engine({**ENGINE_JOB, "device": "nano"}, ENGINE_CONVERSION, raw) is None
    )
    assert not Path("results/engines/devices/nano.json").exists()
    assert cached_engines() == []
    # the copy itself is checked before it replaces anything
    target = tmp_path / "results" / "engines" / "ab" / "x.engine"
    with pytest.raises(OSError, match="came out different"):
        engine_cache.copy_verified(raw / build.ENGINE_FILE, target, "0" * 64)
    assert not target.exists() and list(target.parent.iterdir()) == []


# -- the real thing: the engine built on the GPU, kept and staged again --------------------------


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_tensorrt_builds_the_engine_where_it_runs_and_the_host_caches_it(
    tmp_path, monkeypatch, precision
):
    _gpu_or_skip()
    from edgebench.convert.tensorrt_onnx import write_build_input

    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    weights = rng.normal(size=(16, 4)).astype(np.float32)
    bias = rng.normal(size=4).astype(np.float32)
    tiny_onnx(tmp_path / "tiny.onnx", weights, bias)
    (tmp_path / "converted").mkdir()
    out = tmp_path / "converted" / f"tensorrt-{precision}.engine"
    calibration = lambda: rng.uniform(-1, 1, (32, 16)).astype(np.float32)  # noqa: E731
    facts = write_build_input(
        tmp_path / "tiny.onnx", out, FORMATS[f"tensorrt-{precision}"], calibration, 8
    )
    model, spec = (out.parent / name for name in facts["files"])

    def staged(folder: Path, *extra: Path) -> Path:
        stage_run(folder, model, {}, None, [spec, *extra], with_agent=False)
        (folder / "out").mkdir()
        return folder / "model.onnx"

    first = staged(tmp_path / "run-1")
    runtime = TensorRT()
    runtime.prepare(str(first), 4, 1)
    x = rng.uniform(-1, 1, (4, 16)).astype(np.float32)
    runtime.feed(x)
    runtime.infer()
    reference = x @ weights + bias
    atol = 1e-3 if precision == "fp32" else 0.05 * np.abs(reference).max()  # int8: its steps
    np.testing.assert_allclose(runtime.output(), reference, rtol=1e-3, atol=atol)
    engine = runtime.details()["engine"]
    assert engine["origin"] == "built" and engine["build_ns"] > 0 and engine["load_includes_build"]
    assert engine["identity"]["gpu_name"] and engine["identity"]["gpu_compute_capability"]
    assert engine["precision_path"]["path"] in ("flags", "strongly-typed")
    runtime.prepare(str(first), 1, 1)  # the next batch size: the same engine, no build
    assert runtime.details()["engine"]["load_includes_build"] is False
    runtime.close()
    again = TensorRT()  # another process of the same run: the run's own engine
    again.prepare(str(first), 1, 1)
    assert again.details()["engine"]["origin"] == "run"
    again.close()
    new_end_record(first.parent / "out")
    job = {"device": "this-gpu", "runtime_options": {}}
    conversion = {"sha256": sha256_file(model), "build": facts["build"]}
    assert engine_cache.keep_engine(job, conversion, first.parent / "out") is not None
    cached = engine_cache.engine_files_to_stage(job, conversion)
    assert len(cached) == 2
    later = TensorRT()  # the next run on this board: the host's cached engine, no build
    later.prepare(str(staged(tmp_path / "run-2", *cached)), 1, 1)
    assert later.details()["engine"]["origin"] == "cache"
    assert read_json(tmp_path / "run-2" / "out" / build.ENGINE_RECORD)["origin"] == "cache"
    later.close()
