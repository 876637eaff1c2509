"""What the docs scripts that time a hand schedule before and after a change share
(``prime_width_layers.py``, ``plane_sum_lanes.py``, ``pointwise_tiles.py``,
``depthwise_padding.py``): the setup of such a run, and the old schedule's pieces put back
for the duration of a build."""

import contextlib
import os

import torch

from tvmprims.build import clear_cache
from tvmprims.layer_suite import tvm_threads


def start():
    """Turn the on-disk kernel cache off (both schedules come from the same source files, so
    an on-disk entry of one would be taken for the other) and run torch on TVM's threads."""
    os.environ["TVMPRIMS_KERNEL_CACHE"] = "off"
    torch.set_num_threads(tvm_threads())


@contextlib.contextmanager
def replaced(*patches):
    """For the duration, each ``(owner, name, value)`` attribute replaced, the in-process
    kernel cache emptied on entry and on exit: kernels built inside are the old schedule's,
    those built after it the current one's."""
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    clear_cache()
    for owner, name, value in patches:
        setattr(owner, name, value)
    try:
        yield
    finally:
        for owner, name, value in saved:
            setattr(owner, name, value)
        clear_cache()
