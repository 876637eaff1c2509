"""MetaSchedule tuning, tuned-log deployment, export manifests, and tuning over TVM RPC."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

import tvmprims
from tvmprims import bench
from tvmprims._tvm import tvm
from tvmprims.testing import assert_close, matmul_ref
from tvmprims.tuning import REPO_LOGS, RECORD_FILES, TuningLogError, search_dirs, tuned_schedule
from tvmprims.tuning_records import is_hand_record, lookup_report, tuned_record
from cpu_targets import ZNVER3_2C, cpu_target, require_runs_here
from new_process import run_python

SHAPE = ((24, 40), (40, 56))  # small and not tile multiples: a real tuning run in CI


@pytest.fixture(scope="module")
def tuned_logs(tmp_path_factory):
    """A real MetaSchedule run (few trials) into a fresh log root."""
    root = tmp_path_factory.mktemp("logs")
    lines = []
    result = tvmprims.tune("matmul", *SHAPE, trials=8, log_root=root, report=lines.append)
    return root, result, lines


def test_tuning_writes_records_and_reports_progress(tuned_logs):
    root, result, lines = tuned_logs
    directory = root / tvmprims.target_key("llvm")
    assert result.log_dir == directory
    assert all((directory / name).stat().st_size > 0 for name in RECORD_FILES)
    meta = json.loads((directory / "target.json").read_text())
    assert meta["target_key"] == tvmprims.target_key("llvm") and meta["tvm"]
    assert result.trials >= 1 and not result.interrupted
    # The hand schedule is in the database, so the best is never slower than it.
    assert result.best_seconds <= result.hand_seconds
    assert any("trials, best" in line and "GFLOP/s" in line for line in lines)


def test_log_reloaded_in_a_new_process_gives_a_correct_kernel(tuned_logs):
    root = tuned_logs[0]
    code = (
        "import numpy as np, tvmprims\n"
        f"k = tvmprims.build('matmul', {SHAPE[0]}, {SHAPE[1]}, schedule='tuned')\n"
        "rng = np.random.default_rng(0)\n"
        f"a = rng.standard_normal({SHAPE[0]}).astype('float32')\n"
        f"b = rng.standard_normal({SHAPE[1]}).astype('float32')\n"
        "err = np.abs(k(a, b) - a.astype('f8') @ b.astype('f8')).max()\n"
        "print(k.schedule, err)\n")
    schedule, err = _in_new_process(code, root)
    assert schedule == "tuned" and float(err) < 1e-4


def _in_new_process(code, log_root):
    """The words ``code`` prints, run in a new process whose tuning logs are ``log_root``
    (a UserWarning is an error there)."""
    return run_python(["-W", "error::UserWarning", "-c", code],
                      {"TVMPRIMS_TUNING_DIR": str(log_root)}).split()


def test_a_winograd_record_loads_in_a_new_process(tmp_path):
    """A Winograd record's trace tensorizes with tvmprims' shuffle intrinsics (registered on
    first use in a process); loading the log in a new process, which has scheduled no
    Winograd layer yet, registers them from their names, and the kernel is right."""
    from tvmprims.ops import conv2d_winograd
    from tvmprims.tuning import keep_hand
    x_shape, w_shape = (1, 4, 10, 34), (3, 4, 3, 3)
    keep_hand(conv2d_winograd.workload(x_shape, w_shape, padding=1, tile=4), log_root=tmp_path)
    records = (tmp_path / tvmprims.target_key("llvm") / RECORD_FILES[1]).read_text()
    assert "tvmprims_deinterleave_" in records and "tvmprims_interleave_" in records
    code = (
        "import numpy as np, torch, tvmprims\n"
        f"k = tvmprims.build('conv2d_winograd', {x_shape}, {w_shape}, padding=1, tile=4,"
        " schedule='tuned')\n"
        "rng = np.random.default_rng(0)\n"
        f"x, w = rng.standard_normal({x_shape}), rng.standard_normal({w_shape})\n"
        "ref = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), padding=1)\n"
        "err = np.abs(k(x.astype('f4'), w.astype('f4')) - ref.numpy()).max()\n"
        "print(k.schedule, err)\n")
    schedule, err = _in_new_process(code, tmp_path)
    assert schedule == "tuned" and float(err) < 1e-3


def _use_logs(monkeypatch, root):
    monkeypatch.setenv("TVMPRIMS_TUNING_DIR", str(root))
    tvmprims.clear_cache()


def test_auto_and_tuned_use_the_record(tuned_logs, monkeypatch, rng):
    _use_logs(monkeypatch, tuned_logs[0])
    a = rng.standard_normal(SHAPE[0]).astype(np.float32)
    b = rng.standard_normal(SHAPE[1]).astype(np.float32)
    for schedule in ("auto", "tuned"):
        kernel = tvmprims.build("matmul", *SHAPE, schedule=schedule)
        assert kernel.schedule == "tuned"
        assert_close(kernel(a, b), matmul_ref(a, b), "float32", SHAPE[0][1])
    assert tvmprims.build("matmul", *SHAPE, schedule="hand").schedule == "hand"


def test_missing_record_falls_back_to_hand_with_one_warning(tmp_path, monkeypatch):
    _use_logs(monkeypatch, tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):  # cached after the first build: one warning
            assert tvmprims.build("matmul", (3, 5), (5, 7), schedule="tuned").schedule == "hand"
        assert tvmprims.build("matmul", (3, 5), (5, 7), schedule="auto").schedule == "hand"
    missing = [w for w in caught if issubclass(w.category, tvmprims.TunedRecordMissing)]
    assert len(missing) == 1 and "matmul 3x5 * 5x7" in str(missing[0].message)


def _copy_logs(tuned_logs, tmp_path):
    root = tmp_path / "logs"
    shutil.copytree(tuned_logs[0], root)
    return root, root / tvmprims.target_key("llvm")


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty-line-then-junk", "bad-index"])
def test_corrupt_log_names_the_file(tuned_logs, tmp_path, monkeypatch, damage):
    root, directory = _copy_logs(tuned_logs, tmp_path)
    records = directory / RECORD_FILES[1]
    text = records.read_text()
    records.write_text({"truncated": text[:len(text) // 2],
                        "garbage": "this is not json\n",
                        "empty-line-then-junk": text + "\n{\"half\": \n",
                        "bad-index": "[99, [[], [], 0, \"x\", null]]\n"}[damage])
    _use_logs(monkeypatch, root)
    with pytest.raises(TuningLogError, match=str(records).replace("\\", "\\\\")):
        tvmprims.build("matmul", *SHAPE, schedule="tuned")


def test_empty_log_files_fall_back_to_hand(tuned_logs, tmp_path, monkeypatch):
    root, directory = _copy_logs(tuned_logs, tmp_path)
    for name in RECORD_FILES:
        (directory / name).write_text("")
    _use_logs(monkeypatch, root)
    with pytest.warns(tvmprims.TunedRecordMissing):
        assert tvmprims.build("matmul", *SHAPE, schedule="tuned").schedule == "hand"


def test_log_of_another_target_is_refused(tuned_logs, tmp_path, monkeypatch):
    root, directory = _copy_logs(tuned_logs, tmp_path)
    meta = json.loads((directory / "target.json").read_text())
    meta["target_key"] = "llvm-skylake-avx512-8c"
    (directory / "target.json").write_text(json.dumps(meta))
    _use_logs(monkeypatch, root)
    with pytest.raises(TuningLogError, match="tuned for llvm-skylake-avx512-8c, which is neither"):
        tvmprims.build("matmul", *SHAPE, schedule="tuned")


def test_cpu_records_are_never_looked_up_for_cuda(tuned_logs, monkeypatch):
    _use_logs(monkeypatch, tuned_logs[0])
    assert all("cuda-" in str(d) for d in search_dirs("cuda"))
    with pytest.warns(tvmprims.TunedRecordMissing):
        assert tvmprims.build("matmul", *SHAPE, target="cuda", schedule="tuned").schedule == "hand"


# --- The shipped logs (tuning_logs/), for the target they were tuned for, on any host ------------

SHIPPED = sorted(d for d in REPO_LOGS.iterdir() if (d / "target.json").exists())


def _shipped_target(directory):
    meta = json.loads((directory / "target.json").read_text())
    return tvm.target.Target(json.loads(meta["target"]))


@pytest.mark.parametrize("directory", SHIPPED, ids=lambda d: d.name)
def test_shipped_logs_cover_the_bench_workloads_of_their_target(directory):
    """Each shipped log is named by its target's key and holds a record for every benchmark
    workload (the README's "tuned" figures); looked up with that explicit target, never the
    host's, so this holds on any CPU."""
    target = _shipped_target(directory)
    assert directory.name == tvmprims.target_key(target)
    assert directory in search_dirs(target)
    missing = [c.label for c in bench.WORKLOADS if tuned_schedule(
        tvmprims.build_workload_from_shapes(c.op, c.shapes, "float32", c.kwargs()), target) is None]
    assert not missing


def test_shipped_records_apply_to_compatible_cpus_only():
    """Records measured on one CPU serve any target of its architecture and vector ISA
    family (znver3's every x86_64 AVX2 target, znver4's every AVX-512 one), whatever its
    model or core count, from the directory they were measured in; never another family."""
    from tvmprims.tuning_records import compatibility_key
    wl = tvmprims.build_workload_from_shapes("matmul", ((256, 256), (256, 256)))  # a bench workload
    assert tuned_record(wl, ZNVER3_2C)[1] == REPO_LOGS / "llvm-znver3-2c"
    for other in (cpu_target("znver3", cores=4), cpu_target("haswell"), cpu_target("znver4"),
                  cpu_target("skylake-avx512"), cpu_target("neoverse-v1", "aarch64-linux-gnu")):
        key = compatibility_key(other)
        usable = [d for d in SHIPPED if compatibility_key(_shipped_target(d)) == key]
        found, report = tuned_record(wl, other), lookup_report(other)
        if usable:
            assert found is not None and found[1] in usable, tvmprims.target_key(other)
            assert all(d.name in report for d in usable)
        else:
            assert found is None, tvmprims.target_key(other)
            assert report.startswith("no tuning log applies") and "llvm-znver3-2c" in report


def test_shipped_tuned_kernel_is_correct(rng):
    """A shipped znver3 record, compiled for znver3 and run here (any AVX2 host can)."""
    require_runs_here(ZNVER3_2C)
    kernel = tvmprims.build("matmul", (256, 256), (256, 256), target=ZNVER3_2C, schedule="tuned")
    assert kernel.schedule == "tuned"
    a = rng.standard_normal((256, 256)).astype(np.float32)
    b = rng.standard_normal((256, 256)).astype(np.float32)
    assert_close(kernel(a, b), matmul_ref(a, b), "float32", 256)


def test_export_manifest_and_load(tuned_logs, tmp_path, monkeypatch, rng):
    _use_logs(monkeypatch, tuned_logs[0])
    manifest = tmp_path / "kernels.json"
    manifest.write_text(json.dumps({"kernels": [
        {"name": "small_gemm", "op": "matmul", "shapes": [list(s) for s in SHAPE]},
        {"name": "conv", "op": "conv2d", "shapes": [[1, 3, 9, 9], [4, 3, 3, 3], [4]],
         "params": {"padding": 1}}]}))
    out = tmp_path / "lib"
    written = json.loads(tvmprims.export(manifest, out, report=lambda m: None).read_text())
    assert {k["name"]: k["schedule"] for k in written["kernels"]} == {"small_gemm": "tuned",
                                                                      "conv": "hand"}
    kernels = tvmprims.load(out)
    a = rng.standard_normal(SHAPE[0]).astype(np.float32)
    b = rng.standard_normal(SHAPE[1]).astype(np.float32)
    assert_close(kernels["small_gemm"](a, b), matmul_ref(a, b), "float32", SHAPE[0][1])
    import tvm
    from tvmprims.arrays import aligned_empty
    plain = tvm.runtime.load_module(str(out / "small_gemm.so"))["main"]
    aa, bb, cc = (aligned_empty(s, np.float32) for s in (*SHAPE, (SHAPE[0][0], SHAPE[1][1])))
    aa[...], bb[...] = a, b
    plain(aa, bb, cc)
    assert_close(cc, matmul_ref(a, b), "float32", SHAPE[0][1])


@pytest.mark.parametrize("text, match", [
    ("{", "not a valid manifest"), ('{"kernels": []}', "non-empty"),
    ('{"kernels": [{"name": "x", "op": "softmax", "shapes": [[2]]}]}', "unknown operator"),
    ('{"kernels": [{"name": "x", "op": "matmul", "shapes": [[2, 3], [4, 5]]}]}', "inner"),
    ('{"kernels": [{"name": "a/b", "op": "matmul", "shapes": [[2, 3], [3, 5]]}]}', "name"),
])
def test_bad_manifest(tmp_path, text, match):
    manifest = tmp_path / "m.json"
    manifest.write_text(text)
    with pytest.raises(ValueError, match=match):
        tvmprims.export(manifest, tmp_path / "out", report=lambda m: None)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_servers(port, key, count, deadline):
    from tvm import rpc
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                pass  # the tracker is listening: connect_tracker would otherwise block 60 s
            summary = rpc.connect_tracker("127.0.0.1", port).summary()
            if sum(1 for s in summary["server_info"] if s["key"].endswith(key)) >= count:
                return
        except Exception:
            pass
        time.sleep(0.5)
    raise TimeoutError("RPC servers did not register with the tracker")


def test_tuning_over_rpc_tracker_and_two_servers(tmp_path, monkeypatch):
    port, key = _free_port(), "tvmprims-test"
    # Each in a session of its own, so that the teardown ends the servers' session workers
    # too: terminated alone, a server left three of them running (700 MB each, spinning).
    procs = [subprocess.Popen([sys.executable, "-m", "tvm.exec.rpc_tracker", "--host",
                               "127.0.0.1", "--port", str(port), "--port-end", str(port + 1)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)]
    try:
        for _ in range(2):
            server_port = _free_port()
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "tvm.exec.rpc_server", "--host", "127.0.0.1",
                 "--port", str(server_port), "--port-end", str(server_port + 10),
                 "--tracker", f"127.0.0.1:{port}", "--key", key],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
        _wait_for_servers(port, key, 2, time.time() + 120)
        lines = []
        result = tvmprims.tune("matmul", (16, 24), (24, 8), trials=4, log_root=tmp_path,
                               rpc_tracker=f"127.0.0.1:{port}", rpc_key=key,
                               report=lines.append)
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=30)
    assert result.trials >= 1
    records = (Path(result.log_dir) / RECORD_FILES[1]).read_text().splitlines()
    # the hand record plus at least one candidate measured through the servers
    assert len(records) >= 2
    measured = [json.loads(r)[1][1] for r in records[1:]]
    assert any(m and min(m) < 1e9 for m in measured)
    _use_logs(monkeypatch, tmp_path)
    a = np.ones((16, 24), np.float32)
    b = np.ones((24, 8), np.float32)
    np.testing.assert_allclose(tvmprims.build("matmul", (16, 24), (24, 8), schedule="tuned")(a, b), 24.0)


def test_bad_rpc_address():
    with pytest.raises(ValueError, match="HOST:PORT"):
        tvmprims.tune("matmul", (2, 2), (2, 2), trials=1, rpc_tracker="nowhere", rpc_key="k",
                      report=lambda m: None)


def test_a_search_that_fails_keeps_the_hand_record(tmp_path, monkeypatch, rng):
    """MetaSchedule's default space rules fail on some computations (seen on Winograd): the
    hand schedule's record stays in the log and tuning reports why, instead of crashing."""
    import tvm.s_tir.meta_schedule as ms

    def failing(*args, **kwargs):
        raise ValueError("Check failed: (var.has_value()) is false: TensorRegion pattern match")
    monkeypatch.setattr(ms, "tune_tir", failing)
    lines = []
    wl = tvmprims.build_workload_from_shapes("matmul", ((9, 7), (7, 5)))
    result = tvmprims.tuning.tune(wl, "llvm", 4, tmp_path, report=lines.append)
    assert result.search_failed.startswith("ValueError: Check failed")
    assert "search failed: hand schedule only" in str(result)
    assert any("could not search this computation" in line for line in lines)
    _use_logs(monkeypatch, tmp_path)
    kernel = tvmprims.build("matmul", (9, 7), (7, 5), schedule="tuned")
    assert kernel.schedule == "tuned"
    a = rng.standard_normal((9, 7)).astype(np.float32)
    b = rng.standard_normal((7, 5)).astype(np.float32)
    assert_close(kernel(a, b), matmul_ref(a, b), "float32", 7)


def _records_per_workload(directory):
    workloads = [json.loads(line)[0] for line in
                 (directory / RECORD_FILES[0]).read_text().splitlines() if line.strip()]
    counts = {}
    for line in (directory / RECORD_FILES[1]).read_text().splitlines():
        if line.strip():
            key = workloads[json.loads(line)[0]]
            counts[key] = counts.get(key, 0) + 1
    return sorted(counts.values())


def test_fresh_drops_only_that_workloads_earlier_records(tmp_path, monkeypatch):
    """``fresh=True`` (``tvmprims tune --fresh``): records of an older hand schedule go, other
    workloads' records stay, and the log still loads."""
    import tvm.s_tir.meta_schedule as ms
    monkeypatch.setattr(ms, "tune_tir", lambda *a, **k: None)  # hand records only: fast
    a = tvmprims.build_workload_from_shapes("matmul", ((9, 7), (7, 5)))
    b = tvmprims.build_workload_from_shapes("matmul", ((5, 7), (7, 9)))
    for wl in (a, a, b):
        tvmprims.tuning.tune(wl, "llvm", 1, tmp_path, report=lambda m: None)
    directory = tmp_path / tvmprims.target_key("llvm")
    assert _records_per_workload(directory) == [1, 1]  # a's hand record is committed once
    lines = []
    tvmprims.tuning.tune(a, "llvm", 1, tmp_path, report=lines.append, fresh=True)
    assert any("dropped 1 earlier records" in line for line in lines)
    assert _records_per_workload(directory) == [1, 1]
    assert tvmprims.tuning.drop_records(b, "llvm", tmp_path) == 1
    assert tvmprims.tuning.drop_records(b, "llvm", tmp_path) == 0
    assert tvmprims.tuning.drop_records(a, "llvm", tmp_path / "nowhere") == 0
    _use_logs(monkeypatch, tmp_path)
    assert tvmprims.build("matmul", (9, 7), (7, 5), schedule="tuned").schedule == "tuned"


def test_the_fast_stack_gives_inspect_stacks_frames():
    """tvmprims._tvm imports MetaSchedule's tensor intrinsics with its own stack function
    (inspect.stack scans sys.modules for every frame without a source file); it must give
    the same frames, and the same code context wherever there is one."""
    import inspect
    from tvmprims._tvm import _stack_without_source_scans

    def inner():
        return inspect.stack(), _stack_without_source_scans()

    expected, actual = eval("inner()", {"inner": inner})  # a frame from <string> too
    assert len(expected) == len(actual)
    for e, a in zip(expected, actual):
        assert (a.frame, a.filename, a.lineno, a.function, a.code_context, a.index) == \
               (e.frame, e.filename, e.lineno, e.function, e.code_context, e.index)
    assert any(e.filename == "<string>" for e in expected)


def test_keep_hand_leaves_only_the_hand_record(tuned_logs, tmp_path, monkeypatch, rng):
    """The model tuner's verification: a record that is not faster than the hand schedule
    when timed beside it is replaced by the hand schedule's."""
    root = tmp_path / "logs"
    shutil.copytree(tuned_logs[0], root)
    directory = root / tvmprims.target_key("llvm")
    wl = tvmprims.build_workload_from_shapes("matmul", SHAPE)
    assert _records_per_workload(directory)[-1] > 1
    assert tvmprims.tuning.keep_hand(wl, "llvm", root, 1.5e-3) > 1
    assert _records_per_workload(directory) == [1]
    (line,) = [l for l in (directory / RECORD_FILES[1]).read_text().splitlines() if l.strip()]
    assert json.loads(line)[1][1] == [1.5e-3]  # run_secs
    _use_logs(monkeypatch, root)
    kernel = tvmprims.build("matmul", *SHAPE, schedule="tuned")
    a, b = (rng.standard_normal(s).astype(np.float32) for s in SHAPE)
    assert_close(kernel(a, b), matmul_ref(a, b), "float32", SHAPE[0][1])
    assert kernel.script() == tvmprims.build("matmul", *SHAPE, schedule="hand").script()


def test_a_hand_record_stands_for_todays_hand_schedule(tuned_logs, tmp_path, monkeypatch, rng):
    """A record kept for the hand schedule is marked as such and means "use the hand
    schedule": once the hand schedule changes, auto and tuned build the new one, not the
    trace the record holds (which would bring the old schedule back)."""
    root = tmp_path / "logs"
    shutil.copytree(tuned_logs[0], root)
    wl = tvmprims.build_workload_from_shapes("matmul", SHAPE)
    tvmprims.tuning.keep_hand(wl, "llvm", root, 1e-9)
    _use_logs(monkeypatch, root)
    assert is_hand_record(tuned_record(wl, "llvm")[0])
    lines = []
    assert tvmprims.tuning.verify_record(wl, "llvm", root, lines.append) == ("hand", None, None)
    assert "is the hand schedule" in lines[0]

    from tvmprims.schedules.cpu import matmul as cpu_matmul
    original = cpu_matmul.schedule

    def changed(sch, workload, target):
        original(sch, workload, target)
        sch.annotate(sch.get_sblock("root"), "test.changed_hand_schedule", 1)
    monkeypatch.setattr(cpu_matmul, "schedule", changed)
    tvmprims.clear_cache()
    a, b = (rng.standard_normal(s).astype(np.float32) for s in SHAPE)
    for schedule in ("auto", "tuned"):
        kernel = tvmprims.build("matmul", *SHAPE, schedule=schedule)
        assert kernel.schedule == "tuned"  # the log decided: for the hand schedule
        assert "test.changed_hand_schedule" in kernel.script()
        assert_close(kernel(a, b), matmul_ref(a, b), "float32", SHAPE[0][1])


def test_the_builder_keeps_its_workers_and_reports_a_failed_build():
    """tvmprims.tuning_workers.local_builder: one pool of build workers for every batch
    (MetaSchedule's LocalBuilder started new ones per batch, 30-80 s each here); a
    candidate that fails to build is an error result, and the others still build."""
    from tvmprims._tvm import Schedule, meta_schedule_for_tuning, te
    from tvmprims.tuning_workers import local_builder
    ms = meta_schedule_for_tuning()
    a = te.placeholder((33, 7), name="A")
    b = te.compute((33, 7), lambda i, j: a[i, j] * 2 + 1, name="B")
    mod = tvm.IRModule({"main": te.create_prim_func([a, b])})
    broken = Schedule(mod)  # thread bindings have no meaning on a CPU
    i, j = broken.get_loops(broken.get_sblock("B"))
    broken.bind(i, "blockIdx.x")
    target = tvm.target.Target("llvm")
    builder = local_builder(60)
    assert local_builder(60) is builder
    first = builder.build([ms.builder.BuilderInput(mod, target),
                           ms.builder.BuilderInput(broken.mod, target)])
    assert first[0].error_msg is None and "build failed" in first[1].error_msg
    workers = {id(w) for w in builder.pool._worker_map.values()}
    second = builder.build([ms.builder.BuilderInput(mod, target)] * 3)
    assert {id(w) for w in builder.pool._worker_map.values()} == workers
    x = np.arange(33 * 7, dtype=np.float32).reshape(33, 7)
    for result in (first[0], *second):
        assert result.error_msg is None
        lib = tvm.runtime.load_module(result.artifact_path)
        y = tvm.runtime.tensor(np.zeros_like(x))
        lib["main"](tvm.runtime.tensor(x), y)
        np.testing.assert_array_equal(y.numpy(), x * 2 + 1)
        shutil.rmtree(os.path.dirname(result.artifact_path))
