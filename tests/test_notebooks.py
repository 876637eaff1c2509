"""The notebooks parse, and every ``tvmprims`` name they use exists (they are not executed
here: the studies they call are tested in test_studies.py and test_mnist.py)."""

import ast
import importlib
import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))


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
