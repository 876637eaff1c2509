"""Tuned-record lookup: the tuning logs, read when a kernel is built (:mod:`tvmprims.build`).

The search that writes them is :mod:`tvmprims.tuning` (it builds kernels, so it sits above
:mod:`tvmprims.build`; this module sits below it).

Tuning logs are MetaSchedule JSON databases, one directory per target key
(``tuning_logs/llvm-znver3-2c/``, ``tuning_logs/cuda-sm_90/``), holding
``database_workload.json``, ``database_tuning_record.json`` and ``target.json`` (the full
target and the TVM version they were tuned with). Records are keyed by workload, not by
target, in MetaSchedule itself, so the directory is what tells which target a record was
measured on.

A target uses the records of its own key first, then those of *compatible* targets
(:func:`compatibility_key`: CPUs of one architecture and vector ISA family, e.g. every x86_64
AVX2 CPU whatever its model or core count; a CUDA architecture only its own), re-compiled
for it. Such a record may be slower here than where it was measured, so
``schedule="auto"`` times it against the hand schedule on first use and keeps the faster
(:mod:`tvmprims.schedule_choice`).

Two places are searched, the user's first: ``$TVMPRIMS_TUNING_DIR`` (default
``~/.cache/tvmprims/tuning_logs``) and the shipped logs: the repository's ``tuning_logs/``,
installed as the package ``tvmprims.tuning_logs`` (so a wheel or sdist carries them, and an
editable install reads the checkout's).
"""

import contextlib
import importlib.util
import json
import logging
import os
from pathlib import Path

from . import forking
from ._tvm import create_prim_func, llvm_host_triple, meta_schedule, tvm
from .schedules.lane_shuffles import register_named
from .target import resolve_target, schedule_kind, target_key

__all__ = ["TuningLogError", "REPO_LOGS", "REPO_LOGS_IN_CHECKOUT", "USER_ENV", "RECORD_FILES", "TARGET_FILE",
           "user_logs_dir", "search_dirs", "logs_fingerprint", "compatibility_key", "stored_target", "tuned_record",
           "lookup_report", "log_dir", "validate_log", "open_database",
           "forget_database", "tuned_schedule", "quiet_meta_schedule", "HAND_MARK", "mark_hand",
           "is_hand_record"]

def _shipped_logs():
    spec = importlib.util.find_spec(f"{__package__}.tuning_logs")  # data only: not imported
    if spec is not None and spec.origin:
        return Path(spec.origin).resolve().parent
    # An editable install made before the logs became a package: the checkout's directory.
    return Path(__file__).resolve().parent.parent / "tuning_logs"


#: The logs shipped with tvmprims (the repository's ``tuning_logs/``, wherever installed).
REPO_LOGS = _shipped_logs()
#: Whether :data:`REPO_LOGS` is a source checkout's directory (new records may go there)
#: rather than an installed package's.
REPO_LOGS_IN_CHECKOUT = (REPO_LOGS.parent / "pyproject.toml").is_file()
#: Environment variable naming the user's log directory.
USER_ENV = "TVMPRIMS_TUNING_DIR"
RECORD_FILES = ("database_workload.json", "database_tuning_record.json")
TARGET_FILE = "target.json"

_lock = forking.lock()
_databases = {}


class TuningLogError(ValueError):
    """A tuning log that cannot be used: corrupt, truncated, or tuned for another target."""


def user_logs_dir():
    """The user's tuning-log root: ``$TVMPRIMS_TUNING_DIR`` or ``~/.cache/tvmprims/tuning_logs``."""
    return Path(os.environ.get(USER_ENV) or "~/.cache/tvmprims/tuning_logs").expanduser()


def compatibility_key(target):
    """Targets with one compatibility key can use each other's records: ``llvm-<arch>-<isa>``
    for CPUs (``llvm-x86_64-avx2``: the architecture of the triple and the vector ISA of
    :func:`tvmprims.schedules.hardware.cpu_model`), the :func:`target_key` for CUDA."""
    target = resolve_target(target)
    if schedule_kind(target) == "cuda":
        return target_key(target)
    from .schedules.hardware import cpu_model
    triple = str(target.attrs.get("mtriple") or llvm_host_triple())
    return f"llvm-{triple.split('-')[0]}-{cpu_model(target).isa}"


def stored_target(directory):
    """The ``Target`` a log directory's ``target.json`` records (None when it has none or
    cannot be read: :func:`validate_log` reports why)."""
    try:
        meta = json.loads((Path(directory) / TARGET_FILE).read_text())
        return tvm.target.Target(json.loads(meta["target"]))
    except (OSError, ValueError, KeyError, TypeError, RuntimeError):
        return None


def _logged_targets():
    """``(directory, Target)`` of every log directory with a readable ``target.json``, under
    the user's root, then the shipped one."""
    for root in (user_logs_dir(), REPO_LOGS):
        if root.is_dir():
            for directory in sorted(root.iterdir()):
                stored = stored_target(directory)
                if stored is not None:
                    yield directory, stored


def _compatible(stored, target):
    """Whether records measured on ``stored`` may serve resolved ``target``."""
    return (stored.kind.name == target.kind.name
            and compatibility_key(stored) == compatibility_key(target))


def _has_records(directory):
    return any((directory / name).exists() for name in RECORD_FILES)


def search_dirs(target):
    """Directories that may hold records for ``target``, in lookup order: those of its own
    key (the user's, then the shipped), then those of compatible targets (user's first)."""
    target = resolve_target(target)
    key = target_key(target)
    exact = [root / key for root in (user_logs_dir(), REPO_LOGS)]
    return exact + [d for d, stored in _logged_targets()
                    if d.name != key and _compatible(stored, target)]


def logs_fingerprint(target):
    """``(path, size, mtime_ns)`` of every record file that could serve ``target``: what the
    on-disk kernel cache keys a tuned-or-hand request by, without opening any log."""
    found = []
    for directory in search_dirs(target):
        for name in RECORD_FILES:
            try:
                stat = (directory / name).stat()
            except OSError:
                continue
            found.append((str(directory / name), stat.st_size, stat.st_mtime_ns))
    return tuple(found)


def log_dir(root, target):
    """The directory for ``target`` under ``root``, created with its ``target.json``."""
    target = resolve_target(target)
    directory = Path(root) / target_key(target)
    directory.mkdir(parents=True, exist_ok=True)
    meta = directory / TARGET_FILE
    if not meta.exists():
        meta.write_text(json.dumps({"target_key": target_key(target), "target": str(target),
                                    "tvm": tvm.__version__}, indent=1) + "\n")
    return directory


def validate_log(directory, target):
    """Raise :class:`TuningLogError` naming the file for anything that would make MetaSchedule
    fail or misapply records."""
    meta = directory / TARGET_FILE
    if meta.exists():
        try:
            key = json.loads(meta.read_text())["target_key"]
        except (ValueError, KeyError, TypeError) as e:
            raise TuningLogError(f"{meta}: not a valid target description ({e})") from None
        stored = stored_target(directory)
        if key != target_key(target) and (stored is None or target_key(stored) != key
                                          or not _compatible(stored, target)):
            raise TuningLogError(f"{meta}: records in {directory} were tuned for {key}, which "
                                 f"is neither {target_key(target)} nor compatible with it "
                                 f"({compatibility_key(target)}); they cannot be applied")
    workloads = 0
    for name in RECORD_FILES:
        path = directory / name
        if not path.exists():
            continue
        with open(path) as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    entry = json.loads(line)
                except ValueError as e:
                    raise TuningLogError(f"{path}, line {number}: corrupt or truncated tuning "
                                         f"log ({e})") from None
                if name == RECORD_FILES[1] and (not isinstance(entry, list) or len(entry) != 2
                                                or not isinstance(entry[0], int)
                                                or not 0 <= entry[0] < workloads):
                    raise TuningLogError(f"{path}, line {number}: not a tuning record of a "
                                         f"workload in {RECORD_FILES[0]}")
                workloads += name == RECORD_FILES[0]


def open_database(directory, target):
    """The MetaSchedule ``JSONDatabase`` in ``directory`` (checked; cached until it changes)."""
    ms = meta_schedule()
    directory = Path(directory)
    paths = [directory / name for name in RECORD_FILES]
    stamp = tuple(p.stat().st_mtime_ns if p.exists() else None for p in paths)
    with _lock:
        cached = _databases.get(directory)
        if cached is not None and cached[0] == stamp:
            return cached[1]
    validate_log(directory, target)
    try:
        if paths[1].exists():  # loading replays the records' traces: their tensor intrinsics
            register_named(paths[1].read_text())
        database = ms.database.JSONDatabase(str(paths[0]), str(paths[1]), allow_missing=True)
    except Exception as e:  # TVM raises its own error types for unreadable records
        raise TuningLogError(f"{directory}: MetaSchedule cannot load this tuning log: "
                             f"{str(e).splitlines()[-1] if str(e) else type(e).__name__}") from None
    with _lock:
        _databases[directory] = (stamp, database)
    return database


def forget_database(directory):
    """Drop the cached database of ``directory`` (after its files were rewritten)."""
    with _lock:
        _databases.pop(Path(directory), None)


def tuned_record(workload, target):
    """``(Schedule, directory)``: the best tuned schedule for ``workload`` on ``target`` and
    the log directory it came from (its own key's first, then compatible targets'), or None
    when no log has one."""
    target = resolve_target(target)
    func = create_prim_func(workload.compute())
    for directory in search_dirs(target):
        if not _has_records(directory):
            continue
        database = open_database(directory, target)
        with quiet_meta_schedule():
            sch = meta_schedule().tir_integration.compile_tir(database, func, target)
        if sch is not None:
            return sch, directory
    return None


#: Root-block annotation of a record that stands for the hand schedule (the tuner's starting
#: point, or what verification kept where no candidate beat it). Such a record means "use the
#: hand schedule": its trace is the hand schedule of the day it was written, and replaying it
#: after the hand schedule improved would bring the old one back.
HAND_MARK = "tvmprims.hand_schedule"


def mark_hand(sch):
    """Annotate the hand schedule ``sch`` (a ``Schedule``, before it is recorded) as the hand
    schedule's record (:data:`HAND_MARK`); returns it."""
    sch.annotate(sch.get_sblock("root"), HAND_MARK, 1)
    return sch


def is_hand_record(sch):
    """Whether the schedule a record replays to is marked as the hand schedule's."""
    return HAND_MARK in sch.get(sch.get_sblock("root")).annotations


def tuned_schedule(workload, target):
    """The best tuned ``Schedule`` for ``workload`` on ``target`` (:func:`tuned_record`), or
    None when no log has one."""
    found = tuned_record(workload, target)
    return None if found is None else found[0]


def lookup_report(target):
    """One line saying which log directories apply to ``target`` or, when none does, which
    target keys the logs were tuned for (``bench`` and ``tune`` print it)."""
    target = resolve_target(target)
    key, compat = target_key(target), compatibility_key(target)
    usable = [d for d in search_dirs(target) if _has_records(d)]
    if usable:
        parts = [f"{d} ({'this target' if d.name == key else 'compatible: ' + d.name})"
                 for d in usable]
        return f"tuning logs for {key} ({compat}): " + "; ".join(parts)
    seen = [f"{d.name} ({compatibility_key(stored)})" for d, stored in _logged_targets()]
    return (f"no tuning log applies to {key} ({compat}): logs exist for "
            f"{', '.join(seen) or 'no target'}; tune with `tvmprims tune` to make one")


@contextlib.contextmanager
def quiet_meta_schedule(level=logging.WARNING):
    """MetaSchedule logs every XGBoost iteration at DEBUG to the console: keep it to files."""
    logger = logging.getLogger("tvm.s_tir.meta_schedule")
    old = logger.level
    logger.setLevel(level)
    # A second tune_tir in one process fails in MetaSchedule's create_loggers on the
    # handlers the first one left (their names are gone): start each run without them.
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    try:
        yield
    finally:
        logger.setLevel(old)
