"""A non-editable install (a wheel, as ``pip install .`` builds) carries the shipped tuning
logs and finds their records."""

import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted(p.relative_to(ROOT) for p in (ROOT / "tuning_logs").glob("*/*.json"))


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The project built into a wheel and unpacked into a directory of its own (its
    dependencies come from this environment)."""
    out = tmp_path_factory.mktemp("wheel")
    # Built from a copy of the project's files: setuptools writes build/ into the tree it
    # builds, and a stale build/ in the checkout could leak old files into later wheels.
    source = out / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for name in ("tvmprims", "schedules", "tuning_logs"):
        shutil.copytree(ROOT / name, source / name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(out / "dist"), str(source)], capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = (out / "dist").glob("tvmprims-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        z.extractall(out / "site")
    return out / "site", names


@pytest.mark.slow
def test_the_wheel_carries_every_shipped_log(installed):
    _, names = installed
    assert SHIPPED, "the repository ships no tuning logs"
    for path in SHIPPED:
        assert f"tvmprims/{path.as_posix()}" in names
    assert "tvmprims/schedules/cpu/matmul.py" in names


@pytest.mark.slow
def test_an_installed_package_finds_a_shipped_record(installed):
    site, _ = installed
    code = textwrap.dedent("""
        import tvmprims
        from tvmprims.tuning_records import REPO_LOGS, REPO_LOGS_IN_CHECKOUT, tuned_schedule
        from tvmprims.tuning import _default_root
        import json, pathlib, tvm
        assert pathlib.Path(tvmprims.__file__).parent.parent == pathlib.Path(SITE), tvmprims.__file__
        assert REPO_LOGS == pathlib.Path(SITE) / "tvmprims" / "tuning_logs", REPO_LOGS
        assert not REPO_LOGS_IN_CHECKOUT and _default_root() != REPO_LOGS
        found = 0
        for log in sorted(REPO_LOGS.glob("llvm-*/target.json")):
            target = tvmprims.resolve_target(tvm.target.Target(json.loads(json.loads(log.read_text())["target"])))
            wl = tvmprims.build_workload_from_shapes("matmul", [(256, 256), (256, 256)])
            found += tuned_schedule(wl, target) is not None
        assert found, "no shipped record found"
        print(found)
    """).replace("SITE", repr(str(site)))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(site)
    result = subprocess.run([sys.executable, "-c", code], cwd=site, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
