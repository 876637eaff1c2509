"""A JSON object kept in a file that several processes may read and write (per-user caches:
algorithm choices, measured machine peaks)."""

import json
import os
import warnings
from pathlib import Path

__all__ = ["JsonStore", "user_cache_path"]


def user_cache_path(env, filename):
    """``$env`` when set, else ``~/.cache/tvmprims/<filename>``."""
    return Path(os.environ.get(env) or Path.home() / ".cache" / "tvmprims" / filename)


class JsonStore:
    """Entries of one JSON file, read once. An unreadable file is ignored with a warning
    (naming ``what`` and the path) and rewritten on the next :meth:`put`; writes are atomic,
    so a concurrent reader sees the old or the new file, never half of one."""

    def __init__(self, path, what):
        self.path = Path(path)
        self.what = what
        self._entries = None

    def entries(self):
        if self._entries is None:
            entries = {}
            if self.path.exists():
                try:
                    entries = json.loads(self.path.read_text())
                    if not isinstance(entries, dict):
                        raise ValueError("not a JSON object")
                except (ValueError, OSError) as e:
                    warnings.warn(f"ignoring unreadable {self.what} {self.path}: {e}", stacklevel=4)
                    entries = {}
            self._entries = entries
        return self._entries

    def get(self, key):
        return self.entries().get(key)

    def put(self, key, value):
        entries = self.entries()
        entries[key] = value
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(entries, indent=1, sort_keys=True))
        os.replace(tmp, self.path)
