"""``Kernel`` objects: caching, calling with ``out=``, timing, inspection, export and reload.

Shapes match ``test_errors.py`` so that each kernel compiles once per session.
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tvm

import tvmprims as tp
from tvmprims.arrays import aligned_empty
from tvmprims.ops import conv2d as conv2d_op
from tvmprims.ops import convolve as convolve_op
from tvmprims.ops import depthwise_conv2d as depthwise_op
from tvmprims.ops import matmul as matmul_op
from tvmprims.testing import (assert_close, conv1d_ref, conv2d_ref, convolve_ref,
                              depthwise_conv2d_ref, matmul_ref)


# op -> (input shapes, build parameters, float64 reference on the inputs, reduction length)
OPS = {
    "matmul": (((5, 7), (7, 3)), {}, matmul_ref, 7),
    "convolve": (((9,), (4,)), {"mode": "full"}, lambda a, v: convolve_ref(a, v, "full"), 4),
    "conv2d": (((2, 4, 7, 6), (6, 2, 3, 3), (6,)), {"padding": 1, "groups": 2},
               lambda x, w, b: conv2d_ref(x, w, b, padding=1, groups=2), 18),
    "depthwise_conv2d": (((2, 4, 7, 6), (8, 1, 3, 3), (8,)), {"padding": 1},
                         lambda x, w, b: depthwise_conv2d_ref(x, w, b, padding=1), 9),
}
A, B = OPS["matmul"][0]
C = (5, 3)


def inputs(rng, shapes, dtype=np.float32):
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


def build(op, dtype="float32", schedule="hand"):
    shapes, params, _, _ = OPS[op]
    return tp.build(op, *shapes, dtype=dtype, schedule=schedule, **params)


@pytest.fixture
def matmul_kernel():
    return tp.build("matmul", A, B)


@pytest.fixture
def ab(rng):
    return inputs(rng, (A, B))


# --- the in-process cache ------------------------------------------------------------------

def test_second_build_is_a_cache_hit(matmul_kernel):
    before = tp.cache_info()
    again = tp.build("matmul", A, B)
    after = tp.cache_info()
    assert again is matmul_kernel
    assert after == {**before, "hits": before["hits"] + 1}


def test_second_api_call_is_a_cache_hit(ab):
    first = tp.matmul(*ab)
    before = tp.cache_info()
    second = tp.matmul(*ab)
    after = tp.cache_info()
    assert after == {**before, "hits": before["hits"] + 1}
    np.testing.assert_array_equal(first, second)
    assert first is not second


def test_equivalent_spellings_share_a_kernel():
    x, w, bias = OPS["conv2d"][0]
    k = tp.build("conv2d", x, w, bias, padding=1, groups=2, schedule="hand")
    for params in [dict(padding=(1, 1)), dict(padding=1, stride=(1, 1), dilation=1),
                   dict(padding=[1, 1], stride=1, dilation=(1, 1))]:
        assert tp.build("conv2d", list(x), w, bias, groups=2, schedule="hand", **params) is k
    k = tp.build("matmul", A, B)
    for target in [None, "llvm", "cpu", " LLVM ", "Cpu"]:
        assert tp.build("matmul", A, B, target=target) is k
    assert tp.build("matmul", np.array(A), (np.int64(7), 3), dtype="float32") is k


@pytest.mark.parametrize("variant", [
    dict(shapes=(A, B), dtype="float64"),
    dict(shapes=((5, 8), (8, 3))),
    dict(shapes=((7, 5), (5, 3))),
    dict(shapes=(A, B), schedule="none"),
], ids=["dtype", "shape-K", "shape-M-K", "schedule"])
def test_different_workloads_are_different_kernels(matmul_kernel, variant):
    variant = dict(variant)
    k = tp.build("matmul", *variant.pop("shapes"), **variant)
    assert k is not matmul_kernel
    assert (k.workload, k.schedule) != (matmul_kernel.workload, matmul_kernel.schedule)
    assert tp.build("matmul", *k.workload.shapes, dtype=k.workload.dtype,
                    schedule=variant.get("schedule", "auto")) is k


@pytest.mark.parametrize("op, params", [
    ("convolve", dict(mode="same")),
    ("conv2d", dict(padding=0, groups=2)),
    ("conv2d", dict(padding=1, groups=1)),
    ("conv2d", dict(padding=1, groups=2, stride=2)),
], ids=["convolve-mode", "conv2d-padding", "conv2d-groups", "conv2d-stride"])
def test_different_params_are_different_kernels(op, params):
    shapes, base_params, _, _ = OPS[op]
    if params.get("groups") == 1:
        shapes = (shapes[0], (6, 4, 3, 3), shapes[2])
    base = build(op, schedule="none")
    k = tp.build(op, *shapes, schedule="none", **params)
    assert k is not base
    assert k.workload != base.workload


# --- calling ------------------------------------------------------------------------------

def test_call_returns_new_array(matmul_kernel, ab):
    out = matmul_kernel(*ab)
    assert out.shape == C and out.dtype == np.float32 and out.flags.c_contiguous
    assert out.flags.aligned and matmul_kernel.alignment == 4
    assert_close(out, matmul_ref(*ab), "float32", 7)
    assert matmul_kernel(*ab) is not out


@pytest.mark.parametrize("offset", [0, 4, 16], ids=["aligned", "offset-4", "offset-16"])
def test_out_is_written_in_place(matmul_kernel, ab, offset):
    raw = aligned_empty((4 * 15 + 64,), np.uint8)
    out = raw[offset:offset + 4 * 15].view(np.float32).reshape(C)
    out[...] = np.nan
    result = matmul_kernel(*ab, out=out)
    assert result is out
    assert_close(out, matmul_ref(*ab), "float32", 7)


@pytest.mark.parametrize("n", [1, 17, 64, 100])
@pytest.mark.parametrize("which", ["a", "b", "both"])
def test_out_may_alias_an_input(rng, n, which):
    """``out`` overlapping an input gives numpy's result (``np.matmul(a, b, out=a)``); the
    kernel used to overwrite rows of ``a`` that later tiles still read (error 199 at n=64)."""
    a = rng.standard_normal((n, n)).astype(np.float32)
    b = a if which == "both" else rng.standard_normal((n, n)).astype(np.float32)
    expected = matmul_ref(a, b)
    kernel = tp.build("matmul", (n, n), (n, n))
    out = b if which == "b" else a
    assert kernel(a, b, out=out) is out
    assert_close(out, expected, "float32", n)


def test_out_may_alias_a_view_of_an_input(rng):
    """Overlap through a view (the output is the input's leading rows)."""
    x = rng.standard_normal((64, 64)).astype(np.float32)
    w = rng.standard_normal((64, 32)).astype(np.float32)
    expected = matmul_ref(x, w)
    buffer = aligned_empty((2 * 64 * 64,), np.float32)  # aligned: used in place, not copied
    buffer[:64 * 64] = x.ravel()
    x_view = buffer[:64 * 64].reshape(64, 64)
    out = buffer[64 * 16:64 * 16 + 64 * 32].reshape(64, 32)  # inside x's rows 16..48
    tp.build("matmul", (64, 64), (64, 32))(x_view, w, out=out)
    assert_close(out, expected, "float32", 64)


@pytest.mark.parametrize("out", [
    np.empty((3, 5), np.float32),
    np.empty((5, 3, 1), np.float32),
    np.empty(C, np.float64),
    np.empty(C, np.float32, order="F"),
    np.empty((5, 6), np.float32)[:, ::2],
    [[0.0] * 3] * 5,
], ids=["shape", "rank", "dtype", "fortran", "strided", "list"])
def test_bad_out_is_rejected(matmul_kernel, ab, out):
    with pytest.raises(ValueError, match=r"out must be a C-contiguous float32 array of shape "
                                         r"\(5, 3\)"):
        matmul_kernel(*ab, out=out)


def test_wrong_arrays_are_rejected(matmul_kernel, ab):
    a, b = ab
    with pytest.raises(ValueError, match=r"argument 1 has shape \(5, 7\) and dtype float32; "
                                         r"this kernel was built for \(7, 3\) float32"):
        matmul_kernel(a, a)
    with pytest.raises(ValueError, match=r"argument 0 has shape \(7, 3\)"):
        matmul_kernel(b, a)
    with pytest.raises(ValueError, match=r"argument 0 has shape \(5, 7\) and dtype float64"):
        matmul_kernel(a.astype(np.float64), b)
    with pytest.raises(ValueError, match=r"argument 1 has shape \(21,\)"):
        matmul_kernel(a, b.ravel())
    with pytest.raises(TypeError, match=r"argument 0 has dtype int32"):
        matmul_kernel(a.astype(np.int32), b)
    with pytest.raises(TypeError, match=r"matmul kernel takes 2 arrays, got 1"):
        matmul_kernel(a)
    with pytest.raises(TypeError, match=r"matmul kernel takes 2 arrays, got 3"):
        matmul_kernel(a, b, b)


def test_conv2d_kernel_with_bias_needs_the_bias(rng):
    k = build("conv2d")
    x, w, bias = inputs(rng, OPS["conv2d"][0])
    with pytest.raises(TypeError, match=r"conv2d kernel takes 3 arrays, got 2"):
        k(x, w)
    assert_close(k(x, w, bias), OPS["conv2d"][2](x, w, bias), "float32", 18)


def test_kernel_accepts_views(matmul_kernel, ab):
    a, b = ab
    out = matmul_kernel(np.asfortranarray(a), np.ascontiguousarray(b[::-1])[::-1])
    assert_close(out, matmul_ref(a, b), "float32", 7)


# --- timing and inspection ----------------------------------------------------------------

def test_time(matmul_kernel, ab):
    t = matmul_kernel.time(number=5, repeat=3)
    assert isinstance(t, tp.Timing)
    assert len(t.results) == 3 and all(r > 0 for r in t.results)
    assert t.seconds == min(t.results) > 0
    assert matmul_kernel.flops == 2 * 5 * 3 * 7
    assert t.gflops == pytest.approx(matmul_kernel.flops / t.seconds / 1e9, rel=1e-9)
    assert re.fullmatch(r"\d+\.\d{4} ms, \d+\.\d{2} GFLOP/s", str(t))
    t = matmul_kernel.time(*ab, number=2, repeat=1)
    assert len(t.results) == 1 and t.seconds > 0
    with pytest.raises(ValueError, match=r"argument 1 has shape \(5, 7\)"):
        matmul_kernel.time(ab[0], ab[0], number=1, repeat=1)


def test_flops_of_conv2d_counts_bias():
    k = build("conv2d")
    n, o, oh, ow = k.workload.output_shape
    assert (n, o, oh, ow) == (2, 6, 7, 6)
    assert k.flops == 2 * n * o * oh * ow * 2 * 3 * 3 + n * o * oh * ow


def test_script_is_tvmscript(matmul_kernel):
    script = matmul_kernel.script()
    assert "@T.prim_func" in script
    assert "def main(" in script
    assert 'T.Buffer((5, 7), "float32", align=4)' in script
    assert 'T.Buffer((5, 3), "float32", align=4)' in script


def test_script_of_each_op():
    for op in OPS:
        assert "@T.prim_func" in build(op).script()


def test_source_is_llvm_ir(matmul_kernel):
    source = str(matmul_kernel.source())
    assert "target triple" in source
    assert re.search(r"^define .*@", source, re.M)


def test_show_prints_the_script(matmul_kernel, capsys):
    matmul_kernel.show()
    assert capsys.readouterr().out.strip() == matmul_kernel.script().strip()


def test_repr(matmul_kernel):
    assert repr(matmul_kernel) == ("Kernel(matmul 5x7 * 7x3, float32, target=llvm, "
                                   "schedule='hand')")


# --- export and reload --------------------------------------------------------------------

@pytest.fixture(params=["matmul", "conv2d"])
def exported(request, tmp_path):
    """(kernel, path of its exported library)."""
    k = build(request.param)
    return k, k.export(tmp_path / f"{request.param}.so")


def test_export_writes_library_and_sidecar(exported):
    k, path = exported
    assert isinstance(path, str) and os.path.isfile(path)
    with open(path + ".json") as f:
        meta = json.load(f)
    assert meta["workload"] == k.workload.to_json()
    assert meta["schedule"] == k.schedule
    assert tvm.target.Target(json.loads(meta["target"])).kind.name == "llvm"
    assert meta["size"] == os.path.getsize(path)
    with open(path, "rb") as f:
        assert meta["sha256"] == hashlib.sha256(f.read()).hexdigest()


def test_kernels_pickle_as_their_library_and_copy_as_themselves(exported, rng):
    """A compiled kernel and a loaded one pickle (their library travels, checked on load as
    load_kernel checks it) and compute exactly what they did; copies are the kernel itself
    (kernels never change). TVM raised "llvm is not binary serializable" for both."""
    import copy
    import pickle
    k, path = exported
    arrays = inputs(rng, k.workload.shapes)
    expected = k(*arrays)
    for kernel in (k, tp.load_kernel(path)):
        twin = pickle.loads(pickle.dumps(kernel))
        assert twin.workload == k.workload and twin.schedule == k.schedule
        np.testing.assert_array_equal(twin(*arrays), expected)
        np.testing.assert_array_equal(pickle.loads(pickle.dumps(twin))(*arrays), expected)
        assert copy.copy(kernel) is kernel and copy.deepcopy(kernel) is kernel


def test_load_kernel_gives_identical_results(exported, rng):
    k, path = exported
    loaded = tp.load_kernel(path)
    assert loaded is not k
    assert loaded.workload == k.workload and loaded.schedule == k.schedule
    assert loaded.target.kind.name == "llvm" and loaded.flops == k.flops
    arrays = inputs(rng, k.workload.shapes)
    expected = k(*arrays)
    np.testing.assert_array_equal(loaded(*arrays), expected)
    out = np.empty_like(expected)
    assert loaded(*arrays, out=out) is out
    np.testing.assert_array_equal(out, expected)
    assert loaded.time(number=2, repeat=1).seconds > 0
    with pytest.raises(RuntimeError, match=r"loaded from a library"):
        loaded.script()


def test_load_kernel_accepts_pathlib(exported, tmp_path):
    k, path = exported
    assert tp.load_kernel(tmp_path / os.path.basename(path)).workload == k.workload


def test_plain_tvm_load_module(exported, rng):
    k, path = exported
    func = tvm.runtime.load_module(path)["main"]
    arrays = []
    for a in inputs(rng, k.workload.shapes):
        aligned = aligned_empty(a.shape, a.dtype)
        aligned[...] = a
        arrays.append(aligned)
    out = aligned_empty(k.workload.output_shape, np.float32)
    func(*arrays, out)
    np.testing.assert_array_equal(out, k(*arrays))
    # TVM tensors work too.
    dev_out = tvm.runtime.empty(k.workload.output_shape, "float32", tvm.cpu(0))
    func(*[tvm.runtime.tensor(a) for a in arrays], dev_out)
    np.testing.assert_array_equal(dev_out.numpy(), out)


@pytest.fixture
def matmul_library(matmul_kernel, tmp_path):
    return matmul_kernel.export(tmp_path / "m.so")


def test_missing_sidecar(matmul_library):
    os.remove(matmul_library + ".json")
    with pytest.raises(FileNotFoundError,
                       match=re.escape(matmul_library + ".json") + " is missing"):
        tp.load_kernel(matmul_library)


@pytest.mark.parametrize("text", [
    "{not json",
    "",
    "[]",
    '{"workload": {"op": "matmul"}}',
    '{"workload": {"op": "matmul", "shapes": [[5, 7], [7, 3]], "dtype": "float32", '
    '"params": {}}}',
    '{"workload": {"op": "matmul", "shapes": [[5, 7], [7, 3]], "dtype": "float32", '
    '"params": {}}, "target": "not a target"}',
], ids=["syntax", "empty", "list", "partial-workload", "no-target", "bad-target"])
def test_corrupt_sidecar(matmul_library, text):
    with open(matmul_library + ".json", "w") as f:
        f.write(text)
    with pytest.raises(ValueError, match=re.escape(matmul_library + ".json") +
                       " is not a valid tvmprims kernel description"):
        tp.load_kernel(matmul_library)


def test_sidecar_with_unknown_op(matmul_library):
    with open(matmul_library + ".json") as f:
        meta = json.load(f)
    meta["workload"]["op"] = "softmax"
    with open(matmul_library + ".json", "w") as f:
        json.dump(meta, f)
    with pytest.raises(ValueError, match=re.escape(matmul_library + ".json")):
        tp.load_kernel(matmul_library)


def test_missing_library_with_sidecar(matmul_library):
    os.remove(matmul_library)
    with pytest.raises((OSError, ValueError), match=re.escape(matmul_library)):
        tp.load_kernel(matmul_library)


def test_corrupt_library(matmul_library):
    with open(matmul_library, "wb") as f:
        f.write(b"not an ELF file")
    with pytest.raises((OSError, ValueError, RuntimeError), match=re.escape(matmul_library)):
        tp.load_kernel(matmul_library)


def test_truncated_library_is_refused_not_a_crash(matmul_library):
    """Mapping a truncated library killed the process with SIGBUS: the check runs in a
    subprocess so that a regression fails this test instead of the whole session."""
    with open(matmul_library, "rb") as f:
        data = f.read()
    with open(matmul_library, "wb") as f:
        f.write(data[:len(data) // 2])
    code = ("import sys, tvmprims\n"
            "try:\n    tvmprims.load_kernel(sys.argv[1])\n"
            "except tvmprims.LibraryMismatchError as e:\n    print(e); sys.exit(3)\n")
    done = subprocess.run([sys.executable, "-c", code, matmul_library], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 3, done.stderr[-2000:]
    assert f"{matmul_library} is {len(data) // 2} bytes" in done.stdout
    assert f"records {len(data)}" in done.stdout and "truncated" in done.stdout


def test_damaged_library_of_the_same_size_is_refused(matmul_library):
    with open(matmul_library, "r+b") as f:
        f.seek(os.path.getsize(matmul_library) // 2)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(tp.LibraryMismatchError,
                       match=re.escape(matmul_library) + " has SHA-256 .* damaged or was replaced"):
        tp.load_kernel(matmul_library)


def test_swapped_library_is_refused(matmul_kernel, tmp_path):
    """Another kernel with the same signature would run silently with the wrong semantics."""
    mine = matmul_kernel.export(tmp_path / "mine.so")
    other = tp.build("matmul", A, B, schedule="none").export(tmp_path / "other.so")
    shutil.copyfile(other, mine)
    with pytest.raises(ValueError, match=re.escape(mine) + ".*was replaced"):
        tp.load_kernel(mine)


def test_sidecar_without_checksum_is_refused(matmul_library):
    with open(matmul_library + ".json") as f:
        meta = json.load(f)
    for field in ("size", "sha256"):
        broken = {k: v for k, v in meta.items() if k != field}
        with open(matmul_library + ".json", "w") as f:
            json.dump(broken, f)
        with pytest.raises(tp.LibraryMismatchError, match="records no size and sha256"):
            tp.load_kernel(matmul_library)


@pytest.fixture
def deployed(tmp_path):
    """A directory written by tvmprims.export with one small kernel."""
    manifest = tmp_path / "kernels.json"
    manifest.write_text(json.dumps({"kernels": [
        {"name": "gemm", "op": "matmul", "shapes": [list(A), list(B)]}]}))
    out = tmp_path / "lib"
    tp.export(manifest, out, report=lambda m: None)
    return out


def _set_library(directory, library):
    path = directory / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["kernels"][0]["library"] = library
    path.write_text(json.dumps(manifest))


def test_manifest_loads_inside_its_directory(deployed, rng):
    a, b = inputs(rng, (A, B))
    assert_close(tp.load(deployed)["gemm"](a, b), matmul_ref(a, b), "float32", 7)
    _set_library(deployed, "./gemm.so")
    assert tp.load(deployed)["gemm"].workload.shapes == (A, B)


@pytest.mark.parametrize("library", ["../outside.so", "sub/../../outside.so", "ABSOLUTE", "",
                                     None, 3], ids=["dotdot", "nested-dotdot", "absolute",
                                                    "empty", "null", "number"])
def test_manifest_cannot_load_outside_its_directory(deployed, library):
    outside = deployed.parent / "outside.so"
    shutil.copyfile(deployed / "gemm.so", outside)
    shutil.copyfile(deployed / "gemm.so.json", f"{outside}.json")
    _set_library(deployed, str(outside) if library == "ABSOLUTE" else library)
    with pytest.raises(ValueError, match=re.escape(str(deployed / "manifest.json")) +
                       ": library .* must be a file name|is outside"):
        tp.load(deployed)


@pytest.mark.parametrize("link", ["library", "sidecar"])
def test_manifest_symlink_out_of_its_directory_is_refused(deployed, link):
    outside = deployed.parent / "outside.so"
    shutil.copyfile(deployed / "gemm.so", outside)
    shutil.copyfile(deployed / "gemm.so.json", f"{outside}.json")
    name = "gemm.so" if link == "library" else "gemm.so.json"
    os.remove(deployed / name)
    os.symlink(outside if link == "library" else f"{outside}.json", deployed / name)
    with pytest.raises(ValueError, match="is outside .* is a symlink to"):
        tp.load(deployed)


def test_source_of_loaded_kernel(matmul_library):
    loaded = tp.load_kernel(matmul_library)
    try:
        source = loaded.source()
    except RuntimeError as e:
        assert "library" in str(e)
    else:
        assert "define" in str(source)


# --- schedules and dtypes -----------------------------------------------------------------

@pytest.mark.parametrize("op", list(OPS))
def test_hand_and_none_schedules_agree(op, rng):
    shapes, _, ref, reduction = OPS[op]
    arrays = inputs(rng, shapes)
    hand, none = build(op, schedule="hand")(*arrays), build(op, schedule="none")(*arrays)
    expected = ref(*arrays)
    assert_close(hand, expected, "float32", reduction)
    assert_close(none, expected, "float32", reduction)
    assert_close(hand, none.astype(np.float64), "float32", reduction)


@pytest.mark.parametrize("schedule", ["hand", "none"])
@pytest.mark.parametrize("op", list(OPS))
def test_float64(op, schedule, rng):
    shapes, _, ref, reduction = OPS[op]
    arrays = inputs(rng, shapes, np.float64)
    k = build(op, dtype="float64", schedule=schedule)
    out = k(*arrays)
    assert out.dtype == np.float64
    assert_close(out, ref(*arrays), "float64", reduction)


def test_float64_through_the_api(rng):
    x, w, bias = inputs(rng, ((2, 4, 9), (6, 2, 3), (6,)), np.float64)
    out = tp.conv1d(x, w, bias, padding=1, groups=2, algo="direct", schedule="hand")
    assert out.dtype == np.float64
    assert_close(out, conv1d_ref(x, w, bias, padding=1, groups=2), "float64", 6)
    a, b = inputs(rng, (A, B), np.float64)
    assert_close(tp.matmul(a, b), matmul_ref(a, b), "float64", 7)


# --- workloads ----------------------------------------------------------------------------

@pytest.mark.parametrize("workload", [
    matmul_op.workload((5, 7), (7, 3), "float32"),
    convolve_op.workload((9,), (4,), "float64", mode="same"),
    conv2d_op.workload((2, 4, 7, 6), (6, 2, 3, 3), (6,), "float32", stride=(2, 1),
                       padding=(1, 2), dilation=(1, 2), groups=2),
    conv2d_op.workload((1, 3, 8, 8), (4, 3, 2, 2), None, "float32", padding="same"),
    depthwise_op.workload((2, 4, 7, 6), (8, 1, 3, 3), (8,), "float32", padding=1),
], ids=["matmul", "convolve", "conv2d", "conv2d-same", "depthwise"])
def test_workload_json_round_trip(workload):
    data = json.loads(json.dumps(workload.to_json()))
    again = tp.Workload.from_json(data)
    assert again == workload and hash(again) == hash(workload)
    assert again.describe() == workload.describe()
    assert again.output_shape == workload.output_shape
    for key, value in workload.params:
        assert again[key] == value and type(again[key]) is type(value)


def test_workload_unknown_param():
    wl = matmul_op.workload((5, 7), (7, 3), "float32")
    with pytest.raises(KeyError, match="no parameter 'stride'"):
        wl["stride"]


# Last: empties the cache that the tests above share.
def test_clear_cache(matmul_kernel):
    tp.clear_cache()
    assert tp.cache_info() == {"kernels": 0, "hits": 0, "misses": 0}
    k = tp.build("matmul", A, B)
    assert k is not matmul_kernel
    assert tp.cache_info() == {"kernels": 1, "hits": 0, "misses": 1}
