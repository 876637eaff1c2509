"""The operator registry and the conv2d algorithm table (tvmprims.ops.registry) are complete:
every registered operator has its compute module, two hand schedules and a reference, every
operator module is registered, and every algorithm names a registered operator."""

import importlib
import inspect
from pathlib import Path

import pytest

import tvmprims
from tvmprims import algorithms, api, testing
from tvmprims.ops import registry

OPS = Path(registry.__file__).parent
#: Modules of tvmprims/ops that are not operators.
HELPERS = {"__init__", "_checks", "_pool", "dft", "registry"}


@pytest.mark.parametrize("spec", registry.OPERATOR_SPECS, ids=lambda s: s.name)
def test_registered_operator_is_complete(spec):
    module = spec.module
    for name in ("workload", "compute", "output_shape", "flops"):
        assert callable(getattr(module, name, None)), f"tvmprims.ops.{spec.name}.{name}"
    for kind in ("cpu", "cuda"):
        schedule = importlib.import_module(f"tvmprims.schedules.{kind}.{spec.name}")
        assert len(inspect.signature(schedule.schedule).parameters) >= 3  # (sch, wl, target)
    assert spec.reference is None or callable(getattr(testing, spec.reference))
    assert "dtype" in inspect.signature(module.workload).parameters
    assert spec.summary


def test_every_operator_module_is_registered():
    modules = {p.stem for p in OPS.glob("*.py")} - HELPERS
    assert modules == set(registry.OPERATORS)


def test_public_names_read_the_registry():
    assert tvmprims.OPERATORS == api.OPERATORS == registry.OPERATORS
    assert api.CONV2D_OPERATORS is registry.CONV2D_OPERATORS
    assert algorithms.TOLERANCE is registry.TOLERANCE
    assert algorithms.PROPAGATES_NON_FINITE == registry.PROPAGATES_NON_FINITE
    assert api.CONV2D_ALGORITHMS == ("auto", "search", *registry.CONV2D_ALGORITHM_TABLE,
                                     *registry.CONV2D_ALIASES)
    assert api.conv2d_workload is registry.conv2d_workload


@pytest.mark.parametrize("algo", registry.CONV2D_ALGORITHM_TABLE.values(), ids=lambda a: a.name)
def test_algorithm_names_a_registered_operator(algo):
    assert algo.op in registry.OPERATORS and algo.tolerance >= 0
    wl = registry.conv2d_workload((1, 4, 8, 8), (4, 4, 3, 3), None, "float32", 1, 1, 1, 1,
                                  algo.name)
    assert wl.op == algo.op and registry.algorithm_of(wl) == algo.name
    assert registry.algorithm_workload(registry.conv2d_workload((1, 4, 8, 8), (4, 4, 3, 3),
                                                                padding=1), algo.name) == wl


def test_unknown_operator_names_the_registered_ones():
    with pytest.raises(ValueError, match="unknown operator 'softmax': expected one of"):
        registry.operator_spec("softmax")
    assert registry.operator_spec("matmul").params == ()
    assert registry.operator_spec("conv2d_winograd").params[-2:] == ("tile", "pretransformed")
