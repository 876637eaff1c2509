"""MetaSchedule's builder and runner for :func:`tvmprims.tuning.tune`, their worker
processes kept for the rest of the process.

MetaSchedule's ``LocalBuilder`` starts new worker processes for every batch of candidates,
and each worker imports TVM and its tensor intrinsics (``default_build`` does) before it
builds anything: on a 2-core machine that was 30-80 s per batch, past the builder's default
timeout, while the builds themselves take a second or two. Here one pool of workers, set up
by :func:`tvmprims._tvm.import_tensor_intrin`, builds every batch of every tuning run in
the process; a worker is replaced after :data:`BUILDS_PER_WORKER` builds, because TVM
reports memory growth in long-lived build workers. The local runner, whose construction
checks its workers (seconds), is likewise made once per timeout.
"""

import atexit
import functools

from ._tvm import import_tensor_intrin, meta_schedule, meta_schedule_build_parts

#: Builds a worker process does before it is replaced by a fresh one.
BUILDS_PER_WORKER = 64


@functools.lru_cache(maxsize=None)
def local_builder(timeout):
    """A MetaSchedule builder on this machine whose workers outlive a batch."""
    ms, tvm_parts = meta_schedule(), meta_schedule_build_parts()
    worker_func, serialize_params = tvm_parts.worker_func, tvm_parts.serialize_params
    status = tvm_parts.StatusKind

    @tvm_parts.derived_object
    class PooledBuilder(ms.builder.PyBuilder):
        def __init__(self):
            super().__init__()
            self.pool = None

        def build(self, build_inputs):
            if self.pool is None:
                self.pool = tvm_parts.PopenPoolExecutor(
                    max_workers=tvm_parts.cpu_count(logical=True), timeout=timeout,
                    initializer=import_tensor_intrin, maximum_process_uses=BUILDS_PER_WORKER)
            jobs = [(None, None, b.mod, b.target, serialize_params(b.params))
                    for b in build_inputs]
            results = []
            for done in self.pool.map_with_error_catching(lambda job: worker_func(*job), jobs):
                if done.status == status.COMPLETE:
                    results.append(ms.builder.BuilderResult(done.value, None))
                elif done.status == status.TIMEOUT:
                    results.append(ms.builder.BuilderResult(
                        None, f"build timed out after {timeout} s"))
                else:
                    results.append(ms.builder.BuilderResult(
                        None, f"build failed:\n{done.value}"))
            return results

    builder = PooledBuilder()
    atexit.register(lambda: builder.pool is not None and builder.pool.shutdown(wait=True))
    return builder


@functools.lru_cache(maxsize=None)
def local_runner(timeout, evaluator):
    """MetaSchedule's ``LocalRunner`` (its workers persist already), made once per timeout
    and evaluator configuration."""
    runner = meta_schedule().runner.LocalRunner(timeout_sec=timeout, evaluator_config=evaluator)
    atexit.register(runner.pool.shutdown, wait=True)
    return runner
