"""A small hardware model of a CPU target, read from the target's LLVM CPU features.

The CPU schedules size their vectors (and, later, their register tiles) from this model, never
from CPU names: LLVM's feature set for the target's ``mtriple``, ``mcpu`` and ``mattr`` decides.
So a CPU LLVM knows but tvmprims has never seen gets the right width, and ``mattr`` can turn a
feature off (``"-avx512f"``) or on.

=========================  ============  ================  ==============================
features (first match)     vector bytes  vector registers  e.g.
=========================  ============  ================  ==============================
``avx512f``                64            32 (zmm0-31)      znver4, skylake-avx512, icelake
``avx2`` or ``avx``        32            16 (ymm0-15)      znver3, haswell, sandybridge
``neon`` on AArch64        16            32 (v0-31)        cortex-a72, neoverse-v1
``neon`` on 32-bit Arm     16            16 (q0-15)        cortex-a9
anything else (``sse2``)   16            16 (xmm0-15)      x86-64 generic
=========================  ============  ================  ==============================

SVE targets get NEON's 16 bytes: TVM's fixed-width vector code does not use SVE's scalable
registers.
"""

from dataclasses import dataclass

import numpy as np

from .._tvm import llvm_cpu_features, llvm_host_triple

__all__ = ["CpuModel", "cpu_model", "lanes_for"]


@dataclass(frozen=True)
class CpuModel:
    """What the CPU schedules need to know about a target's cores.

    Attributes
    ----------
    isa : str
        The vector instruction set the model was read from: ``"avx512"``, ``"avx2"``
        ``"avx"`` (AVX without AVX2), ``"neon"`` or ``"sse"`` (also the fallback for unknown CPUs).
    vector_bytes : int
        Width of one SIMD register in bytes (64, 32 or 16).
    vector_registers : int
        Number of architectural SIMD registers (32 or 16).
    """

    isa: str
    vector_bytes: int
    vector_registers: int

    def lanes(self, dtype):
        """SIMD lanes of ``dtype`` (e.g. ``"float32"``) in one vector register."""
        return lanes_for(self.vector_bytes, dtype)


def lanes_for(vector_bytes, dtype):
    """Elements of ``dtype`` in ``vector_bytes`` bytes (at least 1)."""
    return max(1, vector_bytes // np.dtype(dtype).itemsize)


def _from_features(features, triple):
    if "avx512f" in features:
        return CpuModel("avx512", 64, 32)
    if "avx2" in features or "avx" in features:
        return CpuModel("avx2" if "avx2" in features else "avx", 32, 16)
    if "neon" in features:
        aarch64 = triple.startswith(("aarch64", "arm64"))
        return CpuModel("neon", 16, 32 if aarch64 else 16)
    return CpuModel("sse", 16, 16)


#: ``(mcpu, mtriple, mattr) -> CpuModel``: asking LLVM for the features takes ~0.4 ms, and
#: every CPU schedule asks.
_models = {}
#: ``id(target) -> (target, CpuModel)``: reading the key's attributes takes ~15 us; schedules
#: ask several times per build with the same Target object. The Target is kept so that its id
#: is not reused; the table is emptied when it grows past a few entries.
_by_object = {}


def cpu_model(target):
    """The :class:`CpuModel` of an ``llvm`` target (cached per mcpu/mtriple/mattr).

    Parameters
    ----------
    target : tvm.target.Target
        Of kind ``llvm``. Its ``mtriple``, ``mcpu`` and ``mattr`` select LLVM's feature set
        (``tvm.target.codegen.llvm_get_cpu_features``); without ``mtriple`` LLVM assumes the
        host's triple, without ``mcpu`` a generic CPU of that triple.

    Raises
    ------
    ValueError
        For a target that is not a CPU (``cuda``).
    """
    if target.kind.name != "llvm":
        raise ValueError(f"cpu_model needs an 'llvm' target, got {target.kind.name!r}")
    hit = _by_object.get(id(target))
    if hit is not None:
        return hit[1]
    attrs = target.attrs
    key = (str(attrs.get("mcpu", "")), str(attrs.get("mtriple", "")),
           tuple(str(a) for a in attrs.get("mattr", ())))
    model = _models.get(key)
    if model is None:
        triple = key[1] or llvm_host_triple()  # LLVM's default when the target names none
        model = _models.setdefault(key, _from_features(llvm_cpu_features(target), triple))
    if len(_by_object) >= 64:
        _by_object.clear()
    _by_object[id(target)] = (target, model)
    return model
