"""Export a set of kernels (with their tuned schedules) to shared libraries, and load them back.

A manifest is a JSON file::

    {"target": "llvm",                        # optional; default llvm
     "kernels": [
        {"name": "gemm1024", "op": "matmul", "shapes": [[1024, 1024], [1024, 1024]]},
        {"name": "res2", "op": "conv2d", "shapes": [[1, 64, 56, 56], [64, 64, 3, 3]],
         "dtype": "float32", "params": {"padding": 1}}]}

:func:`export` writes ``<name>.so`` (+ ``<name>.so.json``) per kernel and a ``manifest.json``
recording the target and the schedule each kernel got; :func:`load` returns the kernels by name.
"""

import json
import re
from pathlib import Path, PurePosixPath

from .api import build_workload_from_shapes
from .build import build_workload
from .kernel import load_kernel
from .target import resolve_target, target_key

__all__ = ["read_manifest", "export", "load"]

_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def read_manifest(path):
    """Parse and check a manifest; returns ``(target, [(name, workload), ...])``."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        entries = data["kernels"]
        if not isinstance(entries, list) or not entries:
            raise ValueError("'kernels' must be a non-empty list")
    except FileNotFoundError:
        raise FileNotFoundError(f"manifest {path} does not exist") from None
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: not a valid manifest ({e})") from None
    kernels, names = [], set()
    for i, entry in enumerate(entries):
        where = f"{path}, kernel {i}"
        try:
            name, op, shapes = entry["name"], entry["op"], entry["shapes"]
        except (KeyError, TypeError):
            raise ValueError(f"{where}: needs 'name', 'op' and 'shapes'") from None
        if not isinstance(name, str) or not _NAME.match(name) or name in names:
            raise ValueError(f"{where}: name {name!r} must be unique, letters, digits, '_.-'")
        try:
            workload = build_workload_from_shapes(op, shapes, entry.get("dtype", "float32"),
                                                  entry.get("params", {}))
        except (ValueError, TypeError) as e:
            raise ValueError(f"{where} ({name}): {e}") from None
        names.add(name)
        kernels.append((name, workload))
    return data.get("target", "llvm"), kernels


def export(manifest, out_dir, target=None, schedule="auto", report=print):
    """Build every kernel of ``manifest`` and write the libraries to ``out_dir``.

    Returns the path of the written ``manifest.json``.
    """
    manifest_target, kernels = read_manifest(manifest)
    target = resolve_target(target or manifest_target)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, workload in kernels:
        kernel = build_workload(workload, target, schedule)
        library = kernel.export(out_dir / f"{name}.so")
        report(f"[export] {name}: {workload.describe()} ({kernel.schedule} schedule) -> {library}")
        written.append({"name": name, "library": f"{name}.so", "schedule": kernel.schedule,
                        "workload": workload.to_json()})
    path = out_dir / "manifest.json"
    path.write_text(json.dumps({"target": str(target), "target_key": target_key(target),
                                "kernels": written}, indent=1) + "\n")
    return path


def _library_path(directory, root, library, manifest):
    """``directory / library`` when it (and its sidecar) resolve to a file inside
    ``directory``; ``ValueError`` for an absolute path, ``..``, or a symlink leading out."""
    if not isinstance(library, str) or not library:
        raise ValueError(f"{manifest}: library {library!r} must be a file name in {directory}")
    relative = PurePosixPath(library)
    if relative.is_absolute() or Path(library).is_absolute() or ".." in relative.parts:
        raise ValueError(f"{manifest}: library {library!r} is outside {directory} (absolute "
                         "paths and '..' are refused)")
    candidate = directory / relative
    for file in (candidate, Path(f"{candidate}.json")):
        if not file.resolve().is_relative_to(root):
            raise ValueError(f"{manifest}: library {library!r} is outside {directory} "
                             f"({file} is a symlink to {file.resolve()})")
    return candidate


def load(directory):
    """The kernels written by :func:`export`, as ``{name: Kernel}``.

    Every library must lie inside ``directory``: a manifest naming an absolute path, a path
    with ``..`` or a symlink that leads out of it raises ``ValueError``. Each library is
    checked against its sidecar's size and SHA-256 (:func:`tvmprims.load_kernel`).
    """
    directory = Path(directory)
    path = directory / "manifest.json"
    try:
        entries = json.loads(path.read_text())["kernels"]
        libraries = {e["name"]: e["library"] for e in entries}
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} does not exist: export a manifest there first") from None
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: not a manifest written by tvmprims export ({e})") from None
    root = directory.resolve()
    libraries = {name: _library_path(directory, root, library, path)
                 for name, library in libraries.items()}
    return {name: load_kernel(library) for name, library in libraries.items()}
