"""Tuned-record lookup: the tuning logs, read when a kernel is built (:mod:`tvmprims.build`).

The search that writes them is :mod:`tvmprims.tuning` (it builds kernels, so it sits above
:mod:`tvmprims.build`; this module sits below it).

Tuning logs are MetaSchedule JSON databases, one directory per target key
(``tuning_logs/llvm-znver3-2c/``, ``tuning_logs/cuda-sm_90/``), holding
``database_workload.json``, ``database_tuning_record.json`` and ``target.json`` (the full
target and the TVM version they were tuned with). Records are keyed by workload, not by
target, in MetaSchedule itself, so the directory is what keeps records tuned for one CPU
model or GPU architecture from being applied to another.

Two places are searched, the user's first: ``$TVMPRIMS_TUNING_DIR`` (default
``~/.cache/tvmprims/tuning_logs``) and the shipped logs: the repository's ``tuning_logs/``,
installed as the package ``tvmprims.tuning_logs`` (so a wheel or sdist carries them, and an
editable install reads the checkout's).
"""

import contextlib
import json
import logging
import os
import threading
from pathlib import Path

from ._tvm import create_prim_func, meta_schedule, tvm
from .target import resolve_target, target_key

__all__ = ["TuningLogError", "REPO_LOGS", "REPO_LOGS_IN_CHECKOUT", "USER_ENV", "RECORD_FILES", "TARGET_FILE",
           "user_logs_dir", "search_dirs", "log_dir", "validate_log", "open_database",
           "forget_database", "tuned_schedule", "quiet_meta_schedule"]

def _shipped_logs():
    try:
        from . import tuning_logs
        return Path(tuning_logs.__file__).resolve().parent
    except ImportError:  # an editable install made before the logs became a package
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

_lock = threading.Lock()
_databases = {}


class TuningLogError(ValueError):
    """A tuning log that cannot be used: corrupt, truncated, or tuned for another target."""


def user_logs_dir():
    """The user's tuning-log root: ``$TVMPRIMS_TUNING_DIR`` or ``~/.cache/tvmprims/tuning_logs``."""
    return Path(os.environ.get(USER_ENV) or "~/.cache/tvmprims/tuning_logs").expanduser()


def search_dirs(target):
    """Directories holding records for ``target``, in lookup order (user's first)."""
    key = target_key(target)
    return [root / key for root in (user_logs_dir(), REPO_LOGS)]


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
        if key != target_key(target):
            raise TuningLogError(f"{meta}: records in {directory} were tuned for {key}, not "
                                 f"{target_key(target)}; they cannot be applied to this target")
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


def tuned_schedule(workload, target):
    """The best tuned ``Schedule`` for ``workload`` on ``target``, or None when no log has one."""
    target = resolve_target(target)
    func = create_prim_func(workload.compute())
    ms = meta_schedule()
    for directory in search_dirs(target):
        if not any((directory / name).exists() for name in RECORD_FILES):
            continue
        database = open_database(directory, target)
        with quiet_meta_schedule():
            sch = ms.tir_integration.compile_tir(database, func, target)
        if sch is not None:
            return sch
    return None


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
