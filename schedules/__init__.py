"""Hand-written TensorIR schedules, installed as ``tvmprims.schedules``.

``cpu/<op>.py`` and ``cuda/<op>.py`` each define ``schedule(sch, workload, target)`` for the
operator of the same name in ``tvmprims.ops``; ``common.py`` holds the tiling logic they share;
``hardware.py`` the hardware model: CPU (vector width and registers, from the target's LLVM
features, and the register-tile parameters derived from them) and GPU (multiprocessors,
threads and shared memory per block, from the ``cuda`` target).
"""
