"""Zero-copy calls: C-contiguous arrays at any element-aligned address reach the kernel as
they are (inputs and ``out=``), with results equal to the references; only views that are
not C-contiguous, or addresses off the element size, are copied.

The CPU kernels declare their arguments aligned to the element size
(``tvmprims._tvm.element_aligned_arguments``); numpy puts large arrays 16 bytes past a
64-byte boundary, so a 64-byte declaration meant a copy of every such input on every call.
"""

import sys

import numpy as np
import pytest
import torch

import tvmprims as tp
import tvmprims.arrays as arrays_module
import tvmprims.kernel as kernel_module
from tvmprims.testing import (adaptive_avg_pool2d_ref, adaptive_max_pool2d_ref, add_ref,
                              assert_close, at_offset, avg_pool2d_ref, concat_ref, conv1d_ref,
                              conv2d_ref, convolve_ref, depthwise_conv2d_ref, matmul_ref,
                              max_pool2d_ref, scale_channels_ref)


@pytest.fixture
def copies(monkeypatch):
    """Counts the copies tvmprims makes into buffers of its own (the only way it copies an
    input, an output staging area, or a misaligned ``out``)."""
    made = []
    real = arrays_module.aligned_empty

    def counting(shape, dtype):
        made.append(tuple(shape))
        return real(shape, dtype)

    monkeypatch.setattr(arrays_module, "aligned_empty", counting)
    monkeypatch.setattr(kernel_module, "aligned_empty", counting)
    return made


def _r(rng, dtype, *shape):
    return rng.standard_normal(shape).astype(dtype)


# op -> (inputs, keyword parameters, function, float64 reference, reduction length)
CASES = {
    "matmul": (lambda rng, dt: (_r(rng, dt, 17, 13), _r(rng, dt, 13, 19)), {},
               tp.matmul, matmul_ref, 13),
    "matmul-log": (lambda rng, dt: (_r(rng, dt, 5, 7), _r(rng, dt, 7, 3)), {"algo": "log"},
                   tp.matmul, matmul_ref, 7 * 64),
    "lowrank": (lambda rng, dt: (_r(rng, dt, 12, 9), _r(rng, dt, 9, 10)), {},
                tp.lowrank_matmul, matmul_ref, 9 * 4),
    "convolve": (lambda rng, dt: (_r(rng, dt, 37), _r(rng, dt, 5)), {"mode": "same"},
                 tp.convolve, convolve_ref, 5),
    "conv2d-direct": (lambda rng, dt: (_r(rng, dt, 2, 3, 9, 7), _r(rng, dt, 5, 3, 3, 3),
                                       _r(rng, dt, 5)),
                      {"padding": 1, "algo": "direct"}, tp.conv2d, conv2d_ref, 27),
    "conv2d-im2col": (lambda rng, dt: (_r(rng, dt, 1, 4, 7, 7), _r(rng, dt, 6, 2, 3, 3)),
                      {"stride": 2, "groups": 2, "algo": "im2col"}, tp.conv2d, conv2d_ref, 18),
    "conv2d-winograd": (lambda rng, dt: (_r(rng, dt, 1, 4, 8, 8), _r(rng, dt, 4, 4, 3, 3)),
                        {"padding": 1, "algo": "winograd"}, tp.conv2d, conv2d_ref, 36 * 16),
    "conv2d-fft": (lambda rng, dt: (_r(rng, dt, 1, 2, 8, 8), _r(rng, dt, 3, 2, 3, 3)),
                   {"padding": 1, "algo": "fft"}, tp.conv2d, conv2d_ref, 18 * 64),
    "conv1d": (lambda rng, dt: (_r(rng, dt, 2, 4, 11), _r(rng, dt, 6, 2, 3), _r(rng, dt, 6)),
               {"padding": 1, "groups": 2}, tp.conv1d, conv1d_ref, 6),
    "depthwise": (lambda rng, dt: (_r(rng, dt, 1, 4, 9, 8), _r(rng, dt, 8, 1, 3, 3),
                                   _r(rng, dt, 8)),
                  {"padding": 1, "stride": 2}, tp.depthwise_conv2d, depthwise_conv2d_ref, 9),
    "max_pool2d": (lambda rng, dt: (_r(rng, dt, 2, 3, 9, 7),),
                   {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
                   tp.max_pool2d, max_pool2d_ref, 1),
    "avg_pool2d": (lambda rng, dt: (_r(rng, dt, 2, 3, 9, 7),),
                   {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False},
                   tp.avg_pool2d, avg_pool2d_ref, 9),
    "adaptive_avg_pool2d": (lambda rng, dt: (_r(rng, dt, 1, 5, 5, 7),), {"output_size": (3, 2)},
                            tp.adaptive_avg_pool2d, adaptive_avg_pool2d_ref, 9),
    "global_avg_pool": (lambda rng, dt: (_r(rng, dt, 2, 11, 7, 7),), {"output_size": 1},
                        tp.adaptive_avg_pool2d, adaptive_avg_pool2d_ref, 49),
    "adaptive_max_pool2d": (lambda rng, dt: (_r(rng, dt, 1, 5, 7, 7),), {"output_size": 1},
                            tp.adaptive_max_pool2d, adaptive_max_pool2d_ref, 1),
    "add": (lambda rng, dt: (_r(rng, dt, 2, 3, 7, 5), _r(rng, dt, 2, 3, 7, 5)), {"relu": True},
            tp.add, add_ref, 1),
    "concat": (lambda rng, dt: ([_r(rng, dt, 1, 3, 5, 7), _r(rng, dt, 1, 4, 5, 7)],), {},
               tp.concat, concat_ref, 1),
    "scale_channels": (lambda rng, dt: (_r(rng, dt, 2, 3, 7, 5), _r(rng, dt, 2, 3, 1, 1)), {},
                       tp.scale_channels, scale_channels_ref, 1),
}

OFFSETS = {np.float32: (4, 8, 16, 32), np.float64: (8, 16, 24, 32)}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("op", list(CASES))
def test_element_aligned_inputs_are_not_copied(op, dtype, rng, copies):
    make, params, func, ref, reduction = CASES[op]
    values = make(rng, dtype)
    expected = ref(*values, **{k: v for k, v in params.items() if k != "algo"})
    func(*values, **params)  # compiled (and auto's choice made) before counting
    copies.clear()
    for offset in OFFSETS[dtype]:
        args = [[at_offset(a, offset) for a in v] if isinstance(v, list) else
                at_offset(v, offset) for v in values]
        before = [[a.copy() for a in v] if isinstance(v, list) else v.copy() for v in args]
        out = func(*args, **params)
        assert_close(out, expected, np.dtype(dtype).name, reduction)
        for a, b in zip(args, before):
            for x, y in zip(*((a, b) if isinstance(a, list) else ([a], [b]))):
                np.testing.assert_array_equal(x, y, err_msg="an input was modified")
    assert copies == [], f"inputs were copied: {copies}"


@pytest.mark.parametrize("offset", [4, 8, 16, 32])
def test_element_aligned_out_is_written_in_place(offset, rng, copies):
    a, b = _r(rng, np.float32, 33, 65), _r(rng, np.float32, 65, 31)
    kernel = tp.build("matmul", a.shape, b.shape)
    out = at_offset(np.full((33, 31), np.nan, np.float32), offset)
    copies.clear()
    assert kernel(at_offset(a, 16), at_offset(b, offset), out=out) is out
    assert_close(out, matmul_ref(a, b), "float32", 65)
    assert copies == []


@pytest.mark.parametrize("dtype,variant", [
    # 4 bytes off (from a byte buffer): float64 data not on its element size
    (np.float64, lambda a: at_offset(a, 4)),
    (np.float32, np.asfortranarray),  # not C-contiguous
], ids=["float64-offset-4", "fortran"])
def test_arrays_off_their_element_size_or_not_contiguous_are_copied(rng, copies, dtype,
                                                                    variant):
    """Such inputs are copied (into one buffer each), and the result is still right."""
    a, b = _r(rng, dtype, 6, 5), _r(rng, dtype, 5, 7)
    tp.matmul(a, b)
    copies.clear()
    out = tp.matmul(variant(a), b)
    assert_close(out, matmul_ref(a, b), np.dtype(dtype).name, 5)
    assert copies == [(6, 5)]


def test_torch_cpu_tensors_are_not_copied(rng, copies):
    a, b = _r(rng, np.float32, 9, 12), _r(rng, np.float32, 12, 5)
    tp.matmul(a, b)
    copies.clear()
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)[:, :]  # a view: still contiguous
    assert arrays_module.as_input(ta, "a").ctypes.data == ta.data_ptr()
    out = tp.matmul(ta, tb)
    assert_close(out, matmul_ref(a, b), "float32", 12)
    assert copies == []


def test_kernels_declare_element_alignment():
    """The compiled function's arguments are declared with the element's alignment, not
    TVM's 64 bytes (which LLVM would turn into aligned-load assumptions)."""
    for dtype, align in (("float32", 4), ("float64", 8)):
        script = tp.build("matmul", (5, 3), (3, 7), dtype=dtype).script()
        assert script.count(f'"{dtype}", align={align})') == 3, script[:600]


def test_libraries_without_a_recorded_alignment_get_64_byte_aligned_inputs(rng, tmp_path,
                                                                          copies):
    """A sidecar written before kernels were element aligned records no ``alignment``: its
    library assumes TVM's 64 bytes, so inputs off 64 bytes are copied for it."""
    import json
    a, b = _r(rng, np.float32, 4, 3), _r(rng, np.float32, 3, 5)
    path = tp.build("matmul", a.shape, b.shape).export(str(tmp_path / "mm.so"))
    assert tp.load_kernel(path).alignment == 4
    with open(path + ".json") as f:
        meta = json.load(f)
    del meta["alignment"]
    with open(path + ".json", "w") as f:
        json.dump(meta, f)
    old = tp.load_kernel(path)
    assert old.alignment == 64
    copies.clear()
    out = old(at_offset(a, 16), at_offset(b, 0))
    assert_close(out, matmul_ref(a, b), "float32", 3)
    assert (4, 3) in copies and (3, 5) not in copies


def test_repeated_plain_matmul_calls_skip_the_argument_handling(rng, monkeypatch):
    """A plain ``matmul(a, b)`` seen before runs its kernel by shapes and dtypes alone; other
    dtypes, views that are not C-contiguous or off their element size, and a cleared cache
    take the general path, and every result matches the reference."""
    build_module = sys.modules["tvmprims.build"]  # (tvmprims.build is the function)
    a, b = _r(rng, np.float32, 1, 13), _r(rng, np.float32, 13, 29)
    tp.clear_cache()
    assert_close(tp.matmul(a, b), matmul_ref(a, b), "float32", 13)
    assert set(build_module.plain_calls) == {("matmul", (1, 13), (13, 29), a.dtype, b.dtype)}
    general = []
    real = arrays_module.as_input
    monkeypatch.setattr("tvmprims.api.as_input",  # what the general path reads arrays with
                        lambda x, name, *rest: general.append(name) or real(x, name, *rest))
    a2, b2 = _r(rng, np.float32, 1, 13), _r(rng, np.float32, 13, 29)
    assert_close(tp.matmul(a2, b2), matmul_ref(a2, b2), "float32", 13)
    assert_close(tp.matmul(a2, b2, target="llvm"), matmul_ref(a2, b2), "float32", 13)
    assert general == []  # this CPU, named or not, is the plain call's
    for x, y, dtype in [(a2.astype(np.float64), b2.astype(np.float64), "float64"),
                        (a2, np.asfortranarray(b2), "float32"),
                        (at_offset(a2, 2), b2, "float32")]:
        general.clear()
        assert_close(tp.matmul(x, y), matmul_ref(x, y), dtype, 13)
        assert general == ["a", "b"]
    with pytest.raises(TypeError, match=">f4"):  # byte-swapped, same shapes and kind
        tp.matmul(a2.astype(">f4"), b2)
    tp.clear_cache()
    assert build_module.plain_calls == {}


def test_repeated_plain_conv2d_calls_skip_the_argument_handling(rng, monkeypatch):
    """A plain ``conv2d(x, w, stride=..., padding=...)`` seen before runs its kernel by shapes,
    dtypes and parameters alone (and a bias's shape and dtype, once seen with it); other
    parameters, a bias not seen before, an epilogue, an explicit algorithm, views that are
    not C-contiguous or off their element size take the general path; a transform
    algorithm's layer (its result checked for NaN and inf) is never a plain call; every
    result matches the reference."""
    build_module = sys.modules["tvmprims.build"]
    x, w = _r(rng, np.float32, 1, 24, 13, 11), _r(rng, np.float32, 40, 24, 1, 1)
    tp.clear_cache()
    assert_close(tp.conv2d(x, w, stride=2, padding=1), conv2d_ref(x, w, stride=2, padding=1),
                 "float32", 24)
    key = ("conv2d", x.shape, w.shape, x.dtype, w.dtype, 2, 1, 1, 1)
    assert set(build_module.plain_calls) == {key}
    general = []
    real = arrays_module.as_input
    monkeypatch.setattr("tvmprims.api.as_input",
                        lambda v, name, *rest: general.append(name) or real(v, name, *rest))
    x2, w2 = _r(rng, np.float32, *x.shape), _r(rng, np.float32, *w.shape)
    assert_close(tp.conv2d(x2, w2, stride=2, padding=1),
                 conv2d_ref(x2, w2, stride=2, padding=1), "float32", 24)
    assert general == []
    bias = _r(rng, np.float32, 40)
    for args, params, ref in [
            ((x2, w2), {"stride": 1, "padding": 1}, conv2d_ref(x2, w2, padding=1)),
            ((x2, w2, bias), {"stride": 2, "padding": 1},
             conv2d_ref(x2, w2, bias, stride=2, padding=1)),
            ((x2, w2), {"stride": 2, "padding": 1, "activation": "relu"},
             np.maximum(conv2d_ref(x2, w2, stride=2, padding=1), 0)),
            ((x2, w2), {"stride": 2, "padding": 1, "algo": "direct"},
             conv2d_ref(x2, w2, stride=2, padding=1)),
            ((np.asfortranarray(x2), w2), {"stride": 2, "padding": 1},
             conv2d_ref(x2, w2, stride=2, padding=1)),
            ((x2, at_offset(w2, 2)), {"stride": 2, "padding": 1},
             conv2d_ref(x2, w2, stride=2, padding=1))]:
        general.clear()
        assert_close(tp.conv2d(*args, **params), ref, "float32", 24)
        assert general[:2] == ["x", "weight"], params
    bias2 = _r(rng, np.float32, 40)  # a bias seen with the layer before: a plain call too
    general.clear()
    assert_close(tp.conv2d(x2, w2, bias2, stride=2, padding=1),
                 conv2d_ref(x2, w2, bias2, stride=2, padding=1), "float32", 24)
    assert general == []
    assert_close(tp.conv2d(x2, w2, at_offset(bias2, 2), stride=2, padding=1),
                 conv2d_ref(x2, w2, bias2, stride=2, padding=1), "float32", 24)
    assert general == ["x", "weight", "bias"]  # off its element size: the general path
    with pytest.raises(ValueError, match="bias"):
        tp.conv2d(x2, w2, _r(rng, np.float32, 41), stride=2, padding=1)
    wx, ww = _r(rng, np.float32, 1, 64, 30, 30), _r(rng, np.float32, 64, 64, 3, 3)
    from tvmprims.algorithms import heuristic_algorithm
    from tvmprims.ops.registry import algorithm_of, conv2d_workload
    chosen = heuristic_algorithm(conv2d_workload(wx.shape, ww.shape, None, "float32", 1, 1))
    assert algorithm_of(chosen) in ("winograd2", "winograd4")
    before = set(build_module.plain_calls)
    wx[0, 3, 4, 5] = np.nan
    out = tp.conv2d(wx, ww, padding=1)
    assert set(build_module.plain_calls) == before
    assert np.isnan(out).sum() == np.isnan(conv2d_ref(wx, ww, padding=1)).sum()
    tp.clear_cache()
    assert build_module.plain_calls == {}


def test_an_unhashable_parameter_is_never_a_plain_call(rng):
    """A parameter the call key cannot hash (a numpy array as the stride) finds no plain
    kernel and is not remembered as one; the general path runs it, right, every time."""
    build_module = sys.modules["tvmprims.build"]
    x, w = _r(rng, np.float32, 1, 8, 9, 9), _r(rng, np.float32, 16, 8, 1, 1)
    tp.clear_cache()
    for _ in range(2):
        assert_close(tp.conv2d(x, w, stride=np.array([2, 2])), conv2d_ref(x, w, stride=2),
                     "float32", 8)
    assert build_module.plain_calls == {}
    tp.clear_cache()


def _read_only(a):
    a.setflags(write=False)
    return a


@pytest.mark.parametrize("op", list(CASES))
def test_read_only_inputs_are_used_in_place(op, rng, copies):
    """Read-only arrays (``np.frombuffer``, memory maps opened ``"r"``, ``write=False``),
    which numpy will not export through TVM's DLPack, run without a copy and give the
    reference's results."""
    make, params, func, ref, reduction = CASES[op]
    values = make(rng, np.float32)
    expected = ref(*values, **{k: v for k, v in params.items() if k != "algo"})
    func(*values, **params)
    copies.clear()
    frozen = [[_read_only(a.copy()) for a in v] if isinstance(v, list) else
              _read_only(v.copy()) for v in values]
    assert_close(func(*frozen, **params), expected, "float32", reduction)
    assert copies == [], f"inputs were copied: {copies}"


def test_read_only_buffers_and_memory_maps_reach_the_kernels(rng, tmp_path):
    a, b = _r(rng, np.float32, 7, 11), _r(rng, np.float32, 11, 5)
    np.save(tmp_path / "a.npy", a)
    mapped = np.load(tmp_path / "a.npy", mmap_mode="r")
    from_bytes = np.frombuffer(b.tobytes(), np.float32).reshape(b.shape)
    assert not mapped.flags.writeable and not from_bytes.flags.writeable
    alias = arrays_module.as_input(mapped, "a")
    assert alias.ctypes.data == mapped.ctypes.data and not mapped.flags.writeable
    tp.clear_cache()
    assert_close(tp.matmul(a, b), matmul_ref(a, b), "float32", 11)  # the plain path's entry
    for x, y in [(mapped, b), (a, from_bytes), (mapped, from_bytes)]:
        assert_close(tp.matmul(x, y), matmul_ref(a, b), "float32", 11)
    kernel = tp.build("matmul", a.shape, b.shape)
    assert_close(kernel(mapped, from_bytes), matmul_ref(a, b), "float32", 11)
    with pytest.raises(ValueError, match="out is read-only"):
        kernel(a, b, out=_read_only(np.empty((7, 5), np.float32)))
    with pytest.raises(TypeError, match="masked array"):
        tp.matmul(np.ma.masked_array(a, mask=a > 0), b)
