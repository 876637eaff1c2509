"""Shared fixtures: a per-test seeded RNG and CUDA detection."""

import functools
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
def isolated_user_tuning_logs(tmp_path_factory):
    """Keep the user's own tuning logs (~/.cache/tvmprims) out of the tests; the repository's
    shipped logs in tuning_logs/ still apply, so tuned kernels are tested too."""
    import os
    old = os.environ.get("TVMPRIMS_TUNING_DIR")
    os.environ["TVMPRIMS_TUNING_DIR"] = str(tmp_path_factory.mktemp("user_tuning_logs"))
    yield
    if old is None:
        os.environ.pop("TVMPRIMS_TUNING_DIR", None)
    else:
        os.environ["TVMPRIMS_TUNING_DIR"] = old
