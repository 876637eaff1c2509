"""A JSON object kept in a file that several processes may read and write (per-user caches:
algorithm choices, measured machine peaks)."""

import contextlib
import fcntl
import json
import os
import tempfile
import warnings
from pathlib import Path

from . import forking

__all__ = ["JsonStore", "user_cache_path"]

# Paths whose write failure was already reported: a cache that cannot be written warns once
# per process, not on every call.
_unwritable = set()
_unwritable_lock = forking.lock()


def user_cache_path(env, filename):
    """``$env`` when set, else ``~/.cache/tvmprims/<filename>``."""
    return Path(os.environ.get(env) or Path.home() / ".cache" / "tvmprims" / filename)


class JsonStore:
    """Entries of one JSON file, read once.

    * An unreadable file is ignored with a warning (naming ``what`` and the path) and
      rewritten on the next :meth:`put`.
    * ``validate(key, value)``, when given, checks each entry :meth:`get` returns: an entry it
      rejects (by raising ``ValueError``, ``TypeError`` or ``KeyError``) is ignored with a
      warning, as if absent, so that the caller measures again and :meth:`put` replaces it.
    * :meth:`put` holds an exclusive ``fcntl.flock`` on ``<path>.lock`` while it re-reads the
      file, merges its entry in and writes a temporary file that ``os.replace`` moves over
      the old one: concurrent writers (threads or processes) keep each other's entries, and a
      reader sees the old or the new file, never half of one.
    * A file that cannot be written (read-only directory, full disk) is a warning, once per
      path and process, never an error: the entry is still kept in memory.
    """

    def __init__(self, path, what, validate=None):
        self.path = Path(path)
        self.what = what
        self.validate = validate
        self._entries = None
        self._lock = forking.lock()

    def _read(self):
        if not self.path.exists():
            return {}
        try:
            entries = json.loads(self.path.read_text())
            if not isinstance(entries, dict):
                raise ValueError("not a JSON object")
            return entries
        except (ValueError, OSError) as e:
            warnings.warn(f"ignoring unreadable {self.what} {self.path}: {e}", stacklevel=5)
            return {}

    def entries(self):
        """All entries (unvalidated), read from the file on first use."""
        with self._lock:
            if self._entries is None:
                self._entries = self._read()
            return self._entries

    def get(self, key):
        """The entry of ``key``, or None when absent or rejected by ``validate``."""
        value = self.entries().get(key)
        if value is None or self.validate is None:
            return value
        try:
            self.validate(key, value)
        except (ValueError, TypeError, KeyError) as e:
            warnings.warn(f"ignoring invalid entry of {self.what} {self.path} ({key}): {e}",
                          stacklevel=3)
            return None
        return value

    def put(self, key, value):
        """Record ``key: value`` in memory and in the file (see the class notes); returns
        whether the file was written."""
        with self._lock:
            if self._entries is None:
                self._entries = {}
            self._entries[key] = value
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self._file_lock():
                    entries = self._read()  # what other writers added since we read it
                    entries[key] = value
                    self._write(entries)
            except OSError as e:
                self._warn_unwritable(e)
                return False
            entries.update({k: v for k, v in self._entries.items() if k not in entries})
            self._entries = entries
            return True

    @contextlib.contextmanager
    def _file_lock(self):
        lock_path = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _write(self, entries):
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp",
                                   dir=self.path.parent)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(json.dumps(entries, indent=1, sort_keys=True))
            os.chmod(tmp, 0o644)
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def _warn_unwritable(self, error):
        with _unwritable_lock:
            if self.path in _unwritable:
                return
            _unwritable.add(self.path)
        warnings.warn(f"cannot write {self.what} {self.path} ({error}): the entry is kept in "
                      "memory for this process only", stacklevel=4)
