"""The import graph of tvmprims is acyclic: dependencies point down (operators and their
registry at the bottom, then workloads, build and kernels, then algorithm choice and tuning,
then the API, studies and CLI on top).

Every module under ``tvmprims/`` and ``schedules/`` (installed as ``tvmprims.schedules``) is
parsed with :mod:`ast`; every import of a tvmprims module counts, at module level or inside a
function (a function-local import is still a dependency, only a deferred one). Relative
imports are resolved; ``from package import name`` counts as an import of the submodule
``package.name`` when that is a module, else of the package. A package's ``__init__`` is not
implied by importing one of its submodules (Python runs it first, but it is the package's
facade, not a dependency of the submodule's code).
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Where each top-level package's sources are (setuptools' package-dir in pyproject.toml).
SOURCES = {"tvmprims": ROOT / "tvmprims", "tvmprims.schedules": ROOT / "schedules"}


def modules():
    """``{dotted name: (path, is_package)}`` of every tvmprims module."""
    found = {}
    for prefix, folder in SOURCES.items():
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if prefix == "tvmprims" and parts[0] == "schedules":
                continue
            package = parts[-1] == "__init__"
            if package:
                parts = parts[:-1]
            found[".".join([prefix, *parts])] = (path, package)
    return found


def imports_of(name, path, package, known):
    """tvmprims modules that module ``name`` (at ``path``) imports, anywhere in its body."""
    base = name if package else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parent = base.split(".")
                parent = parent[:len(parent) - (node.level - 1)]
                source = ".".join(parent + ([node.module] if node.module else []))
            else:
                source = node.module
            targets = []
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                targets.append(sub if sub in known else source)
        else:
            continue
        for target in targets:
            # "import tvmprims.a.b" imports the deepest known module of the dotted path
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph():
    known = modules()
    return {name: imports_of(name, path, package, known)
            for name, (path, package) in known.items()}


def find_cycle(graph):
    """One cycle of ``graph`` as a list of nodes (first == last), or None."""
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(graph, white)
    stack = []

    def visit(node):
        colour[node] = grey
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if colour.get(nxt, black) == grey:
                return stack[stack.index(nxt):] + [nxt]
            if colour.get(nxt) == white:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        colour[node] = black
        return None

    for node in sorted(graph):
        if colour[node] == white:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def tvm_imports(path):
    """``(line, module)`` of every import of TVM (``tvm``, ``tvm.*``, ``tvm_ffi``) in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names = [node.module]
        else:
            continue
        found += [(node.lineno, n) for n in names if n.split(".")[0] in ("tvm", "tvm_ffi")]
    return found


def test_graph_covers_the_package():
    graph = import_graph()
    assert "tvmprims.api" in graph and "tvmprims.schedules.cpu.conv2d" in graph
    assert "tvmprims.workload" in graph["tvmprims.ops.matmul"]


def test_function_local_and_relative_imports_count(tmp_path):
    path = tmp_path / "probe.py"
    path.write_text("def f():\n    from ..api import conv2d\n    from .. import workload\n"
                    "    import tvmprims.ops.registry\n    from ..schedules.cpu import matmul\n")
    found = imports_of("tvmprims.studies.probe", path, False, set(modules()))
    assert found == {"tvmprims.api", "tvmprims.workload", "tvmprims.ops.registry",
                     "tvmprims.schedules.cpu.matmul"}


def test_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_tvm_is_imported_by_one_module():
    """TVM renames modules between releases (MetaSchedule included): only ``tvmprims._tvm``
    imports TVM; everything else takes the names from there."""
    found = [f"{name}:{line} imports {module}"
             for name, (path, _) in modules().items() if name != "tvmprims._tvm"
             for line, module in tvm_imports(path)]
    assert not found, "\n".join(found)


if __name__ == "__main__":
    graph = import_graph()
    import sys
    # Print every strongly connected component with more than one module.
    index, low, on, stack, sccs, counter = {}, {}, set(), [], [], [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            sccs.append(comp)

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            strong(v)
    for comp in sccs:
        if len(comp) > 1:
            print(len(comp), sorted(comp))
    print("cycle:", find_cycle(graph))
