"""The on-disk kernel cache (tvmprims.kernel_cache): a later process loads what an earlier
one compiled; entries that are damaged or describe another kernel are rebuilt, never trusted;
the cache can be moved and turned off."""

import json
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import tvmprims as tp
from tvmprims import kernel_cache
from tvmprims.testing import (assert_close, conv2d_ref, convolve_ref, depthwise_conv2d_ref,
                              matmul_ref)

from new_process import run_python

SHAPES = ((33, 65), (65, 31))
build_module = sys.modules["tvmprims.build"]  # (tvmprims.build is also the build function)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A fresh cache directory, turned on, and empty in-memory caches."""
    directory = tmp_path / "kernels"
    monkeypatch.setenv(kernel_cache.ENV, str(directory))
    kernel_cache.flush()
    tp.clear_cache()
    yield directory
    kernel_cache.flush()
    tp.clear_cache()


def _entries(directory):
    return sorted(p.name for p in directory.glob("*.so")) if directory.exists() else []


def _no_compiles(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("compiled although the kernel cache holds the kernel")
    monkeypatch.setattr(build_module, "compile_module", refuse)


def test_a_second_process_loads_instead_of_compiling(cache, rng):
    env = {**os.environ, kernel_cache.ENV: str(cache)}
    code = f"""
        import sys, time, numpy as np, tvmprims
        build = sys.modules["tvmprims.build"]
        {{}}
        a = np.arange(33 * 65, dtype=np.float32).reshape(33, 65) / 100
        b = np.ones((65, 31), np.float32)
        start = time.perf_counter()
        out = tvmprims.matmul(a, b)
        print(time.perf_counter() - start)
        assert np.allclose(out, a.astype(np.float64) @ b, rtol=1e-5)
    """
    run_python(["-c", code.format("")], env)  # compiles; its exit waits for the background write
    assert len(_entries(cache)) == 1
    refuse = ("def refuse(*a, **k): raise AssertionError('compiled again')\n"
              "        build.compile_module = refuse")
    seconds = float(run_python(["-c", code.format(refuse)], env))
    print(f"first call in the second process: {seconds * 1e3:.1f} ms")


def test_a_kernel_exported_right_after_its_build(cache, tmp_path):
    """``build(...).export(path)`` in a new process: the cache's writer thread exports the
    new kernel at the same time, and TVM's ``export_library`` of one module on two threads at
    once crashed the process (a double free); two threads exporting one kernel likewise. Run
    in a child process, so that a crash fails this test rather than the test run."""
    env = {**os.environ, kernel_cache.ENV: str(cache)}
    library = tmp_path / "m.so"
    code = f"""
        import threading, numpy as np, tvmprims
        k = tvmprims.build("matmul", {SHAPES[0]}, {SHAPES[1]})
        k.export({str(library)!r})
        threads = [threading.Thread(target=k.export, args=({str(library)!r} + str(i),))
                   for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        loaded = tvmprims.load_kernel({str(library)!r})
        a, b = np.ones({SHAPES[0]}, np.float32), np.ones({SHAPES[1]}, np.float32)
        assert np.array_equal(loaded(a, b), np.full(({SHAPES[0][0]}, {SHAPES[1][1]}), 65.0))
        print("ok")
    """
    assert run_python(["-c", code], env).split() == ["ok"]


def test_entries_are_used_in_process_and_kernels_from_them_work(cache, rng, monkeypatch,
                                                                 tmp_path):
    a, b = (rng.standard_normal(s).astype(np.float32) for s in SHAPES)
    compiled = tp.build("matmul", *SHAPES)
    kernel_cache.flush()
    assert len(_entries(cache)) == 1
    tp.clear_cache()
    _no_compiles(monkeypatch)
    loaded = tp.build("matmul", *SHAPES)
    assert loaded.library_path and loaded.schedule == compiled.schedule
    assert_close(loaded(a, b), matmul_ref(a, b), "float32", 65)
    assert loaded.script() == compiled.script()
    monkeypatch.undo()
    assert "define" in loaded.source()  # compiled again from the kept TensorIR
    path = loaded.export(str(tmp_path / "copy.so"))  # a loaded library is copied, not rebuilt
    assert_close(tp.load_kernel(path)(a, b), matmul_ref(a, b), "float32", 65)


#: (operator, input shapes, parameters, reference) of kernels of every kind of schedule:
#: direct tiles, im2col's GEMM, Winograd with shuffled tile columns (a tile row of 8 tiles),
#: the FFT, depthwise, the few-rows GEMM (ragged N), np.convolve.
CACHED_KINDS = [
    ("conv2d", ((1, 8, 9, 11), (5, 8, 3, 3)), {"padding": 1}, conv2d_ref),
    ("conv2d_im2col", ((2, 6, 7, 9), (10, 6, 3, 3)), {"stride": 2}, conv2d_ref),
    ("conv2d_winograd", ((1, 4, 10, 34), (3, 4, 3, 3)), {"padding": 1, "tile": 4},
     lambda x, w, padding, tile: conv2d_ref(x, w, padding=padding)),
    ("conv2d_fft", ((1, 3, 12, 13), (4, 3, 5, 5)), {"padding": 2}, conv2d_ref),
    ("depthwise_conv2d", ((1, 7, 13, 10), (7, 1, 3, 3)), {"padding": 1},
     depthwise_conv2d_ref),
    ("matmul", ((1, 64), (64, 1000)), {}, matmul_ref),
    ("convolve", ((301,), (17,)), {"mode": "same"}, convolve_ref),
]


@pytest.mark.parametrize("op,shapes,params,reference", CACHED_KINDS,
                         ids=[kind[0] for kind in CACHED_KINDS])
def test_kernels_of_every_kind_load_from_the_cache(cache, rng, monkeypatch, op, shapes, params,
                                                     reference):
    """A kernel loaded from its cache entry (a library, no compile) computes what the one
    compiled in process did, and matches the float64 reference."""
    compiled = tp.build(op, *shapes, **params)
    kernel_cache.flush()
    tp.clear_cache()
    _no_compiles(monkeypatch)
    loaded = tp.build(op, *shapes, **params)
    assert loaded.library_path
    inputs = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    out = loaded(*inputs)
    assert np.array_equal(out, compiled(*inputs))
    assert_close(out, reference(*inputs, **params), "float32", 200)


def test_schedules_and_dtypes_are_separate_entries(cache):
    tp.build("matmul", *SHAPES, schedule="hand")
    tp.build("matmul", *SHAPES, schedule="none")
    tp.build("matmul", *SHAPES, dtype="float64")
    kernel_cache.flush()
    assert len(_entries(cache)) == 3


@pytest.mark.parametrize("damage", ["truncate", "flip", "sidecar-workload", "sidecar-json",
                                    "no-library"])
def test_damaged_entries_are_rebuilt(cache, rng, damage):
    a, b = (rng.standard_normal(s).astype(np.float32) for s in SHAPES)
    tp.build("matmul", *SHAPES)
    kernel_cache.flush()
    (library,) = cache.glob("*.so")
    sidecar = library.with_name(library.name + ".json")
    data = library.read_bytes()
    if damage == "truncate":
        library.write_bytes(data[:len(data) // 2])
    elif damage == "flip":
        library.write_bytes(data[:100] + bytes([data[100] ^ 0xFF]) + data[101:])
    elif damage == "sidecar-workload":
        meta = json.loads(sidecar.read_text())
        meta["workload"]["shapes"] = [[1, 1], [1, 1]]
        sidecar.write_text(json.dumps(meta))
    elif damage == "sidecar-json":
        sidecar.write_text("{not json")
    else:
        library.unlink()
    tp.clear_cache()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kernel = tp.build("matmul", *SHAPES)
    assert kernel.library_path is None  # compiled, not loaded
    if damage != "no-library":
        assert any("damaged kernel cache entry" in str(w.message) for w in caught)
    assert_close(kernel(a, b), matmul_ref(a, b), "float32", 65)
    kernel_cache.flush()  # the rebuilt kernel replaced the entry
    tp.clear_cache()
    assert tp.build("matmul", *SHAPES).library_path is not None


def test_off_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv(kernel_cache.ENV, "off")
    assert kernel_cache.cache_dir() is None
    tp.clear_cache()
    assert tp.build("matmul", (3, 5), (5, 2)).library_path is None
    kernel_cache.flush()
    assert not (tmp_path / "kernels").exists()


def test_an_unwritable_cache_warns_and_still_computes(tmp_path, monkeypatch, rng):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv(kernel_cache.ENV, str(blocker / "kernels"))
    tp.clear_cache()
    a, b = (rng.standard_normal(s).astype(np.float32) for s in ((4, 6), (6, 3)))
    with pytest.warns(RuntimeWarning, match="could not write the kernel cache"):
        out = tp.matmul(a, b)
        kernel_cache.flush()
    assert_close(out, matmul_ref(a, b), "float32", 6)
    tp.clear_cache()


def test_concurrent_processes_share_one_entry(cache):
    env = {**os.environ, kernel_cache.ENV: str(cache)}
    code = textwrap.dedent("""
        import numpy as np, tvmprims
        a = np.ones((33, 65), np.float32); b = np.ones((65, 31), np.float32)
        assert (tvmprims.matmul(a, b) == 65).all()
    """)
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-3000:]
    assert len(_entries(cache)) == 1
    assert not [p for p in cache.iterdir() if p.name.startswith(".")], "temporary files left"
    run_python(["-c", code], env)  # and the entry they left loads


# --- the request key: a later process finds its entry without building the schedule ---------

def _refuse(*args, **kwargs):
    raise AssertionError("built the schedule although the request was cached")


def test_a_cached_request_skips_the_schedule_and_the_tuned_record_lookup(cache, rng,
                                                                          monkeypatch):
    a, b = (rng.standard_normal(s).astype(np.float32) for s in SHAPES)
    compiled = tp.build("matmul", *SHAPES)
    kernel_cache.flush()
    assert len(list(cache.glob("*.req.json"))) == 1
    tp.clear_cache()
    for name in ("schedule_workload", "tuned_record", "hand_schedule", "compile_module"):
        monkeypatch.setattr(build_module, name, _refuse)
    loaded = tp.build("matmul", *SHAPES)
    assert loaded.library_path and loaded.schedule == compiled.schedule
    assert_close(loaded(a, b), matmul_ref(a, b), "float32", 65)
    monkeypatch.undo()
    assert loaded.script() == compiled.script()  # the TensorIR is made again on demand


@pytest.mark.parametrize("change", ["source", "logs"])
def test_a_changed_source_or_log_is_a_new_request(cache, monkeypatch, change):
    tp.build("matmul", *SHAPES)
    kernel_cache.flush()
    tp.clear_cache()
    if change == "source":
        monkeypatch.setattr(kernel_cache, "_source_digest", "another tvmprims")
    else:
        monkeypatch.setattr(build_module, "logs_fingerprint",
                            lambda target: (("/elsewhere/database_tuning_record.json", 1, 2),))
    scheduled = []
    original = build_module.schedule_workload
    monkeypatch.setattr(build_module, "schedule_workload",
                        lambda *a, **k: scheduled.append(1) or original(*a, **k))
    monkeypatch.setattr(build_module, "compile_module", _refuse)
    kernel = tp.build("matmul", *SHAPES)  # scheduled again, found by the module's hash
    assert scheduled and kernel.library_path
    kernel_cache.flush()
    assert len(list(cache.glob("*.req.json"))) == 2 and len(_entries(cache)) == 1


def test_hand_requests_ignore_the_logs(cache, monkeypatch):
    calls = []
    monkeypatch.setattr(build_module, "logs_fingerprint", lambda target: calls.append(1) or ())
    tp.build("matmul", *SHAPES, schedule="hand")
    assert not calls
    tp.build("matmul", *SHAPES, schedule="auto")
    assert calls


@pytest.mark.parametrize("damage", ["json", "entry-name", "missing-entry", "schedule"])
def test_a_damaged_request_file_falls_back(cache, rng, damage):
    a, b = (rng.standard_normal(s).astype(np.float32) for s in SHAPES)
    tp.build("matmul", *SHAPES)
    kernel_cache.flush()
    (request,) = cache.glob("*.req.json")
    meta = json.loads(request.read_text())
    if damage == "json":
        request.write_text("{oops")
    elif damage == "entry-name":
        request.write_text(json.dumps({**meta, "entry": "../../etc/passwd"}))
    elif damage == "missing-entry":
        for path in cache.glob("*.so*"):
            path.unlink()
    else:
        request.write_text(json.dumps({**meta, "schedule": "fastest"}))
    tp.clear_cache()
    assert_close(tp.build("matmul", *SHAPES)(a, b), matmul_ref(a, b), "float32", 65)


def test_tuned_without_a_record_still_warns_from_the_cache(cache):
    with pytest.warns(build_module.TunedRecordMissing):
        tp.build("matmul", (7, 5), (5, 3), schedule="tuned")
    kernel_cache.flush()
    tp.clear_cache()
    with pytest.warns(build_module.TunedRecordMissing):
        kernel = tp.build("matmul", (7, 5), (5, 3), schedule="tuned")
    assert kernel.library_path and kernel.schedule == "hand"


def test_second_process_with_a_shipped_record_loads_in_well_under_a_second(cache):
    """The shipped znver3 log covers this layer: the first process looks the record up and
    compiles; the second loads the library by its request key (no record lookup)."""
    env = {**os.environ, kernel_cache.ENV: str(cache)}
    code = """
        import sys, time, numpy as np, tvm, tvmprims
        build = sys.modules["tvmprims.build"]
        {}
        target = tvm.target.Target({{"kind": "llvm", "mcpu": "znver3", "num-cores": 2}})
        x = np.random.rand(1, 64, 56, 56).astype(np.float32)
        w = np.random.rand(64, 64, 3, 3).astype(np.float32)
        start = time.perf_counter()
        kernel = tvmprims.build("conv2d", x.shape, w.shape, padding=1, target=target)
        print(time.perf_counter() - start, kernel.schedule)
    """
    first = run_python(["-c", code.format("")], env).split()
    refuse = ("def refuse(*a, **k): raise AssertionError('looked up or compiled again')\n"
              "        build.tuned_record = build.compile_module = build.hand_schedule = refuse")
    second = run_python(["-c", code.format(refuse)], env).split()
    assert second[1] == first[1] == "tuned"
    print(f"first call: {float(first[0]):.3f} s in the first process, "
          f"{float(second[0]):.3f} s in the second")
