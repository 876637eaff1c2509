"""The notebooks parse, every ``tvmprims`` name they use exists, and each one runs top to
bottom in quick mode (``TVMPRIMS_QUICK=1``) on a Jupyter kernel of this very Python, so a
notebook that breaks fails the suite."""

import ast
import importlib
import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

#: What executing the notebooks needs; the ``dev`` extra installs it (checked below).
EXECUTION_PACKAGES = ("ipykernel", "nbclient", "nbformat")

#: Seconds one cell may run in quick mode before the test fails (the slowest, the quick precision
#: study, took about a minute on 2 busy cores).
CELL_TIMEOUT = 300

#: The per-user caches that conftest's ``isolated_user_caches`` moves into a temporary directory.
CACHE_VARIABLES = ("TVMPRIMS_TUNING_DIR", "TVMPRIMS_ALGO_CACHE", "TVMPRIMS_PEAKS_CACHE")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_code_is_valid(path):
    cells = json.loads(path.read_text())["cells"]
    code = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    assert code, "a notebook without code"
    modules = {"tvmprims": importlib.import_module("tvmprims")}
    for source in code:
        tree = ast.parse(source)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module.startswith("tvmprims"):
                module = importlib.import_module(node.module)
                for alias in node.names:
                    assert hasattr(module, alias.name) or importlib.util.find_spec(
                        f"{node.module}.{alias.name}"), f"{node.module}.{alias.name}"
                    modules[alias.asname or alias.name] = getattr(
                        module, alias.name, None) or importlib.import_module(
                        f"{node.module}.{alias.name}")
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in modules and modules[node.value.id] is not None
                    and hasattr(modules[node.value.id], "__name__")
                    and modules[node.value.id].__name__.startswith("tvmprims")):
                assert hasattr(modules[node.value.id], node.attr), \
                    f"{path.name}: {node.value.id}.{node.attr} does not exist"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path):
    cells = json.loads(path.read_text())["cells"]
    for cell in cells:
        if cell["cell_type"] == "code":
            assert not cell["outputs"] and cell["execution_count"] is None, \
                f"{path.name}: clear the outputs before committing"


def _extra(name):
    tomllib = pytest.importorskip("tomllib", reason="tomllib is Python 3.11+")
    with open(ROOT / "pyproject.toml", "rb") as f:
        extras = tomllib.load(f)["project"]["optional-dependencies"]
    return {req.split(">")[0].split("=")[0].split("[")[0].strip().lower() for req in extras[name]}


def test_dev_extra_installs_what_executing_notebooks_needs():
    """CI installs ``.[dev]``: the notebook test below may only skip where that was not done."""
    assert set(EXECUTION_PACKAGES) <= _extra("dev")
    assert set(EXECUTION_PACKAGES) | {"jupyterlab"} <= _extra("notebooks")


@pytest.fixture(scope="module")
def kernel_manager(tmp_path_factory):
    """A factory of kernel managers for a kernel spec pointing at ``sys.executable``, written to
    a temporary directory: no user-level Jupyter install or kernel is involved."""
    missing = [name for name in EXECUTION_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed: pip install -e '.[dev]' (or "
                    f"'.[notebooks]') to execute the notebooks")
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpecManager
    kernels = tmp_path_factory.mktemp("kernels")
    (kernels / "tvmprims-test").mkdir()
    (kernels / "tvmprims-test" / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "tvmprims tests", "language": "python"}))
    specs = KernelSpecManager(kernel_dirs=[str(kernels)])
    return lambda: KernelManager(kernel_name="tvmprims-test", kernel_spec_manager=specs)


def _environment_check(env):
    """A first cell checking that the kernel runs this Python with the test's environment (quick
    mode, the isolated caches)."""
    expected = {name: env[name] for name in ("TVMPRIMS_QUICK",) + CACHE_VARIABLES}
    return (f"import os, sys\n"
            f"assert os.path.realpath(sys.executable) == {os.path.realpath(sys.executable)!r}\n"
            f"assert {{k: os.environ.get(k) for k in {sorted(expected)!r}}} == {expected!r}\n")


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path, kernel_manager, tmp_path):
    import nbformat
    from nbclient import NotebookClient

    from tvmprims.datasets import default_root
    if path.stem == "mnist" and not Path(default_root(), "t10k-labels-idx1-ubyte.gz").exists():
        pytest.skip(f"no MNIST-format data in {default_root()}: Debian's dataset-fashion-mnist "
                    f"is not installed (.ci/run installs it) and TVMPRIMS_MNIST_ROOT is unset")
    nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    env = dict(os.environ, TVMPRIMS_QUICK="1", TMPDIR=str(tmp_path),
               IPYTHONDIR=str(tmp_path / "ipython"), JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))
    assert all(env.get(name) for name in CACHE_VARIABLES), "conftest isolates the user caches"
    nb.cells.insert(0, nbformat.v4.new_code_cell(_environment_check(env)))
    work = tmp_path / "cwd"   # the notebooks write results/ relative to their directory
    work.mkdir()
    km = kernel_manager()
    client = NotebookClient(nb, km=km, timeout=CELL_TIMEOUT,
                            resources={"metadata": {"path": str(work)}})
    try:
        client.execute(env=env)   # raises CellExecutionError, naming the cell, if one fails
    finally:  # nbclient leaves a kernel it was handed running (each held 1 GB after its test)
        if km.has_kernel:
            km.shutdown_kernel(now=True)

    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    sources = "".join(cell.source for cell in nb.cells)
    if "Image(" in sources or "plt." in sources:
        assert any("image/png" in o.get("data", {}) for o in outputs), \
            f"{path.name} shows no figure"
    if "results" in sources:
        assert list((work / "results").rglob("*.png")), "the study wrote no figure"
