"""``Kernel``: one compiled operator instance that can be called, timed, shown and exported."""

import atexit
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass

import numpy as np

from . import forking
from ._tvm import cuda_source, tensor_on, tvm
from .arrays import ALIGNMENT, aligned_empty, as_input
from .target import device_for, resolve_target, schedule_kind
from .timing import evaluate_seconds
from .workload import Workload

__all__ = ["Kernel", "Timing", "load_kernel", "LibraryMismatchError", "check_library"]

#: Held while a module is exported: TVM's ``export_library`` of one module on two threads at
#: once crashes the process (a double free), and the kernel cache exports every new kernel
#: on its writer thread while the caller may export it too (``build(...).export(path)``).
_EXPORT_LOCK = forking.lock()


@dataclass(frozen=True)
class Timing:
    """Result of :meth:`Kernel.time`: best mean time per call over the repeats."""

    seconds: float
    gflops: float
    results: tuple

    def __str__(self):
        return f"{self.seconds * 1e3:.4f} ms, {self.gflops:.2f} GFLOP/s"


class Kernel:
    """A compiled kernel for one :class:`Workload`, target and schedule.

    Call it on numpy arrays (inputs in the workload's order) to get a new array, or pass
    ``out=`` to write into an existing C-contiguous array of the output shape and dtype
    (it may overlap an input: the result is then computed into a temporary and copied).
    C-contiguous arrays are passed as they are; ``alignment`` is the byte alignment the
    compiled code assumes of its arguments (the element size for tvmprims' CPU kernels),
    and only arrays off it, or not C-contiguous, are copied.
    """

    def __init__(self, workload, target, schedule, runtime_module, ir_module=None,
                 alignment=None, library_path=None):
        self.workload = workload
        self.target = resolve_target(target)
        self.schedule = schedule
        self.module = runtime_module
        self._ir_module = ir_module  # or a function that makes it (kernels from the disk cache)
        self._func = runtime_module["main"]
        self._device = device_for(self.target)
        self._on_cpu = schedule_kind(self.target) == "cpu"
        self._output_shape = workload.output_shape
        self._dtype = np.dtype(workload.dtype)
        self.alignment = alignment or self._dtype.itemsize
        self.library_path = library_path  # the shared library the module was loaded from
        # as_input's alignment argument: None checks the element size, numpy's cheap flag
        self._input_alignment = None if self.alignment <= self._dtype.itemsize else self.alignment

    def __reduce__(self):
        """Pickled as its exported library and sidecar: the process that unpickles it (a
        spawned worker, say) loads the same machine code, without compiling, and checks it
        as :func:`load_kernel` does. TVM cannot serialise a compiled module itself."""
        with tempfile.TemporaryDirectory(prefix="tvmprims-pickle-") as tmp:
            path = self.export(os.path.join(tmp, "kernel.so"))
            with open(path, "rb") as f:
                library = f.read()
            with open(path + ".json") as f:
                sidecar = f.read()
        return _unpickled_kernel, (library, sidecar)

    def __copy__(self):
        return self  # a kernel never changes: copies share it, as they share a function

    def __deepcopy__(self, memo):
        return self

    def __repr__(self):
        return f"Kernel({self.workload.describe()}, {self.workload.dtype}, target={self.target.kind.name}, schedule={self.schedule!r})"

    @property
    def ir_module(self):
        """The scheduled TensorIR (None for a kernel loaded from an exported library)."""
        if callable(self._ir_module):
            self._ir_module = self._ir_module()
        return self._ir_module

    @property
    def flops(self):
        return self.workload.flops

    def _check(self, arrays):
        shapes = self.workload.shapes
        if len(arrays) != len(shapes):
            raise TypeError(f"{self.workload.op} kernel takes {len(shapes)} arrays, got {len(arrays)}")
        checked = []
        for i, (a, shape) in enumerate(zip(arrays, shapes)):
            a = as_input(a, f"argument {i}", self._input_alignment)
            if a.shape != shape or a.dtype != self._dtype:
                raise ValueError(f"argument {i} has shape {a.shape} and dtype {a.dtype}; this kernel "
                                 f"was built for {shape} {self._dtype}")
            checked.append(a)
        return checked

    def _output(self, out):
        if out is None:
            if self._input_alignment is None:
                return np.empty(self._output_shape, self._dtype)
            return aligned_empty(self._output_shape, self._dtype)
        if (not isinstance(out, np.ndarray) or out.shape != self._output_shape
                or out.dtype != self._dtype or not out.flags.c_contiguous):
            raise ValueError(f"out must be a C-contiguous {self._dtype} array of shape "
                             f"{self._output_shape}")
        if not out.flags.writeable:
            raise ValueError("out is read-only: pass a writeable array")
        return out

    def __call__(self, *arrays, out=None):
        """Run the kernel; returns the output array (``out`` when given)."""
        return self.run_checked(self._check(arrays), out)

    def run_checked(self, arrays, out=None):
        """Run on arrays already validated by :func:`tvmprims.arrays.as_input` (with this
        kernel's :attr:`alignment`) and shape checks (the numpy API's fast path)."""
        if out is None and self._on_cpu and self._input_alignment is None:
            result = np.empty(self._output_shape, self._dtype)  # the usual call, inline
            self._func(*arrays, result)
            return result
        result = self._output(out)
        if self._on_cpu:
            # An output that overlaps an input would be overwritten while still being read
            # (numpy's ``matmul(a, b, out=a)`` computes into a temporary first; so do we).
            if out is not None and (
                    not out.flags.aligned or out.ctypes.data % self.alignment
                    or any(np.may_share_memory(out, a) for a in arrays)):
                staging = aligned_empty(self._output_shape, self._dtype)
                self._func(*arrays, staging)
                result[...] = staging
            else:
                self._func(*arrays, result)
            return result
        self._require_device()
        args = [tensor_on(a, self._device) for a in arrays]
        dev_out = tvm.runtime.empty(self._output_shape, self.workload.dtype, self._device)
        self._func(*args, dev_out)
        result[...] = dev_out.numpy()
        return result

    def new_output_runner(self):
        """``run(*arrays)``: :meth:`run_checked` without ``out``, as a closure over what it
        reads (a cached small kernel's repeated calls feel every attribute lookup); None
        where the call needs more than a new output (a GPU, inputs aligned beyond their
        element size)."""
        if not self._on_cpu or self._input_alignment is not None:
            return None
        func, shape, dtype, empty = self._func, self._output_shape, self._dtype, np.empty
        # Spelled out for two and three inputs (matmul, conv2d with a bias): packing and
        # unpacking *arrays cost 0.1 us of a 1x64 @ 64x1000 call's 3.4.
        if len(self.workload.shapes) == 2:
            def run(a, b):
                result = empty(shape, dtype)
                func(a, b, result)
                return result
        elif len(self.workload.shapes) == 3:
            def run(a, b, c):
                result = empty(shape, dtype)
                func(a, b, c, result)
                return result
        else:
            def run(*arrays):
                result = empty(shape, dtype)
                func(*arrays, result)
                return result
        return run

    def _require_device(self):
        if not self._on_cpu and not (tvm.runtime.enabled("cuda") and self._device.exist):
            raise RuntimeError(f"{self!r} needs a CUDA GPU to run and none is present; it can "
                               "still be built, inspected (source()) and exported")

    def random_inputs(self, seed=0):
        """Standard-normal inputs of the right shapes and dtype."""
        rng = np.random.default_rng(seed)
        return [rng.standard_normal(s).astype(self._dtype) for s in self.workload.shapes]

    def time(self, *arrays, number=0, repeat=5, min_repeat_ms=200):
        """Time the kernel with TVM's ``time_evaluator`` (random inputs when none are given).

        Returns a :class:`Timing`; ``seconds`` is the best of ``repeat`` means, each over
        ``number`` calls (``0``: as many as fill ``min_repeat_ms``).
        """
        arrays = self._check(arrays) if arrays else self.random_inputs()
        self._require_device()
        args = [tensor_on(a, self._device) for a in arrays]
        args.append(tvm.runtime.empty(self._output_shape, self.workload.dtype, self._device))
        results = evaluate_seconds(self.module, self._device, args, number, repeat,
                                   min_repeat_ms)
        best = min(results)
        return Timing(best, self.flops / best / 1e9, results)

    def script(self):
        """The scheduled TensorIR of this kernel as TVMScript."""
        if self.ir_module is None:
            raise RuntimeError("this kernel was loaded from a library; its TensorIR is not kept")
        return self.ir_module.script()

    def source(self):
        """Generated code: CUDA C for cuda kernels, LLVM IR for CPU kernels."""
        if self.ir_module is None:
            raise RuntimeError("this kernel was loaded from a compiled library; its source is not kept")
        if schedule_kind(self.target) == "cuda":
            return cuda_source(self.module)
        if self.library_path is not None:  # loaded from the kernel cache: compile the IR again
            from ._tvm import compile_module
            return compile_module(self.ir_module, self.target).mod.inspect_source("ll")
        return self.module.inspect_source("ll")

    def show(self):
        """Print the scheduled TensorIR (and the CUDA source for cuda kernels)."""
        print(self.script())
        if schedule_kind(self.target) == "cuda":
            print(self.source())

    def export(self, path):
        """Write a shared library loadable by :func:`load_kernel` or ``tvm.runtime.load_module``.

        The library's entry point is ``"main"``, taking the inputs then the output. Called
        through plain TVM, every array must be C-contiguous and aligned to :attr:`alignment`
        bytes (the element size for CPU kernels: any C-contiguous numpy array; TVM's own
        tensors are 64-byte aligned). :func:`load_kernel` checks and copies for you. A
        ``<path>.json`` sidecar records the workload, target, schedule and alignment, and
        the library's size and SHA-256, which :func:`load_kernel` checks before loading it.
        """
        path = str(path)
        if self.library_path is not None:  # a loaded library cannot be exported again: copy it
            shutil.copyfile(self.library_path, path)
        else:
            with _EXPORT_LOCK:
                self.module.export_library(path)
        meta = {"workload": self.workload.to_json(), "target": str(self.target),
                "schedule": self.schedule, "alignment": self.alignment,
                "size": os.path.getsize(path),
                "sha256": _sha256(path)}
        with open(path + ".json", "w") as f:
            json.dump(meta, f, indent=1)
        return path


_unpickled = {"directory": None, "owner": None}
_unpickled_lock = forking.lock()


def _unpickled_kernel(library, sidecar):
    """The kernel pickled as ``library`` (bytes of the shared library) and its ``sidecar``
    (text): written under a directory of this process's (removed when it exits), by content,
    and loaded with :func:`load_kernel`. Its file stays while the process runs, so the
    kernel can be pickled again."""
    with _unpickled_lock:
        if _unpickled["owner"] != os.getpid():  # none yet, or the parent's (a forked child)
            _unpickled["directory"] = tempfile.mkdtemp(prefix="tvmprims-unpickled-")
            _unpickled["owner"] = os.getpid()
            atexit.register(_remove_unpickled, _unpickled["directory"], os.getpid())
        path = os.path.join(_unpickled["directory"],
                            hashlib.sha256(library).hexdigest()[:32] + ".so")
        if not os.path.exists(path + ".json"):
            with open(path, "wb") as f:
                f.write(library)
            with open(path + ".json", "w") as f:
                f.write(sidecar)
    return load_kernel(path)


def _remove_unpickled(directory, owner):
    if os.getpid() == owner:  # not a forked child exiting through the parent's handlers
        shutil.rmtree(directory, ignore_errors=True)


class LibraryMismatchError(ValueError):
    """An exported library differs from what its sidecar recorded at export: truncated,
    damaged or replaced by another file. Loading it could crash the process or run another
    kernel, so :func:`load_kernel` refuses."""


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_library(path, meta):
    """Raise :class:`LibraryMismatchError` unless ``path`` has the size and SHA-256 that its
    sidecar ``meta`` records (read before ``tvm.runtime.load_module`` maps the file: a
    truncated library would kill the process with SIGBUS there)."""
    size, sha256 = meta.get("size"), meta.get("sha256")
    if not (isinstance(size, int) and not isinstance(size, bool) and isinstance(sha256, str)):
        raise LibraryMismatchError(f"{path}.json records no size and sha256 of the library "
                                   "(written by an older tvmprims?): export the kernel again")
    try:
        actual = os.path.getsize(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} does not exist (its sidecar {path}.json does)") from None
    if actual != size:
        raise LibraryMismatchError(f"{path} is {actual} bytes, but {path}.json records "
                                   f"{size}: the library is truncated or was replaced")
    actual = _sha256(path)
    if actual != sha256.lower():
        raise LibraryMismatchError(f"{path} has SHA-256 {actual}, but {path}.json records "
                                   f"{sha256}: the library is damaged or was replaced")


def load_kernel(path):
    """Load a kernel written by :meth:`Kernel.export`.

    The library's size and SHA-256 are checked against its sidecar first: a truncated,
    damaged or swapped library raises :class:`LibraryMismatchError` (a ``ValueError``)
    naming the file and what differs, instead of being loaded.
    """
    path = str(path)
    try:
        with open(path + ".json") as f:
            meta = json.load(f)
        workload = Workload.from_json(meta["workload"])
        target = tvm.target.Target(json.loads(meta["target"]))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}.json is missing: tvmprims needs the sidecar written by "
                                "Kernel.export (the .so alone loads with tvm.runtime.load_module)") from None
    except (KeyError, ValueError, TypeError) as e:
        raise ValueError(f"{path}.json is not a valid tvmprims kernel description: {e}") from None
    alignment = meta.get("alignment", ALIGNMENT)  # older sidecars: TVM's 64-byte default
    if not (isinstance(alignment, int) and not isinstance(alignment, bool) and alignment > 0
            and not alignment & (alignment - 1)):
        raise ValueError(f"{path}.json records alignment {alignment!r}; expected a power of 2")
    check_library(path, meta)
    return Kernel(workload, target, meta.get("schedule", "unknown"), tvm.runtime.load_module(path),
                  alignment=alignment, library_path=path)
