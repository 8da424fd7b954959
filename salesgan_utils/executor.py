"""Runs a list of independent, picklable jobs and returns their results in the jobs' order: in this process, on a
pool of local worker processes, or on a Ray or Dask cluster.

A job is a call `fn(context, job)`: `fn` is a module-level function (pickled by reference, so every engine runs the
same code), `context` holds the large read-only inputs every job shares (sent to each worker once, not once per
job), `job` is a small picklable spec. Every engine returns the same list in the same order, so what a caller writes
from it is written exactly as a sequential run writes it. `on_result(index, result)` sees each result as its job
finishes (in completion order), for progress lines. `cost` (one number per job, e.g. its window count) makes the
parallel engines hand the jobs out costliest first, so the last job of a call is a short one and no worker idles
long behind it (longest-processing-time-first); only the order of starting changes, never the results. An
`Engine` keeps its workers (and the context they hold) between calls, so the phases of a stage pay the start of a
pool or cluster once; `run_jobs` is one call of one. `Engine.submit` hands jobs over without waiting (a `Pending`),
so long jobs that a later phase needs can run beside the short phases before it.

Each job runs with `threads` torch threads (default 1). A fit's last bits depend on its thread count, so results
agree across engines at one thread count; and on a CPU of c cores, c single-thread fits of a small network finish
sooner than c fits one after another on c threads each.

Engines (`EXECUTORS`): `local` runs in this process when `n_jobs` is 1 and otherwise on a pool of `n_jobs` spawned
worker processes (`concurrent.futures`, no extra dependency); `ray` and `dask` submit to a cluster at `address`
(Ray: `ray://host:10001` or `host:6379`; Dask: `tcp://host:8786`) or, without one, to a local cluster of `n_jobs`
single-thread workers that the call starts and stops. Ray and Dask are an optional extra (`pip install -e
.[cluster]`); the workers of a remote cluster need this package installed at the same commit.
"""
from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any

EXECUTORS = ("local", "ray", "dask")
EXTRA_HINT = "pip install -e '.[cluster]' (or pip install ray / pip install 'dask[distributed]')"

JobFn = Callable[[Any, Any], Any]
OnResult = Callable[[int, Any], None]


def available_cores() -> int:
    """CPU cores this process may run on (the affinity mask where the OS has one, else the CPU count)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def resolve_n_jobs(n_jobs: int) -> int:
    """Worker count: `n_jobs` itself, or every available core for 0.

    Raises:
        ValueError: for a negative `n_jobs`.
    """
    n_jobs = int(n_jobs)
    if n_jobs < 0:
        raise ValueError(f"n_jobs = {n_jobs}: expected 0 (every core, {available_cores()} here) or a worker count "
                         f">= 1; set n_jobs=0 or a positive number")
    return n_jobs or available_cores()


def _set_threads(threads: int) -> int:
    """Set torch's intra-op threads; returns the previous count."""
    import torch  # lazy: the module itself runs any jobs, torch or not

    previous = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    return previous


def call_with_threads(fn: JobFn, context: Any, job: Any, threads: int) -> Any:
    """`fn(context, job)` with `threads` torch threads; how every engine's workers run a job."""
    _set_threads(threads)
    return fn(context, job)


_WORKER_CONTEXT: Any = None


def _init_worker(context: Any, threads: int) -> None:
    """Pool-worker start: keep the shared context, fix the thread counts before any torch work."""
    global _WORKER_CONTEXT
    _WORKER_CONTEXT = context
    _set_threads(threads)
    import torch

    try:  # inter-op threads can be set once, before the first parallel op; a second call raises
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass


def _call_in_worker(fn: JobFn, job: Any) -> Any:
    return fn(_WORKER_CONTEXT, job)


class Engine:
    """Where jobs run, kept between `run` calls: a pool or cluster starts at the first `run` and receives the shared
    context once, so the phases of a stage reuse the same workers. Use it as a context manager, or `close` it.

    Args:
        context: read-only inputs shared by every job of every `run` (sent once per worker).
        executor: one of EXECUTORS.
        n_jobs: worker processes (0 = every available core); `local` with 1 runs the jobs in this process.
        address: the Ray or Dask cluster to submit to ("" = start a local one of `n_jobs` workers).
        threads: torch threads per job.

    Raises:
        ValueError: an unknown executor or a negative n_jobs.
    """

    def __init__(self, context: Any = None, *, executor: str = "local", n_jobs: int = 1, address: str = "",
                 threads: int = 1):
        if executor not in EXECUTORS:
            raise ValueError(f"executor = {executor!r}: expected one of {EXECUTORS}; set executor=local (this "
                             f"machine), ray or dask (a cluster at executor_address)")
        self.context, self.executor, self.address, self.threads = context, executor, address, int(threads)
        self.n_jobs = resolve_n_jobs(n_jobs)
        self._backend = None

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def run(self, fn: JobFn, jobs: Sequence[Any], on_result: OnResult | None = None,
            cost: Sequence[float] | None = None) -> list:
        """Run `fn(context, job)` for every job and wait for them: `submit(...).result()`.

        Args:
            fn: a module-level function (picklable by reference) of (context, job).
            jobs: picklable job specs.
            on_result: called as `on_result(index, result)` when each job finishes.
            cost: an estimate of each job's run time (any unit); a pool or cluster starts the costliest first
                (ties in job order). None: job order.

        Returns:
            [fn(context, jobs[0]), fn(context, jobs[1]), ...].

        Raises:
            ImportError: `ray`/`dask` asked for without the package installed.
            ValueError: `cost` of another length than `jobs`.
        """
        return self.submit(fn, jobs, on_result, cost).result()

    def submit(self, fn: JobFn, jobs: Sequence[Any], on_result: OnResult | None = None,
               cost: Sequence[float] | None = None) -> Pending:
        """Hand the jobs to the workers and return at once (arguments as `run`'s); `Pending.result()` waits for
        them. Jobs submitted later queue behind these on a pool (a cluster schedules them as it sees fit), so a
        long submission (a stage's fair generators) runs beside the short calls that follow it (the protocol's
        phases) and the workers idle less at each phase's end. In this process (`local`, n_jobs 1) the jobs run
        here and now, one after another. `result()` returns [fn(context, jobs[0]), ...] and calls `on_result` as
        it gathers each."""
        jobs = list(jobs)
        order = submission_order(len(jobs), cost)
        if jobs and self._backend is None:
            kind = _Here if self.executor == "local" and self.n_jobs == 1 else _BACKENDS[self.executor]
            self._backend = kind(self.context, self.n_jobs, self.address, self.threads)
        gathered = self._backend.submit(fn, jobs, order) if jobs else iter(())

        def collect() -> list:
            results: list = [None] * len(jobs)
            for index, result in gathered:
                results[index] = result
                if on_result:
                    on_result(index, result)
            return results
        return Pending(collect)

    def close(self) -> None:
        """Stop the workers this engine started (a cluster it only connected to keeps running)."""
        if self._backend is not None:
            self._backend.close()
            self._backend = None


def engine_for(n_work: int, *, executor: str = "local", n_jobs: int = 1, address: str = "", threads: int = 1,
               context: Any = None) -> Engine:
    """An `Engine` for `n_work` long jobs (e.g. ensembles): no more local workers than jobs (n_jobs 0 = every
    core), so one job runs in this process; a cluster as asked. Arguments otherwise as `Engine`'s."""
    if executor == "local":
        n_jobs = min(resolve_n_jobs(n_jobs), max(1, int(n_work)))
    return Engine(context, executor=executor, n_jobs=n_jobs, address=address, threads=threads)


def run_jobs(fn: JobFn, jobs: Sequence[Any], *, context: Any = None, executor: str = "local", n_jobs: int = 1,
             address: str = "", threads: int = 1, on_result: OnResult | None = None,
             cost: Sequence[float] | None = None) -> list:
    """One `Engine(...).run(fn, jobs, on_result, cost)`, the engine closed afterwards (arguments as `Engine`'s)."""
    with Engine(context, executor=executor, n_jobs=n_jobs, address=address, threads=threads) as engine:
        return engine.run(fn, jobs, on_result, cost)


class Pending:
    """Work handed to an `Engine` and not yet waited for (`Engine.submit`): `result()` waits and returns it, once
    (later calls return the same object); `then(finish)` is a Pending of `finish(result)`."""

    def __init__(self, collect: Callable[[], Any]):
        self._collect, self._done, self._value = collect, False, None

    def result(self) -> Any:
        if not self._done:
            self._value, self._done = self._collect(), True
        return self._value

    def then(self, finish: Callable[[Any], Any]) -> Pending:
        return Pending(lambda: finish(self.result()))


def submission_order(n_jobs: int, cost: Sequence[float] | None) -> list[int]:
    """Job indices in the order a pool starts them: by descending `cost`, ties (and `cost` None) in job order.

    Raises:
        ValueError: `cost` of another length than `n_jobs`.
    """
    if cost is None:
        return list(range(n_jobs))
    cost = [float(c) for c in cost]
    if len(cost) != n_jobs:
        raise ValueError(f"cost has {len(cost)} entries for {n_jobs} jobs: give one estimate per job, or None")
    return sorted(range(n_jobs), key=lambda index: (-cost[index], index))


class _Here:
    """The jobs one after another in this process, at `threads` torch threads (the caller's count restored)."""

    def __init__(self, context, n_jobs, address, threads):
        self.context, self.threads = context, threads

    def submit(self, fn, jobs, order):
        previous = _set_threads(self.threads)  # job order: one after another, no worker to keep busy
        try:
            return iter([(index, fn(self.context, job)) for index, job in enumerate(jobs)])
        finally:
            _set_threads(previous)

    def close(self):
        pass


class _Pool:
    """`n_jobs` spawned local worker processes (concurrent.futures)."""

    def __init__(self, context, n_jobs, address, threads):
        # spawn, not fork: a forked child of a process whose OpenMP pool already ran can hang in its first
        # parallel op
        self.pool = ProcessPoolExecutor(max_workers=n_jobs, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_init_worker, initargs=(context, threads))

    def submit(self, fn, jobs, order):
        return self._gather({self.pool.submit(_call_in_worker, fn, jobs[index]): index for index in order})

    @staticmethod
    def _gather(futures):
        pending = set(futures)
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in sorted(done, key=futures.get):
                    yield futures[future], future.result()
        finally:
            for future in pending:
                future.cancel()

    def close(self):
        self.pool.shutdown(wait=True, cancel_futures=True)


def _import_engine(name: str):
    try:
        if name == "ray":
            import ray

            return ray
        import distributed

        return distributed
    except ImportError as error:
        raise ImportError(f"executor = {name!r} needs the {name} package, which is not installed: {EXTRA_HINT}; "
                          f"or set executor=local") from error


class _Ray:
    """Ray tasks of `threads` CPUs each, on the cluster at `address`, on the one this process is already
    connected to, or on a local one of `n_jobs` × `threads` CPUs (loopback) started here."""

    def __init__(self, context, n_jobs, address, threads):
        ray = self.ray = _import_engine("ray")
        self.started = not ray.is_initialized()
        if self.started:
            if address:
                ray.init(address=address, log_to_driver=False)
            else:
                ray.init(num_cpus=n_jobs * threads, include_dashboard=False, log_to_driver=False,
                         _node_ip_address="127.0.0.1")
        self.task = ray.remote(num_cpus=threads)(call_with_threads)
        self.shared, self.threads = ray.put(context), threads

    def submit(self, fn, jobs, order):
        refs = [self.task.remote(fn, self.shared, jobs[index], self.threads) for index in order]
        return self._gather(dict(zip(refs, order)))

    def _gather(self, index_of):
        pending = list(index_of)
        while pending:
            done, pending = self.ray.wait(pending, num_returns=1)
            for ref in done:
                yield index_of[ref], self.ray.get(ref)

    def close(self):
        if self.started:
            self.ray.shutdown()


class _Dask:
    """Dask futures on the scheduler at `address`, or on a local cluster of `n_jobs` single-thread worker
    processes (loopback) started here."""

    def __init__(self, context, n_jobs, address, threads):
        distributed = self.distributed = _import_engine("dask")
        self.cluster = None
        if address:
            self.client = distributed.Client(address)
        else:
            self.cluster = distributed.LocalCluster(n_workers=n_jobs, threads_per_worker=1, processes=True,
                                                    host="127.0.0.1", dashboard_address=None)
            self.client = distributed.Client(self.cluster)
        [self.shared] = self.client.scatter([context], broadcast=True)
        self.threads = threads

    def submit(self, fn, jobs, order):
        futures = [self.client.submit(call_with_threads, fn, self.shared, jobs[index], self.threads, pure=False)
                   for index in order]
        return self._gather(futures, {future.key: index for future, index in zip(futures, order)})

    def _gather(self, futures, index_of):
        for future in self.distributed.as_completed(futures):
            yield index_of[future.key], future.result()

    def close(self):
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


_BACKENDS = {"local": _Pool, "ray": _Ray, "dask": _Dask}
