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
from tvmprims.testing import assert_close, matmul_ref

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


def _run(code, env):
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


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
    _run(code.format(""), env)  # compiles; its exit waits for the background write
    assert len(_entries(cache)) == 1
    refuse = ("def refuse(*a, **k): raise AssertionError('compiled again')\n"
              "        build.compile_module = refuse")
    seconds = float(_run(code.format(refuse), env))
    print(f"first call in the second process: {seconds * 1e3:.1f} ms")


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
    _run(code, env)  # and the entry they left loads
