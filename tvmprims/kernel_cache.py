"""Compiled kernels kept on disk, so a new process skips the compile (as Triton's
``~/.triton/cache`` and torch.compile's caches do).

An entry is a shared library and its sidecar (:meth:`tvmprims.Kernel.export`'s format) named
by :func:`entry_key`: a SHA-256 over the workload, the target, the structural hash of the
scheduled TensorIR that would be compiled (so a changed hand schedule, a new tuned record or
a different schedule choice is a different entry), and the tvmprims and TVM versions. Entries
are written atomically (temporary files moved into place) by a background thread, and checked
before use (the sidecar's workload and target, the library's size and SHA-256): an entry that
is corrupt, truncated or does not match is rebuilt, never trusted.

A second, cheaper key finds an entry before the scheduled TensorIR exists
(:func:`request_key`): the call as asked for (workload, target, ``schedule=``), the schedule
parameters (they follow the host's caches, which the target string does not name), a digest of
tvmprims' own source (operators and schedules), the versions, and the size and time of every
tuning log that could apply. ``<request>.req.json`` names the entry that request resolved to
and the schedule it used, so a later process loads the library without building the schedule
or looking up tuned records (MetaSchedule's import alone takes about 1.5 s). Any change to
tvmprims' source or to a log gives a new request key; the entry key still guards the rest.

``$TVMPRIMS_KERNEL_CACHE`` moves the cache (default ``~/.cache/tvmprims/kernels``); ``off``
(or ``0``, ``false``, ``no``) turns it off. Nothing in it is ever needed: delete it at will
(:func:`clear`).
"""

import atexit
import hashlib
import json
import os
import shutil
import tempfile
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import forking
from ._tvm import structural_hash, tvm
from ._version import __version__
from .kernel import LibraryMismatchError, check_library

__all__ = ["ENV", "cache_dir", "entry_key", "request_key", "load", "load_request", "store",
           "store_request", "clear", "flush", "source_fingerprint"]

ENV = "TVMPRIMS_KERNEL_CACHE"
_OFF = ("off", "0", "false", "no")

# One writer thread: exporting runs the system linker (0.1-0.7 s), which the call that
# compiled the kernel should not wait for. Its pending writes finish before the interpreter
# exits (ThreadPoolExecutor joins its workers at exit), so a short script still leaves its
# kernels for the next process.
_writer = None
_writer_lock = forking.lock()
_pending = set()
_warned = set()


def cache_dir():
    """The cache directory, or None when ``$TVMPRIMS_KERNEL_CACHE`` turns the cache off."""
    value = os.environ.get(ENV, "")
    if value.strip().lower() in _OFF:
        return None
    return Path(value or Path.home() / ".cache" / "tvmprims" / "kernels").expanduser()


def entry_key(workload, target_text, mod):
    """The name of the entry for scheduled module ``mod`` of ``workload`` on the target whose
    ``str()`` is ``target_text``."""
    fields = {"workload": workload.to_json(), "target": target_text,
              "module": str(structural_hash(mod)), "tvmprims": __version__,
              "tvm": tvm.__version__}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:40]


_source_digest = None


def source_fingerprint():
    """SHA-256 of tvmprims' Python source (the package and its schedules), once per process."""
    global _source_digest
    if _source_digest is None:
        import importlib.util
        roots = [Path(__file__).resolve().parent]
        spec = importlib.util.find_spec(f"{__package__}.schedules")
        roots += [Path(p).resolve() for p in (spec.submodule_search_locations or [])] if spec else []
        files = set()
        for root in roots:
            for folder, dirs, names in os.walk(root):  # not following links: schedules is a root
                dirs[:] = [d for d in dirs if d != "__pycache__"]
                files.update(Path(folder, n).resolve() for n in names if n.endswith(".py"))
        digest = hashlib.sha256()
        for path in sorted(files):
            digest.update(str(path.name).encode() + b"\0" + path.read_bytes() + b"\0")
        _source_digest = digest.hexdigest()
    return _source_digest


def request_key(workload, target_text, schedule, logs=(), hardware=""):
    """The name of the request file for building ``workload`` with ``schedule=`` on the
    target whose ``str()`` is ``target_text``; ``logs`` identifies the tuning logs that could
    apply (:func:`tvmprims.tuning_records.logs_fingerprint`), ``hardware`` what else the
    schedules read (the schedule parameters in force, which follow the host's caches)."""
    fields = {"workload": workload.to_json(), "target": target_text, "schedule": schedule,
              "logs": [list(entry) for entry in logs], "hardware": hardware,
              "source": source_fingerprint(),
              "tvmprims": __version__, "tvm": tvm.__version__}
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:40]


def load_request(directory, request, workload, target_text):
    """``(runtime_module, library_path, schedule_used)`` of the entry an earlier process
    resolved ``request`` to, or None."""
    try:
        with open(Path(directory) / f"{request}.req.json") as f:
            meta = json.load(f)
        entry, used = meta["entry"], meta["schedule"]
        if not (isinstance(entry, str) and entry.isalnum() and used in ("tuned", "hand", "none")):
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    hit = load(directory, entry, workload, target_text)
    return None if hit is None else (*hit, used)


def store_request(directory, request, entry, used):
    """Record, in the background after any pending write of ``entry``, that ``request``
    resolves to ``entry`` built with schedule ``used``."""
    path = Path(directory) / f"{request}.req.json"
    _submit(path, _write_request, {"entry": entry, "schedule": used})


def load(directory, key, workload, target_text):
    """``(runtime_module, library_path)`` of a valid entry, or None (absent or unusable: a
    damaged entry is reported once and left for :func:`store` to replace)."""
    path = Path(directory) / f"{key}.so"
    try:
        with open(f"{path}.json") as f:
            meta = json.load(f)
        if meta.get("workload") != workload.to_json() or meta.get("target") != target_text:
            raise LibraryMismatchError("its sidecar describes another kernel")
        check_library(str(path), meta)
        return tvm.runtime.load_module(str(path)), path
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, RuntimeError) as e:
        _warn_once(path, f"ignoring the damaged kernel cache entry {path} ({e}); rebuilding it")
        return None


def store(directory, key, kernel):
    """Write ``kernel`` as entry ``key`` in the background (once per entry and process)."""
    path = Path(directory) / f"{key}.so"
    _submit(path, _write, kernel)


def _submit(path, write, *args):
    global _writer
    with _writer_lock:
        if path in _pending:
            return
        _pending.add(path)
        if _writer is None:
            _writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tvmprims-kernel-cache")
        _writer.submit(_guarded, path, write, *args)


def flush():
    """Wait until every entry submitted so far is written."""
    global _writer
    with _writer_lock:
        writer, _writer = _writer, None
    if writer is not None:
        writer.shutdown(wait=True)


def clear():
    """Delete every entry of the cache directory (waiting for pending writes first)."""
    flush()
    directory = cache_dir()
    if directory is not None and directory.is_dir():
        shutil.rmtree(directory, ignore_errors=True)


def _guarded(path, write, *args):
    """Run one background write of ``path``: a cache that cannot be written warns (once per
    directory), it never fails a call."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(path, *args)
    except Exception as e:  # noqa: BLE001
        _warn_once(path.parent, f"could not write the kernel cache in {path.parent}: {e}")
    finally:
        with _writer_lock:
            _pending.discard(path)


def _write(path, kernel):
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".so")
    os.close(fd)
    try:
        kernel.export(tmp)  # the library and its sidecar (workload, target, size, SHA-256)
        # Library first, sidecar last: a reader that finds the new sidecar finds the library
        # it describes (or, racing another writer, a library whose checksum it rejects).
        os.replace(tmp, path)
        os.replace(f"{tmp}.json", f"{path}.json")
    finally:
        for leftover in (tmp, f"{tmp}.json"):
            if os.path.exists(leftover):
                os.unlink(leftover)


def _write_request(path, meta):
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(meta, f)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@forking.in_child
def _forget_writer():
    """A forked child has no writer thread (its copy of the parent's would take writes and
    never run them): the child's first write starts its own. The parent writes its pending
    entries itself."""
    global _writer
    _writer = None
    _pending.clear()


def _warn_once(what, message):
    if what not in _warned:
        _warned.add(what)
        warnings.warn(message, RuntimeWarning, stacklevel=3)


atexit.register(flush)
