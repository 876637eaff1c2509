"""Shared fixtures: a per-test seeded RNG, CUDA detection (tests marked ``cuda`` are skipped
without a GPU), nvcc, isolated user caches, TVM's thread count.

Support modules beside the tests: ``cuda_support.py`` (inspection of generated CUDA source,
nvcc, the CPU emulator of CUDA kernels) and ``cpu_targets.py`` (explicit CPU targets).
"""

import functools
import shutil
import zlib

import numpy as np
import pytest


@functools.cache
def cuda_available():
    """True when TVM was built with CUDA and a GPU is present."""
    import tvmprims  # noqa: F401  (configures TVM's thread pool before tvm is first imported)
    import tvm
    return bool(tvm.runtime.enabled("cuda") and tvm.cuda(0).exist)


def pytest_report_header(config):
    return f"tvmprims: CUDA GPU {'present' if cuda_available() else 'absent'}"


@pytest.fixture(scope="session")
def has_cuda():
    return cuda_available()


@pytest.fixture
def nvcc_fatbin(monkeypatch):
    """``compile(kernel, strict=True)``: ``kernel``'s CUDA source compiled by nvcc to a fatbin
    (``cuda_support.compile_fatbin``; asserted non-empty, returned). ``strict`` makes ptxas
    warnings about register spills and local memory errors (``cuda_support.PTXAS_STRICT``);
    otherwise ``$TVM_CUDA_PTXAS_EXTRA_OPTS`` is left as it is. Skips the test, with the reason,
    when nvcc is not on PATH (before anything is built)."""
    if shutil.which("nvcc") is None:
        pytest.skip("nvcc not found on PATH: cannot compile the generated CUDA")
    from cuda_support import PTXAS_STRICT, compile_fatbin

    def compile_(kernel, strict=True):
        if strict:
            monkeypatch.setenv("TVM_CUDA_PTXAS_EXTRA_OPTS", PTXAS_STRICT)
        return compile_fatbin(kernel)
    return compile_


@pytest.fixture
def rng(request):
    """A numpy Generator seeded from the test's node id: reproducible and distinct per test."""
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


def pytest_collection_modifyitems(config, items):
    if cuda_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if item.get_closest_marker("cuda") is not None:
            item.add_marker(skip)


@pytest.fixture(autouse=True, scope="session")
def isolated_user_caches(tmp_path_factory):
    """Keep the user's own tuning logs, algorithm choices and peaks (~/.cache/tvmprims) out of the
    tests; the repository's shipped logs in tuning_logs/ still apply (on a host of their
    target; test_tuning.py checks them with that explicit target on any host). The on-disk
    kernel cache is off (every test compiles; tests/test_kernel_cache.py turns it on)."""
    import os
    cache = tmp_path_factory.mktemp("user_cache")
    values = {"TVMPRIMS_TUNING_DIR": str(cache / "tuning_logs"),
              "TVMPRIMS_ALGO_CACHE": str(cache / "algorithms.json"),
              "TVMPRIMS_PEAKS_CACHE": str(cache / "peaks.json"),
              "TVMPRIMS_SCHEDULE_CACHE": str(cache / "schedule_choices.json"),
              "TVMPRIMS_KERNEL_CACHE": "off"}
    old = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    yield
    for name, value in old.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture
def tvm_threads():
    """``set(n)``: run TVM's CPU kernels on ``n`` worker threads for the rest of the test
    (``runtime.config_threadpool``); the default pool size is restored afterwards."""
    import tvmprims  # noqa: F401  (sets TVM_NUM_THREADS before tvm is first imported)
    import os
    import tvm
    config = tvm.get_global_func("runtime.config_threadpool")
    yield lambda n: config(0, n)
    config(0, int(os.environ.get("TVM_NUM_THREADS", "0")))


@pytest.fixture
def choice_file(tmp_path, monkeypatch):
    """A fresh algorithm cache file, and no choices remembered in memory."""
    from tvmprims import algorithms
    path = tmp_path / "algorithms.json"
    monkeypatch.setenv("TVMPRIMS_ALGO_CACHE", str(path))
    algorithms.forget_choices()
    yield path
    algorithms.forget_choices()
