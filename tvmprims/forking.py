"""What a child of ``os.fork()`` must not inherit as it is.

``multiprocessing`` forks by default on Linux (Python before 3.14), and so do torch's
DataLoader workers. A forked child has only the thread that forked, so:

- **TVM's thread pool** (one per calling thread, made by its first parallel kernel) is a copy
  whose workers do not exist: the child's first parallel kernel would wait for them forever.
  A forked child therefore runs kernels on one thread (``TVM_NUM_THREADS=1``, which TVM reads
  on every parallel launch). Start workers with ``spawn`` or ``forkserver`` for kernels on
  several threads each.
- **A lock another thread held** at the fork (the kernel cache's writer exporting a kernel,
  another thread compiling one) would stay held forever: every tvmprims lock comes from
  :func:`lock` and is unlocked again in the child.
- **Background workers** (the kernel cache's writer thread) are gone: modules forget theirs
  with :func:`in_child`.
"""

import os
import threading
import weakref

__all__ = ["lock", "in_child"]

_locks = weakref.WeakSet()
_resets = []


def lock():
    """A ``threading.Lock`` that a forked child gets back unlocked."""
    made = threading.Lock()
    _locks.add(made)
    return made


def in_child(reset):
    """Call ``reset()`` in every forked child, before anything else runs there."""
    _resets.append(reset)
    return reset


def _after_fork_in_child():
    os.environ["TVM_NUM_THREADS"] = "1"
    for held in list(_locks):
        held._at_fork_reinit()  # as CPython's threading and logging re-make their own locks
    for reset in _resets:
        reset()


os.register_at_fork(after_in_child=_after_fork_in_child)
