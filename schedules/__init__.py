"""Hand-written TensorIR schedules, installed as ``tvmprims.schedules``.

``cpu/<op>.py`` and ``cuda/<op>.py`` each define ``schedule(sch, workload, target)`` for the
operator of the same name in ``tvmprims.ops``; ``common.py`` holds the tiling logic they share;
``hardware.py`` the CPU hardware model (vector width and registers, from the target's LLVM
features).
"""
