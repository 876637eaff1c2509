"""Auto-tuning with MetaSchedule: the search driver (:func:`tune`) that writes tuning logs.

The logs' layout and where they are searched are described in :mod:`tvmprims.tuning_records`,
which reads them when a kernel is built (below :mod:`tvmprims.build`); this
module measures candidates with built kernels, so it sits above it. The record-lookup names
are re-exported here.
"""

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ._tvm import (compile_module, create_prim_func, meta_schedule, meta_schedule_for_tuning,
                   structural_hash, tvm)
from .arrays import ALIGNMENT
from .build import build_workload, clear_cache, hand_schedule
from .kernel import Kernel
from .target import resolve_target, target_key
from .tuning_templates import has_template, template_space
from .tuning_records import (RECORD_FILES, REPO_LOGS, REPO_LOGS_IN_CHECKOUT,  # noqa: F401
                             TARGET_FILE, USER_ENV, TuningLogError, forget_database, log_dir, open_database,
                             is_hand_record, mark_hand, quiet_meta_schedule, search_dirs,
                             tuned_record, tuned_schedule, user_logs_dir, validate_log)
from .tuning_workers import local_builder, local_runner

__all__ = ["TuningLogError", "TuneResult", "SPACES", "REPO_LOGS", "user_logs_dir", "search_dirs",
           "log_dir", "open_database", "tuned_schedule", "tune", "drop_records", "keep_hand",
           "verify_record", "RECORD_FILES"]


@dataclass
class TuneResult:
    """What :func:`tune` measured. Times are seconds per call."""

    workload: object
    target: str
    log_dir: Path
    trials: int
    hand_seconds: float
    best_seconds: float
    interrupted: bool = False
    #: Why MetaSchedule could not search (its design space failed on the computation), if so.
    search_failed: str = None

    @property
    def speedup_over_hand(self):
        return self.hand_seconds / self.best_seconds

    def __str__(self):
        gflops = self.workload.flops / self.best_seconds / 1e9
        return (f"{self.workload.describe()} on {self.target}: {self.trials} trials, best "
                f"{self.best_seconds * 1e3:.4f} ms ({gflops:.1f} GFLOP/s), hand "
                f"{self.hand_seconds * 1e3:.4f} ms, speedup over hand "
                f"{self.speedup_over_hand:.2f}x" + (" (interrupted)" if self.interrupted else "")
                + (" (search failed: hand schedule only)" if self.search_failed else "")
                + f"; log: {self.log_dir}")


def _progress_callback(total, hand_seconds, flops, report):
    ms = meta_schedule()

    @tvm.ir.utils.derived_object
    class Progress(ms.measure_callback.PyMeasureCallback):
        def __init__(self):
            self.done = 0
            self.best = hand_seconds
            self.start = time.time()

        def apply(self, task_scheduler, task_id, measure_candidates, builder_results,
                  runner_results):
            for result in runner_results:
                self.done += 1
                if result.run_secs:
                    secs = sum(float(s) for s in result.run_secs) / len(result.run_secs)
                    self.best = min(self.best, secs)
            report(f"[tune] {self.done}/{total} trials, best {flops / self.best / 1e9:.1f} "
                   f"GFLOP/s (hand {flops / hand_seconds / 1e9:.1f}), "
                   f"{time.time() - self.start:.0f} s")

    return Progress()


def _search_strategy(trials):
    """Evolutionary search sized to the budget: the default population (512, 50 random
    candidates to start) costs minutes per round on 2 cores, which a short run cannot repay."""
    ms = meta_schedule()
    population = min(512, max(64, 8 * trials))
    return ms.search_strategy.EvolutionarySearch(
        population_size=population, init_min_unmeasured=min(50, max(8, population // 8)),
        genetic_num_iters=4 if trials >= 64 else 2)


def _runner(rpc_tracker, rpc_key, timeout):
    ms = meta_schedule()
    evaluator = ms.runner.EvaluatorConfig(number=3, repeat=1, min_repeat_ms=50)
    if rpc_tracker is None:
        return local_runner(timeout, evaluator)
    host, _, port = rpc_tracker.rpartition(":")
    if not host or not port.isdigit() or not rpc_key:
        raise ValueError(f"rpc_tracker must be HOST:PORT and rpc_key a non-empty key, got "
                         f"{rpc_tracker!r} and {rpc_key!r}")
    config = ms.runner.RPCConfig(tracker_host=host, tracker_port=int(port), tracker_key=rpc_key,
                                 session_timeout_sec=timeout, session_priority=1)
    return ms.runner.RPCRunner(rpc_config=config, evaluator_config=evaluator)


def _default_root():
    """New records go to the checkout's ``tuning_logs/`` (to be committed) when tvmprims runs
    from one, else to the user's log directory (never into an installed package)."""
    if REPO_LOGS_IN_CHECKOUT and os.access(REPO_LOGS, os.W_OK):
        return REPO_LOGS
    return user_logs_dir()


def _commit_hand(database, sch, workload, target, seconds):
    ms = meta_schedule()
    mark_hand(sch)
    func = create_prim_func(workload.compute())
    database.commit_tuning_record(ms.database.TuningRecord(
        sch.trace, database.commit_workload(tvm.IRModule({"main": func})), run_secs=[seconds],
        target=target, args_info=ms.arg_info.ArgInfo.from_prim_func(func)))


def keep_hand(workload, target="llvm", log_root=None, seconds=1.0):
    """Replace every record of ``workload`` in its target's log under ``log_root`` with the
    hand schedule's (recorded as taking ``seconds``): for a tuned record that, timed again
    beside the hand schedule, is not faster (a candidate measured in a quiet moment, the hand
    schedule in a busy one). Returns how many records were dropped."""
    target = resolve_target(target)
    root = Path(log_root or _default_root())
    dropped = drop_records(workload, target, root)
    directory = log_dir(root, target)
    _commit_hand(open_database(directory, target), hand_schedule(workload, target), workload,
                 target, seconds)
    forget_database(directory)
    clear_cache()
    return dropped


#: A tuned record must be this much faster than the hand schedule, timed beside it, to stay.
VERIFY_MARGIN = 0.01


def verify_record(workload, target="llvm", log_root=None, report=print):
    """Time the best record of ``workload`` beside its hand schedule (alternating, on the same
    arrays); where it is not faster by :data:`VERIFY_MARGIN`, the log under ``log_root``
    keeps the hand schedule instead (:func:`keep_hand`), so that ``schedule="auto"`` is never
    slower than hand. A record's own time and the hand schedule's were measured at different
    moments of a search, and one noisy moment can crown a slower candidate.

    Returns ``(kept, hand_seconds, tuned_seconds)``, ``kept`` ``"tuned"`` or ``"hand"``; None
    when the record that applies (if any) is not in that log."""
    from .timing import interleaved_best
    target = resolve_target(target)
    found = tuned_record(workload, target)
    if found is None or found[1] != Path(log_root or _default_root()) / target_key(target):
        return None
    if is_hand_record(found[0]):
        report(f"[verify] {workload.describe()}: the log's best record is the hand schedule")
        return "hand", None, None
    clear_cache()
    hand, tuned = (build_workload(workload, target, s) for s in ("hand", "tuned"))
    arrays = hand.random_inputs()
    hand_s, tuned_s = interleaved_best([lambda: hand(*arrays), lambda: tuned(*arrays)],
                                       rounds=5, block_seconds=0.05, settle=0.02)
    kept = "tuned"
    if tuned_s > hand_s * (1 - VERIFY_MARGIN):
        keep_hand(workload, target, log_root, hand_s)
        kept = "hand"
    report(f"[verify] {workload.describe()}: tuned {tuned_s * 1e3:.4f} ms, hand "
           f"{hand_s * 1e3:.4f} ms: the log keeps the {kept} schedule")
    return kept, hand_s, tuned_s


def drop_records(workload, target="llvm", log_root=None):
    """Remove every record of ``workload`` from its target's log under ``log_root`` (default:
    where :func:`tune` writes); returns how many were removed.

    For after a hand schedule changed: the log still holds the old schedule's records, whose
    times were measured on another day and can beat the new schedule's on noise alone.
    """
    target = resolve_target(target)
    directory = Path(log_root or _default_root()) / target_key(target)
    workloads, records = (directory / name for name in RECORD_FILES)
    if not records.exists() or not workloads.exists():
        return 0
    validate_log(directory, target)
    key = str(structural_hash(tvm.IRModule({"main": create_prim_func(workload.compute())})))
    entries = [json.loads(line) for line in workloads.read_text().splitlines() if line.strip()]
    mine = {index for index, entry in enumerate(entries) if entry[0] == key}
    lines = [line for line in records.read_text().splitlines() if line.strip()]
    kept = [line for line in lines if json.loads(line)[0] not in mine]
    if len(kept) < len(lines):
        scratch = records.with_name(records.name + ".tmp")
        scratch.write_text("".join(line + "\n" for line in kept))
        scratch.replace(records)
        forget_database(directory)
        clear_cache()
    return len(lines) - len(kept)


#: Design spaces :func:`tune` can search: the hand schedule's template
#: (:mod:`tvmprims.tuning_templates`), or MetaSchedule's default rules.
SPACES = ("template", "default")


def tune(workload, target="llvm", trials=64, log_root=None, rpc_tracker=None, rpc_key=None,
         timeout=120, report=print, seed=None, fresh=False, space=None):
    """Tune ``workload`` with MetaSchedule and append the records to its target's log.

    The hand schedule is measured and committed to the database first, so the best record
    is never slower than the hand schedule. Ctrl-C stops the search and keeps every record
    measured so far (each one is written to the log as soon as it is measured).

    Parameters
    ----------
    workload : Workload
        What to tune (see :func:`tvmprims.build` for building one from shapes).
    target : str or Target
        Where the candidates run.
    trials : int
        Candidates to measure.
    log_root : path, optional
        Root of the logs; defaults to the repository's ``tuning_logs/`` when it is writable,
        else the user's directory.
    rpc_tracker, rpc_key : str, optional
        ``HOST:PORT`` of a TVM RPC tracker and the key its servers registered under: the
        candidates are then measured on those servers instead of this machine.
    timeout : float
        Seconds a build or a measurement may take (the 30 s defaults time out on 2 cores).
    fresh : bool
        Drop the workload's earlier records first (:func:`drop_records`).
    space : str, optional
        ``"template"``: the hand schedule with sampled tile sizes, unrolling and paths
        (:mod:`tvmprims.tuning_templates`; the default where the operator has one on the
        target); ``"default"``: MetaSchedule's own rules.
    """
    ms = meta_schedule_for_tuning()
    if int(trials) < 1:
        raise ValueError(f"trials must be positive, got {trials!r}")
    if space is None:
        space = "template" if has_template(workload, target) else "default"
    if space not in SPACES:
        raise ValueError(f"unknown space {space!r}: expected one of {SPACES}")
    if space == "template" and not has_template(workload, target):
        raise ValueError(f"{workload.op} has no template on {target}: use space='default'")
    runner = _runner(rpc_tracker, rpc_key, timeout)
    target = resolve_target(target)
    if log_root is None:
        log_root = _default_root()
    if fresh:
        dropped = drop_records(workload, target, log_root)
        report(f"[tune] dropped {dropped} earlier records of {workload.describe()}")
    directory = log_dir(log_root, target)
    database = open_database(directory, target)

    sch = hand_schedule(workload, target)
    mod = tvm.IRModule({"main": create_prim_func(workload.compute())})
    hand = Kernel(workload, target, "hand", compile_module(sch.mod, target).mod, sch.mod,
                  alignment=ALIGNMENT)  # the 64-byte function MetaSchedule tunes
    hand_seconds = hand.time(repeat=3).seconds
    # Once per workload: a resumed search (each round of tune_model) finds it there already.
    if not (database.has_workload(mod) and database.get_top_k(database.commit_workload(mod), 1)):
        _commit_hand(database, sch, workload, target, hand_seconds)
    report(f"[tune] {workload.describe()} on {target_key(target)}: hand schedule "
           f"{hand_seconds * 1e3:.4f} ms; {trials} trials in the {space} space")
    if space == "template":
        search = dict(space=template_space(workload, target),
                      strategy=ms.search_strategy.ReplayFunc())
    else:
        search = dict(strategy=_search_strategy(int(trials)))

    progress = _progress_callback(int(trials), hand_seconds, workload.flops, report)
    callbacks = [ms.measure_callback.AddToDatabase(), ms.measure_callback.RemoveBuildArtifact(),
                 ms.measure_callback.UpdateCostModel(), progress]
    scratch = tempfile.mkdtemp(prefix="tvmprims-tune-")
    interrupted, failed = False, None
    try:
        with quiet_meta_schedule():
            ms.tune_tir(mod, target, work_dir=scratch, max_trials_global=int(trials),
                        num_trials_per_iter=min(int(trials), 16), database=database,
                        builder=local_builder(timeout),
                        runner=runner,
                        measure_callbacks=callbacks, seed=seed, **search)
    except KeyboardInterrupt:
        interrupted = True
        report("[tune] interrupted: keeping the records measured so far")
    except Exception as e:  # noqa: BLE001  (TVM raises plain ValueError/RuntimeError)
        # Seen: MetaSchedule's default space rules fail on some multi-stage computations
        # (Winograd: "TensorRegion pattern match failed" in ReverseComputeAt). The hand
        # schedule's record is already in the log, so the result is still a tuned kernel.
        failed = f"{type(e).__name__}: {str(e).strip().splitlines()[-1][:200]}"
        report(f"[tune] MetaSchedule could not search this computation ({failed}); the log "
               f"keeps the hand schedule's record")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    forget_database(directory)
    clear_cache()  # kernels built before this tuning may now have a better record
    return TuneResult(workload, target_key(target), directory, progress.done, hand_seconds,
                      min(progress.best, hand_seconds), interrupted, failed)
