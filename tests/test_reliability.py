"""Caches under concurrency and damage: one compile per kernel under threads, algorithm and
peaks caches that concurrent processes share, that cannot be written, or hold bad entries;
forked children of a process that ran kernels."""

import json
import multiprocessing
import textwrap
import threading
import warnings
from dataclasses import replace

import numpy as np
import pytest

import tvmprims as tp
from tvmprims import algorithms
from tvmprims.build import build_workload
from tvmprims.json_store import JsonStore
from tvmprims.kernel import Kernel, Timing
from tvmprims.roofline import peaks as peaks_mod
from tvmprims.roofline.peaks import Peaks, machine_peaks
from tvmprims.roofline.points import kernel_roofline
from tvmprims.target import resolve_target, target_key
from tvmprims.testing import assert_close, conv2d_ref

from new_process import run_python


@pytest.fixture
def searches(monkeypatch):
    """Count algorithm searches, each limited to direct and im2col and timed as equal (fast:
    the kernels are compiled and checked, not timed)."""
    calls = []
    real = algorithms.find_algorithms
    monkeypatch.setattr(Kernel, "time", lambda self, *a, **k: Timing(1e-3, 1.0, (1e-3,)))

    def find(*args, **kwargs):
        calls.append(args)
        return real(*args, algorithms=("direct", "im2col"), **kwargs)
    monkeypatch.setattr(algorithms, "find_algorithms", find)
    return calls


# --- the kernel cache under threads ------------------------------------------------------------

def test_threads_asking_for_one_new_kernel_compile_it_once():
    wl = tp.api.build_workload_from_shapes("matmul", ((29, 13), (13, 31)))  # used nowhere else
    barrier = threading.Barrier(8)
    kernels, errors = [], []

    def worker():
        try:
            barrier.wait()
            kernels.append(build_workload(wl, None, "none"))
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append(e)
    before = tp.cache_info()
    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    after = tp.cache_info()
    assert not errors
    assert len(kernels) == 8 and all(k is kernels[0] for k in kernels)
    assert after["misses"] - before["misses"] == 1
    assert after["hits"] - before["hits"] == 7
    assert after["kernels"] - before["kernels"] == 1


def test_a_target_name_and_its_target_share_a_kernel():
    wl = tp.api.build_workload_from_shapes("matmul", ((3, 17), (17, 5)))
    k = build_workload(wl, resolve_target("llvm"), "none")
    before = tp.cache_info()
    assert build_workload(wl, None, "none") is k
    assert build_workload(wl, "cpu", "none") is k
    assert tp.cache_info()["misses"] == before["misses"]


def test_search_compiles_each_algorithm_once(rng, choice_file, searches):
    x = rng.standard_normal((1, 3, 11, 9)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    before = tp.cache_info()
    out = tp.conv2d(x, w, padding=1, algo="search")
    assert_close(out, conv2d_ref(x, w, padding=1), "float32", 27 * 100)
    assert len(searches) == 1
    # direct and im2col, each compiled once: the chosen one is not compiled again for the call
    assert tp.cache_info()["misses"] - before["misses"] == 2


# --- the algorithm cache shared by processes ---------------------------------------------------

def _write_choice(index, barrier):
    algorithms.forget_choices()
    store = algorithms._choices()
    store.entries()  # every process has read the file before any writes
    barrier.wait(timeout=60)
    for repeat in range(5):
        store.put(f"layer {index}", {"algo": "direct", "repeat": repeat})


def test_processes_writing_one_cache_keep_every_entry(choice_file):
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(4)
    processes = [context.Process(target=_write_choice, args=(i, barrier)) for i in range(4)]
    for p in processes:
        p.start()
    for p in processes:
        p.join(timeout=60)
    assert [p.exitcode for p in processes] == [0] * 4
    entries = json.loads(choice_file.read_text())
    assert sorted(entries) == [f"layer {i}" for i in range(4)]
    assert all(e["repeat"] == 4 for e in entries.values())
    assert not list(choice_file.parent.glob("*.tmp"))


def test_a_store_keeps_entries_written_by_another_store(tmp_path):
    path = tmp_path / "cache.json"
    first, second = JsonStore(path, "test cache"), JsonStore(path, "test cache")
    assert first.get("a") is None and second.get("b") is None  # both read the empty file
    first.put("a", 1)
    second.put("b", 2)
    assert json.loads(path.read_text()) == {"a": 1, "b": 2}
    assert second.get("a") == 1  # merged in on its put


# --- forked children ---------------------------------------------------------------------------
# Each test forks inside a new interpreter, killed after a timeout: a regression fails the test
# instead of hanging the session.

_FORKED_POOL = """
    import multiprocessing, os, numpy as np, tvmprims
    from tvmprims.testing import assert_close, conv2d_ref, matmul_ref
    rng = np.random.default_rng(0)
    a, b = rng.random((300, 200), np.float32), rng.random((200, 251), np.float32)
    x, w = rng.random((2, 16, 20, 20), np.float32), rng.random((32, 16, 3, 3), np.float32)
    parent = tvmprims.matmul(a, b), tvmprims.conv2d(x, w, padding=1)  # TVM's pool started
    parent_threads = os.environ["TVM_NUM_THREADS"]

    def child(seed):
        rows = 17 + seed  # a shape the parent never compiled
        return (os.environ["TVM_NUM_THREADS"], tvmprims.matmul(a, b),
                tvmprims.conv2d(x, w, padding=1), tvmprims.matmul(a[:rows], b[:, :rows]))

    if __name__ == "__main__":
        with multiprocessing.get_context("fork").Pool(2) as pool:
            results = pool.map(child, range(4))
        for seed, (threads, product, conv, small) in enumerate(results):
            assert threads == "1", threads
            assert np.array_equal(product, parent[0]) and np.array_equal(conv, parent[1])
            assert_close(product, matmul_ref(a, b), "float32", 200)
            assert_close(conv, conv2d_ref(x, w, padding=1), "float32", 16 * 9)
            rows = 17 + seed
            assert_close(small, matmul_ref(a[:rows], b[:, :rows]), "float32", 200)
        assert os.environ["TVM_NUM_THREADS"] == parent_threads  # the parent's own is left as it was
        print("ok")
"""


def test_forked_children_run_kernels_after_the_parent_ran_them(tmp_path):
    """TVM's thread pool does not survive a fork: a child of a process whose thread pool had
    started waited forever on its first parallel kernel (multiprocessing's default start
    method on Linux). Children run the parent's kernels, compile new ones, on one thread."""
    script = tmp_path / "forked_pool.py"  # Pool workers find child() in a real module
    script.write_text(textwrap.dedent(_FORKED_POOL))
    assert run_python([str(script)], timeout=240).strip() == "ok"


def test_a_lock_held_at_the_fork_is_free_in_the_child(tmp_path):
    """A lock another thread holds at the fork (here the export lock, which the kernel cache's
    writer holds for the 0.1-0.7 s of every export) would stay held in the child forever:
    the child's exports, and its exit (which waits for its cache writes), hung."""
    run_python(["-c", """
        import multiprocessing, threading, numpy as np, tvmprims
        from tvmprims import kernel
        from tvmprims.testing import assert_close, matmul_ref

        def child(path):
            k = tvmprims.build("matmul", (5, 7), (7, 3))  # compiled, then cached, in the child
            k.export(path)
            a, b = np.ones((5, 7), np.float32), np.ones((7, 3), np.float32)
            loaded = tvmprims.load_kernel(path).run_checked([a, b])
            assert_close(loaded, matmul_ref(a, b), "float32", 7)

        held, release = threading.Event(), threading.Event()
        def holder():
            with kernel._EXPORT_LOCK:
                held.set()
                release.wait()
        threading.Thread(target=holder).start()
        held.wait()
        p = multiprocessing.get_context("fork").Process(target=child, args=(%r,))
        p.start()
        p.join(120)
        release.set()
        assert p.exitcode == 0, p.exitcode
    """ % str(tmp_path / "k.so")], {"TVMPRIMS_KERNEL_CACHE": str(tmp_path / "kernels")},
               timeout=240)
    assert list((tmp_path / "kernels").glob("*.so")), "the child's cache writer wrote nothing"


# --- a cache that cannot be written ------------------------------------------------------------

def test_unwritable_algorithm_cache_warns_once_and_remembers_in_memory(rng, tmp_path,
                                                                       monkeypatch, searches):
    blocker = tmp_path / "not_a_directory"
    blocker.write_text("")
    monkeypatch.setenv("TVMPRIMS_ALGO_CACHE", str(blocker / "algorithms.json"))
    algorithms.forget_choices()
    try:
        x = rng.standard_normal((1, 2, 6, 6)).astype(np.float32)
        w = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
        with pytest.warns(UserWarning, match="cannot write algorithm cache .*not_a_directory"):
            out = tp.conv2d(x, w, algo="search")
        assert_close(out, conv2d_ref(x, w), "float32", 18 * 100)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert_close(tp.conv2d(x, w, algo="search"), out, "float32", 1)
            x2 = rng.standard_normal((1, 2, 7, 6)).astype(np.float32)
            tp.conv2d(x2, w, algo="search")  # another layer: searched, not warned about again
        assert len(searches) == 2
    finally:
        algorithms.forget_choices()


def test_unwritable_peaks_cache_is_a_warning(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("TVMPRIMS_PEAKS_CACHE", str(blocker / "peaks.json"))
    here = _fake_peaks()
    monkeypatch.setattr(peaks_mod, "measure_peaks", lambda *a, **k: here)
    with pytest.warns(UserWarning, match="cannot write peaks cache"):
        assert machine_peaks(quick=True) == here


# --- damaged entries in valid JSON --------------------------------------------------------------

def _layer_key(choice_file, rng, x_shape, w_shape, padding=0):
    """Run conv2d search once on the layer; return its cache key and the arrays."""
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal(w_shape).astype(np.float32)
    tp.conv2d(x, w, padding=padding, algo="search")
    (key,) = json.loads(choice_file.read_text())
    algorithms.forget_choices()
    return key, x, w


@pytest.mark.parametrize("entry, reason", [
    ({"algo": ["direct"]}, "'algo' is \\['direct'\\]"),
    ({"algo": "gemm"}, "'algo' is 'gemm'"),
    ({"algo": {"x": 1}}, "'algo' is"),
    ({}, "'algo' is None"),
    ("direct", "expected an object"),
    (["direct"], "expected an object"),
], ids=["list", "unknown", "dict", "missing", "string", "list-entry"])
def test_invalid_algorithm_entry_is_searched_again_and_replaced(rng, choice_file, searches,
                                                                entry, reason):
    key, x, w = _layer_key(choice_file, rng, (1, 2, 6, 5), (2, 2, 3, 3))
    choice_file.write_text(json.dumps({key: entry}))
    with pytest.warns(UserWarning, match=f"ignoring invalid entry of algorithm cache .*{reason}"):
        out = tp.conv2d(x, w, algo="search")
    assert_close(out, conv2d_ref(x, w), "float32", 18 * 100)
    assert len(searches) == 2
    assert json.loads(choice_file.read_text())[key]["algo"] in ("direct", "im2col")
    algorithms.forget_choices()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tp.conv2d(x, w, algo="search")  # the replaced entry is used as is
    assert len(searches) == 2


def test_inapplicable_algorithm_entry_is_searched_again_and_replaced(rng, choice_file, searches):
    key, x, w = _layer_key(choice_file, rng, (1, 2, 9, 9), (2, 2, 5, 5), padding=2)
    choice_file.write_text(json.dumps({key: {"algo": "winograd2"}}))  # needs a 3x3 kernel
    with pytest.warns(UserWarning, match="choice 'winograd2' .*3x3"):
        out = tp.conv2d(x, w, padding=2, algo="search")
    assert_close(out, conv2d_ref(x, w, padding=2), "float32", 50 * 100)
    assert len(searches) == 2
    assert json.loads(choice_file.read_text())[key]["algo"] in ("direct", "im2col")


def _fake_peaks(**changes):
    return replace(Peaks(target_key(resolve_target("llvm")), "test CPU", "float32", 1, 100.0,
                         100.0, ((64 << 10, 400.0, 400.0), (64 << 20, 20.0, 20.0)), True),
                   **changes)


@pytest.mark.parametrize("changes, reason", [
    (dict(gflops=0.0), "gflops is 0.0"),
    (dict(gflops=-1.0), "gflops is -1.0"),
    (dict(gflops="fast"), "gflops is 'fast'"),
    (dict(gflops_core=0), "gflops_core is 0"),
    (dict(cores=0), "cores is 0"),
    (dict(bandwidth=[]), "sweep is empty"),
    (dict(bandwidth=[[1024, 10.0]]), "not \\(bytes"),
    (dict(bandwidth=[[1024, 10.0, 0.0]]), "all-core bandwidth is 0.0"),
    (dict(bandwidth=[[2048, 1.0, 1.0], [1024, 1.0, 1.0]]), "not increasing"),
    (dict(bandwidth=5), "not iterable"),
    (dict(target="llvm-other-1c"), "another key"),
], ids=["zero", "negative", "string", "core-zero", "cores", "empty-sweep", "short-row",
        "zero-bandwidth", "unsorted", "not-a-list", "wrong-target"])
def test_invalid_peaks_entry_is_measured_again_and_replaced(tmp_path, monkeypatch, changes,
                                                            reason):
    path = tmp_path / "peaks.json"
    monkeypatch.setenv("TVMPRIMS_PEAKS_CACHE", str(path))
    good = _fake_peaks()
    calls = []
    monkeypatch.setattr(peaks_mod, "measure_peaks", lambda *a, **k: calls.append(a) or good)
    peaks_mod.remember_peaks(good)
    (key,) = json.loads(path.read_text())
    bad = {**good.to_json(), **changes}
    path.write_text(json.dumps({key: bad}))
    with pytest.warns(UserWarning, match=f"ignoring invalid entry of peaks cache .*{reason}"):
        assert machine_peaks(quick=True) == good
    assert len(calls) == 1
    assert json.loads(path.read_text())[key]["gflops"] == 100.0


def test_kernel_roofline_with_a_damaged_peaks_cache(tmp_path, monkeypatch):
    path = tmp_path / "peaks.json"
    monkeypatch.setenv("TVMPRIMS_PEAKS_CACHE", str(path))
    full = _fake_peaks(quick=False, gflops=1e6, gflops_core=1e6)
    monkeypatch.setattr(peaks_mod, "measure_peaks", lambda *a, **k: full)
    peaks_mod.remember_peaks(full)
    (key,) = json.loads(path.read_text())
    path.write_text(json.dumps({key: {**full.to_json(), "bandwidth": [], "gflops": 0}}))
    kernel = tp.build("matmul", (16, 16), (16, 16))
    timing = kernel.time(repeat=1, min_repeat_ms=1)
    with pytest.warns(UserWarning, match="ignoring invalid entry of peaks cache"):
        point = kernel_roofline(kernel, timing)
    assert point.roof_gflops > 0
