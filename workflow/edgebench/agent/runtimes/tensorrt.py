"""TensorRT engines on an NVIDIA GPU (or a Jetson's DLA) through the TensorRT 10 Python API.

Needs `tensorrt` (JetPack ships it) and one CUDA binding for device memory and the stream:
NVIDIA's cuda-python (`cuda.bindings.runtime`, or `cuda.cudart` in its releases before 12.6),
whose calls return `(error, result...)` tuples. Nothing else: no PyCUDA, no torch.

Timing: `feed()` copies the batch to the device outside the timed call, `infer()` is
`execute_async_v3` on the runtime's stream plus the stream's synchronisation (an enqueue alone
would time nothing but the launch). `end_to_end=True` puts the host-to-device and
device-to-host copies inside `infer()` instead. Host buffers are page-locked, so the copies are
true asynchronous DMA on the stream, as trtexec makes them.

Engines with a dynamic batch dimension get the run's batch (`set_input_shape`); a static engine
runs only its own batch. `dla_core` sets `Runtime.DLA_core` before the engine is deserialized
(an engine built for the DLA with `--useDLACore=N`).

The model is a built engine (`.engine`: built on the host by trtexec at conversion) or the
engine's build input (`.onnx` with its build spec: built here, see tensorrt_build): the engine
then comes from this run's out folder, the host's cache (staged beside the model, taken only
when its record matches this board) or TensorRT's builder, once per process. `details()`
keeps where it came from, the build's time apart from the load's, the precision path, the
TensorRT version and the GPU.
"""

from __future__ import annotations

import ctypes
import importlib
import time
from pathlib import Path

import numpy as np

from ..tensorrt_build import CONVERTED_MODEL, engine_from_onnx, gpu_facts, precision_plan
from . import Runtime, RuntimeUnavailable

# the CUDA binding, newest layout first (cuda-python >= 12.6 moved cudart here; the old module
# still imports there with a deprecation warning)
CUDA_BINDINGS = ("cuda.bindings.runtime", "cuda.cudart")
WORKSPACE_OPTION = "tensorrt_workspace_mb"  # also part of the engine cache key (engine_cache)

NO_TENSORRT = (
    "tensorrt is not installed on this device (JetPack ships it: python3 -c 'import tensorrt'; "
    "elsewhere pip install tensorrt, matching the CUDA of the driver)"
)
NO_CUDA_BINDING = (
    "NVIDIA's cuda-python is not installed on this device: the TensorRT runtime needs it for "
    "device memory and streams (pip install cuda-python, the release of the device's CUDA; "
    "python3 -c 'from cuda.bindings import runtime' or 'from cuda import cudart')"
)


def import_tensorrt():
    try:
        import tensorrt
    except (ImportError, OSError) as error:  # OSError: the module is there, libnvinfer is not
        raise RuntimeUnavailable(f"{NO_TENSORRT} [{type(error).__name__}: {error}]") from None
    return tensorrt


def import_cudart():
    """(module name, module) of the first CUDA runtime binding that imports."""
    failures = []
    for name in CUDA_BINDINGS:
        try:
            return name, importlib.import_module(name)
        except (ImportError, OSError) as error:
            failures.append(f"{name}: {error}")
    raise RuntimeUnavailable(f"{NO_CUDA_BINDING} [{'; '.join(failures)}]")


class CudaError(RuntimeError):
    """A CUDA runtime call failed (its cudaError_t name in the message)."""


class TensorRT(Runtime):
    """A TensorRT engine (or its ONNX build input, built on the board) on the GPU or a DLA."""

    name = "tensorrt"
    modules = {"tensorrt": "tensorrt"}
    imports = ("cuda",)  # NVIDIA's cuda-python: device buffers and the stream
    suffixes = (".engine", ".onnx")
    options = {
        "dla_core": {
            "description": (
                "TensorRT DLA core for tensorrt-* formats (Jetson AGX, NX); unset means the GPU."
            ),
            "type": "integer",
            "minimum": 0,
        },
        "end_to_end": {
            "description": "TensorRT timing includes the host-device copies (default false).",
            "type": "boolean",
            "default": False,
        },
        WORKSPACE_OPTION: {
            "description": (
                "Workspace limit (MiB) for TensorRT engines built on this device; unset means "
                "TensorRT's default. Part of the engine cache key."
            ),
            "type": "integer",
            "minimum": 1,
        },
    }
    summary = (
        "TensorRT 10 Python API: the engine deserialized, `num_io_tensors` / `get_tensor_name` / "
        "`set_input_shape` / `set_tensor_address`, `execute_async_v3` on a stream; device "
        "buffers from NVIDIA's `cuda-python` (`cuda.bindings.runtime`, else `cuda.cudart`: the "
        "one documented minimal binding); the timed call includes the stream synchronisation; "
        "host-device copies outside it unless `end_to_end: true`"
    )
    records = "DLA core, end-to-end, the engine's tensors, TensorRT major version"

    def __init__(
        self,
        wanted: str | None = None,
        dla_core: int | None = None,
        end_to_end: bool = False,
        tensorrt_workspace_mb: int | None = None,
        precision: str | None = None,
    ):
        if wanted is not None and wanted not in self.modules:
            raise RuntimeUnavailable(f"the agent cannot drive {wanted!r} for this format")
        self.module = "tensorrt"
        self._trt = import_tensorrt()
        self.cuda_binding, self._cudart = import_cudart()
        self.version = self._trt.__version__
        if precision is not None:  # refused before any model is loaded: the run is unsupported
            precision_plan(self.version, precision, CONVERTED_MODEL.get(precision, ""))
        if dla_core is not None and (isinstance(dla_core, bool) or int(dla_core) < 0):
            raise ValueError(f"dla_core must be a DLA core number, not {dla_core!r}")
        self.dla_core = None if dla_core is None else int(dla_core)
        self.end_to_end = bool(end_to_end)
        self.workspace_mb = None if tensorrt_workspace_mb is None else int(tensorrt_workspace_mb)
        self._from_onnx: tuple[Path, bytes] | None = None  # (model, engine) built this process
        self._engine_details: dict = {}
        self._tensors: list[dict] = []
        self._device: list[int] = []  # device pointers to free
        self._host: list[int] = []  # page-locked host pointers to free
        self._stream = None
        self._context = self._engine = None

    # -- CUDA --------------------------------------------------------------------------------

    def _check(self, result):
        """The result of a cuda-python call: `(error, values...)`; raise on an error."""
        error, *values = result if isinstance(result, tuple) else (result,)
        if error != self._cudart.cudaError_t.cudaSuccess:
            raise CudaError(f"CUDA runtime error {getattr(error, 'name', error)}")
        return values[0] if len(values) == 1 else tuple(values)

    def _copy(self, destination: int, source: int, nbytes: int, kind) -> None:
        self._check(self._cudart.cudaMemcpyAsync(destination, source, nbytes, kind, self._stream))

    def _host_array(self, shape: tuple[int, ...], dtype: np.dtype) -> tuple[np.ndarray, int]:
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        pointer = int(self._check(self._cudart.cudaMallocHost(max(nbytes, 1))))
        self._host.append(pointer)
        raw = (ctypes.c_uint8 * max(nbytes, 1)).from_address(pointer)
        array = np.frombuffer(raw, dtype=np.uint8)[:nbytes].view(dtype).reshape(shape)
        return array, pointer

    def _device_buffer(self, nbytes: int) -> int:
        pointer = int(self._check(self._cudart.cudaMalloc(max(nbytes, 1))))
        self._device.append(pointer)
        return pointer

    def close(self) -> None:
        """Free the engine, its context, the buffers and the stream (prepare() calls it first)."""
        self._context = self._engine = None
        cudart = self._cudart
        for pointer in self._device:
            cudart.cudaFree(pointer)
        for pointer in self._host:
            cudart.cudaFreeHost(pointer)
        if self._stream is not None:
            cudart.cudaStreamDestroy(self._stream)
        self._device, self._host, self._stream, self._tensors = [], [], None, []

    def __del__(self):
        try:
            if self._device or self._host or self._stream is not None:
                self.close()
        except Exception:
            pass

    # -- Runtime -----------------------------------------------------------------------------

    def prepare(self, model_path, batch, threads):
        """Deserialize the engine, give its inputs the batch, allocate every I/O tensor on the
        device and page-locked on the host. `threads` has no meaning for a GPU engine."""
        trt = self._trt
        self.close()
        self._logger = trt.Logger(trt.Logger.WARNING)
        runtime = trt.Runtime(self._logger)
        if self.dla_core is not None:
            cores = runtime.num_DLA_cores
            if self.dla_core >= cores:
                raise RuntimeUnavailable(
                    f"DLA core {self.dla_core} is not present here ({cores} DLA cores)"
                )
            runtime.DLA_core = self.dla_core
        serialized = self._serialized_engine(Path(model_path))
        started = time.monotonic_ns()
        engine = runtime.deserialize_cuda_engine(serialized)
        self._engine_details["deserialize_ns"] = time.monotonic_ns() - started
        if engine is None:
            raise RuntimeError(
                f"TensorRT {self.version} could not deserialize {model_path}: an engine runs "
                "only on the GPU model and TensorRT version it was built with"
            )
        self._runtime, self._engine = runtime, engine
        context = engine.create_execution_context()
        if context is None:
            raise RuntimeError("TensorRT could not create an execution context (GPU memory?)")
        self._context = context
        names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
        inputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        for name in inputs:
            shape = tuple(engine.get_tensor_shape(name))
            if shape and shape[0] == -1:
                shape = (batch, *shape[1:])
            elif shape and shape[0] != batch:
                raise RuntimeError(
                    f"this engine's input {name} has a static batch of {shape[0]}, not {batch}"
                )
            if any(d < 0 for d in shape):
                raise RuntimeError(f"input {name} has dynamic dimensions besides the batch")
            if not context.set_input_shape(name, shape):
                low, _, high = engine.get_tensor_profile_shape(name, 0)
                raise RuntimeError(
                    f"batch {batch} is outside the engine's profile for {name} "
                    f"({tuple(low)} to {tuple(high)})"
                )
        self._stream = self._check(self._cudart.cudaStreamCreate())
        self._stream_handle = int(self._stream)
        for name in names:
            shape = tuple(context.get_tensor_shape(name))
            dtype = np.dtype(trt.nptype(engine.get_tensor_dtype(name)))
            host, host_pointer = self._host_array(shape, dtype)
            device = self._device_buffer(host.nbytes)
            if not context.set_tensor_address(name, device):
                raise RuntimeError(f"TensorRT refused the device address of {name}")
            mode = "input" if name in inputs else "output"
            self._tensors.append(
                {
                    "name": name,
                    "mode": mode,
                    "shape": shape,
                    "dtype": dtype,
                    "host": host,
                    "host_pointer": host_pointer,
                    "device": device,
                    "nbytes": host.nbytes,
                }
            )
        self._inputs = [t for t in self._tensors if t["mode"] == "input"]
        self._outputs = [t for t in self._tensors if t["mode"] == "output"]
        if not self._inputs or not self._outputs:
            raise RuntimeError("the engine has no input or no output tensor")
        h2d = self._cudart.cudaMemcpyKind.cudaMemcpyHostToDevice
        d2h = self._cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        self._uploads = [(t["device"], t["host_pointer"], t["nbytes"], h2d) for t in self._inputs]
        self._downloads = [
            (t["host_pointer"], t["device"], t["nbytes"], d2h) for t in self._outputs
        ]
        for upload in self._uploads:  # every input starts as zeros on the device
            self._copy(*upload)
        self._synchronize()

    def _serialized_engine(self, model: Path) -> bytes:
        """The engine's bytes: the staged engine itself, or the one for the staged ONNX model
        (tensorrt_build.engine_from_onnx), found or built once per process and model."""
        if model.suffix != ".onnx":
            self._engine_details = {"origin": "host"}  # built by trtexec at conversion
            return model.read_bytes()
        first_load = self._from_onnx is None or self._from_onnx[0] != model
        if first_load:
            gpu = gpu_facts(self._cudart, self._check)
            blob, record = engine_from_onnx(self._trt, model, gpu, self.dla_core, self.workspace_mb)
            self._from_onnx, self._onnx_record = (model, blob), record
        record = self._onnx_record
        self._engine_details = {
            key: record[key]
            for key in ("origin", "build_ns", "rebuilt_because", "precision_path", "identity")
        }
        # the batch record's load_ns includes the build only where it happened
        self._engine_details["load_includes_build"] = first_load and record["origin"] == "built"
        return self._from_onnx[1]

    def input_spec(self):
        first = self._inputs[0]
        return first["shape"], first["dtype"], None

    def feed(self, batch):
        first = self._inputs[0]
        first["host"][...] = np.asarray(batch).reshape(first["shape"])
        if not self.end_to_end:  # outside the timed call
            self._copy(*self._uploads[0])
            self._synchronize()

    def _synchronize(self) -> None:
        self._check(self._cudart.cudaStreamSynchronize(self._stream))

    def infer(self):
        if self.end_to_end:
            for upload in self._uploads:
                self._copy(*upload)
        if not self._context.execute_async_v3(self._stream_handle):
            raise RuntimeError("TensorRT execute_async_v3 failed")
        if self.end_to_end:
            for download in self._downloads:
                self._copy(*download)
        self._synchronize()

    def output(self):
        if not self.end_to_end:
            self._copy(*self._downloads[0])
            self._synchronize()
        return np.array(self._outputs[0]["host"], dtype=np.float32, copy=True)

    def details(self):
        return {
            "dla_core": self.dla_core,
            "end_to_end": self.end_to_end,
            "engine_tensors": [
                {
                    "name": t["name"],
                    "mode": t["mode"],
                    "shape": list(t["shape"]),
                    "dtype": t["dtype"].name,
                }
                for t in self._tensors
            ],
            "tensorrt_major": int(str(self.version).split(".")[0]),
            "cuda_binding": self.cuda_binding,
            "engine": self._engine_details,
        }
