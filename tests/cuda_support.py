"""Test support for CUDA kernels on machines without a GPU, shared by the test modules of every
operator with a CUDA schedule.

* **Source inspection**: :func:`launch_dims` (blocks and threads from the scheduled
  TensorIR), :func:`shared_arrays` (the ``__shared__`` arrays of the generated source) and
  :data:`SHARED_LIMIT`.
* **nvcc**: :func:`compile_fatbin` compiles a kernel's generated source with nvcc for its
  target's architecture. Tests use it through the ``nvcc_fatbin`` fixture of
  ``tests/conftest.py``, which skips them, with the reason, where nvcc is not installed.
* **CPU emulator**: :func:`emulate` compiles the generated CUDA C for the host with a small
  shim that runs each thread block's threads as cooperative fibers (``__syncthreads``
  switches between them, ``__shared__`` arrays are shared, locals are per thread), with UBSan
  bounds checks on the fixed-size arrays and guard zones around the global buffers, and
  returns the output. This checks index arithmetic, guards, partial tiles and barrier
  placement of the real kernel source, which a plain CPU build of the TensorIR would not
  (per-thread ``local`` storage and shared-memory hand-offs only exist in the CUDA code).
  Needs a C++ compiler (g++ or clang++); the test is skipped, saying so, without one.
"""

import re
import shutil
import subprocess

import numpy as np
import pytest

from tvmprims._tvm import tvm

__all__ = ["SHARED_LIMIT", "PTXAS_STRICT", "launch_dims", "shared_arrays", "compile_fatbin",
           "emulate"]

#: Static shared memory a CUDA block may use.
SHARED_LIMIT = 48 * 1024

#: ``TVM_CUDA_PTXAS_EXTRA_OPTS`` that make ptxas warnings about register spills and local
#: memory (accumulators that did not make it into registers) errors; TVM already runs ptxas
#: with ``-v`` and ``--warn-on-local-memory-usage``.
PTXAS_STRICT = "--warn-on-spills --warning-as-error"


# --- Source inspection -------------------------------------------------------------------------

def launch_dims(kernel):
    """``(blocks, threads)`` of a single-kernel module, read from its scheduled TensorIR."""
    script = kernel.script()
    binds = re.findall(r'T\.thread_binding\((\d+), thread="(blockIdx|threadIdx)\.(\w)"', script)
    assert {axis for _, _, axis in binds} <= {"x"}, "schedules bind only the x dimensions"
    blocks = [int(n) for n, kind, _ in binds if kind == "blockIdx"]
    threads = [int(n) for n, kind, _ in binds if kind == "threadIdx"]
    assert len(set(threads)) <= 1, f"threadIdx.x bound with different extents {set(threads)}"
    return (blocks[0] if blocks else 1), (threads[0] if threads else 1)


def shared_arrays(source):
    """``{name: (ctype, elements)}`` of the ``__shared__`` arrays in CUDA source."""
    return {name: (ctype, int(n)) for ctype, name, n in
            re.findall(r"__shared__\s+(?:alignas\(\d+\)\s+)?(\w+)\s+(\w+)\[(\d+)\]", source)}


# --- nvcc ---------------------------------------------------------------------------------------

def compile_fatbin(kernel):
    """``kernel``'s generated CUDA source compiled by nvcc to a fatbin for the architecture of
    ``kernel.target`` (ptxas options from ``$TVM_CUDA_PTXAS_EXTRA_OPTS``); asserts it is not
    empty and returns it. Call it through the ``nvcc_fatbin`` fixture, which skips the test
    where nvcc is absent and sets the ptxas options."""
    with kernel.target:  # outside it nvcc gets no CUDA architecture
        fatbin = tvm.support.nvcc.compile_cuda(kernel.source(), target_format="fatbin",
                                               compiler="nvcc")
    assert len(fatbin) > 0
    return fatbin


# --- CPU emulator -------------------------------------------------------------------------------

_SHIM = r"""
#include <ucontext.h>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <vector>
using std::max;
using std::min;
#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static
#define uint unsigned int
#define uchar unsigned char
#define ushort unsigned short
#define CUDART_INF_F __builtin_inff()
#define CUDART_INF __builtin_inf()
#define CUDART_NAN_F __builtin_nanf("")
#define CUDART_NAN __builtin_nan("")
struct Dim3 { unsigned int x, y, z; };
static Dim3 threadIdx, blockIdx;
struct alignas(8) float2 { float x, y; };
struct alignas(16) float4 { float x, y, z, w; };
struct alignas(16) double2 { double x, y; };
struct alignas(16) double4 { double x, y, z, w; };
static inline float2 make_float2(float a, float b) { return {a, b}; }
static inline float4 make_float4(float a, float b, float c, float d) { return {a, b, c, d}; }
static inline double2 make_double2(double a, double b) { return {a, b}; }
static inline double4 make_double4(double a, double b, double c, double d) { return {a, b, c, d}; }

// Threads of a block are fibers; __syncthreads() hands control back to the scheduler.
static ucontext_t scheduler;
static std::vector<ucontext_t> fibers;
static std::vector<int> state;  // 0 runnable, 1 at a barrier, 2 finished
static int current;
static inline void __syncthreads() {
  asm volatile("" ::: "memory");
  state[current] = 1;
  swapcontext(&fibers[current], &scheduler);
  asm volatile("" ::: "memory");
}
"""

_DRIVER = r"""
static void fiber_entry() {
  KERNEL_CALL;
  state[current] = 2;
}

int main(int argc, char** argv) {
  const long sizes[] = {SIZES};
  const int nbuf = sizeof(sizes) / sizeof(sizes[0]);
  const long guard = GUARD;
  std::vector<std::vector<SCALAR>> bufs(nbuf);
  FILE* in = fopen(argv[1], "rb");
  for (int i = 0; i < nbuf; ++i) {
    bufs[i].resize(sizes[i] + 2 * guard);
    if (fread(bufs[i].data(), sizeof(SCALAR), bufs[i].size(), in) != bufs[i].size()) return 4;
  }
  fclose(in);
  for (int i = 0; i < nbuf; ++i) args[i] = bufs[i].data() + guard;
  const int blocks = BLOCKS, threads = THREADS;
  const size_t stack = 256 * 1024;
  std::vector<char> stacks(stack * threads);
  fibers.resize(threads);
  state.resize(threads);
  for (int b = 0; b < blocks; ++b) {
    blockIdx.x = b; blockIdx.y = blockIdx.z = 0;
    for (int t = 0; t < threads; ++t) {
      getcontext(&fibers[t]);
      fibers[t].uc_stack.ss_sp = stacks.data() + stack * t;
      fibers[t].uc_stack.ss_size = stack;
      fibers[t].uc_link = &scheduler;
      makecontext(&fibers[t], fiber_entry, 0);
      state[t] = 0;
    }
    for (;;) {
      for (int t = 0; t < threads; ++t) {
        if (state[t] == 2) continue;
        state[t] = 0;
        current = t;
        threadIdx.x = t; threadIdx.y = threadIdx.z = 0;
        swapcontext(&scheduler, &fibers[t]);
      }
      int done = 0, waiting = 0;
      for (int t = 0; t < threads; ++t) { done += state[t] == 2; waiting += state[t] == 1; }
      if (done == threads) break;
      if (done) { fprintf(stderr, "barrier divergence in block %d\n", b); return 3; }
    }
  }
  FILE* out = fopen(argv[2], "wb");
  for (int i = 0; i < nbuf; ++i) fwrite(bufs[i].data(), sizeof(SCALAR), bufs[i].size(), out);
  fclose(out);
  return 0;
}
"""

#: Elements of guard zone around every global buffer (NaN: reading it poisons a result).
_GUARD = 4096


def _emulator_source(kernel):
    src = kernel.source()
    body = src[src.index("#ifdef _WIN32"):]
    body = body[body.index("#endif") + len("#endif"):]
    # Shared arrays become function statics (one per block, as blocks run one at a time).
    body = re.sub(r"__shared__\s+alignas\((\d+)\)", r"alignas(\1) static", body)
    match = re.search(
        r'extern "C" __global__ void (?:__launch_bounds__\(\d+\) )?(\w+)\(([^)]*)\)\s*\{', body)
    name, params = match.group(1), [p.strip() for p in match.group(2).split(",")]
    buffers = [p.name for p in kernel.ir_module["main"].params]
    order, casts = [], []
    for param in params:
        ctype, pname = param.rsplit(" ", 1)
        ctype = ctype.replace("__restrict__", "").strip()
        assert pname.endswith("_ptr"), param
        order.append(buffers.index(pname[:-len("_ptr")]))
        casts.append(f"({ctype})args[{len(casts)}]")
    blocks, threads = launch_dims(kernel)
    shapes = list(kernel.workload.shapes) + [kernel.workload.output_shape]
    scalar = "double" if kernel.workload.dtype == "float64" else "float"
    driver = (_DRIVER.replace("KERNEL_CALL", f"{name}({', '.join(casts)})")
              .replace("SIZES", ", ".join(str(int(np.prod(shapes[i]))) for i in order))
              .replace("GUARD", str(_GUARD)).replace("SCALAR", scalar)
              .replace("BLOCKS", str(blocks)).replace("THREADS", str(threads)))
    header = _SHIM + f"static void* args[{len(params)}];\n"
    return header + body + driver, order


def emulate(kernel, arrays, workdir):
    """Run a CUDA kernel's generated source on the CPU; returns the output array."""
    cxx = shutil.which("g++") or shutil.which("clang++")
    if cxx is None:
        pytest.skip("no C++ compiler (g++/clang++) to emulate CUDA kernels on the CPU")
    code, order = _emulator_source(kernel)
    cu, exe = workdir / "kernel.cc", workdir / "kernel"
    cu.write_text(code)
    build_cmd = [cxx, "-std=c++17", "-O1", "-fno-strict-aliasing", "-w",
                 "-fsanitize=bounds", "-fno-sanitize-recover=bounds", "-o", str(exe), str(cu)]
    result = subprocess.run(build_cmd, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-4000:]

    dtype = np.dtype(kernel.workload.dtype)
    sentinel = dtype.type(-7777.0)
    buffers = list(arrays) + [np.full(kernel.workload.output_shape, sentinel, dtype)]
    with open(workdir / "in.bin", "wb") as f:
        for i in order:
            guard = np.full(_GUARD, np.nan if i < len(arrays) else sentinel, dtype)
            np.concatenate([guard, np.ravel(buffers[i]).astype(dtype), guard]).tofile(f)
    result = subprocess.run([str(exe), str(workdir / "in.bin"), str(workdir / "out.bin")],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0 and "runtime error" not in result.stderr, \
        f"emulated kernel failed ({result.returncode}): {result.stderr[-4000:]}"
    data = np.fromfile(workdir / "out.bin", dtype)
    offset = 0
    for i in order:
        n = int(np.prod(buffers[i].shape)) + 2 * _GUARD
        chunk = data[offset:offset + n]
        offset += n
        inner = chunk[_GUARD:-_GUARD]
        if i == len(arrays):
            assert np.all(chunk[:_GUARD] == sentinel) and np.all(chunk[-_GUARD:] == sentinel), \
                "kernel wrote outside its output buffer"
            assert not np.any(inner == sentinel), "kernel left output elements unwritten"
            output = inner.reshape(kernel.workload.output_shape)
        else:
            np.testing.assert_array_equal(inner, np.ravel(buffers[i]),
                                          err_msg="kernel modified an input")
    return output
