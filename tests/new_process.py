"""Run Python in a new process for a test: a regression that crashes or hangs there fails the
test instead of the session."""

import os
import signal
import subprocess
import sys
import textwrap


def run_python(args, env=None, timeout=300):
    """The standard output of ``python *args`` (``["-c", code]`` is dedented), run in a
    session of its own with ``env`` added to this environment; the test fails when it exits
    non-zero (its standard error shown) or has not finished after ``timeout`` seconds, when
    the whole session is killed (forked children too, which would otherwise spin on)."""
    args = list(args)
    if args[:1] == ["-c"]:
        args[1] = textwrap.dedent(args[1])
    proc = subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            env={**os.environ, **(env or {})})
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise AssertionError(f"python {args[0][:40]}... hung (killed after {timeout} s)")
    assert proc.returncode == 0, err[-3000:]
    return out
