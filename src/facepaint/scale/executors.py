"""Where shots are painted: a pool of local processes, or a Dask cluster.

Both take the same picklable task functions and give :class:`concurrent.futures.Future` s, so the
run (:mod:`facepaint.scale.run`) does not know which it has. Tasks are coarse (a shot: seconds
to minutes) and exchange only paths and small reports.

- :class:`LocalPool`: worker processes of this machine (spawned interpreters: nothing of the
  parent's threads is forked). A worker that dies (killed, out of memory) breaks the pool; the
  pool is then made anew and the unfinished tasks are given again, up to ``retries`` times each.
- :class:`DaskPool` (extra ``scale``): a ``distributed.Client`` of a running cluster
  (``--scheduler ADDRESS``) or of a ``LocalCluster`` it starts and stops; Dask's scheduler gives
  a dead worker's tasks to another worker itself.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from facepaint.errors import FacepaintError, InputError, MissingDependencyError


class WorkerDied(FacepaintError):
    """A worker process died while painting a shot, more often than the retries allow."""


def local_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


#: Seconds an orphaned worker (its parent killed) is given to unwind its shot before it exits.
_ORPHAN_GRACE_S = 10.0


def _init_local_worker(threads: int | None) -> None:
    """A local pool worker's start: settings before numba is imported, and signals. Ctrl-C
    reaches the whole process group: the parent alone handles it and stops the workers with
    SIGTERM, on which a worker unwinds (its writer removes its temporary file) and exits; when
    the parent dies without that (kill -9), the worker notices within a second and stops too."""
    from facepaint.scale.tasks import prepare_worker

    prepare_worker(threads)
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    def stop(signum, frame):
        # Once: a second SIGTERM (the parent watch below) must not cut the unwinding short
        # before the writer has removed its temporary file.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    # When the parent dies without stopping us (kill -9), stop too. Not PR_SET_PDEATHSIG: it
    # fires when the parent *thread* that started the worker ends, and a pool replaced after a
    # worker died is started from the old pool's management thread, which ends soon after: the
    # new workers were killed as they started (a retried shot "died" three times).
    parent = os.getppid()

    def watch_parent() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)
        # The SystemExit it raises ends the task, but the pool's worker loop reports it as the
        # task's exception and takes the next task it had already been handed (seen: an orphan
        # painting on at 120 % CPU): once the shot has unwound (its writer removed its
        # temporary file), leave for good.
        time.sleep(_ORPHAN_GRACE_S)
        os._exit(128 + signal.SIGTERM)

    threading.Thread(target=watch_parent, name="facepaint-parent-watch", daemon=True).start()


class LocalPool:
    """Worker processes on this machine.

    Parameters
    ----------
    workers : int
        Processes (default: the local cores).
    threads_per_worker : int, optional
        Threads of each painter's parallel kernels (default: cores // workers, at least 1).
    retries : int
        How many times a task is given again after its worker died.
    """

    def __init__(self, workers: int | None = None, *, threads_per_worker: int | None = None, retries: int = 2) -> None:
        workers = local_cores() if workers is None else int(workers)
        if workers < 1:
            raise InputError(f"--workers must be at least 1, got {workers}")
        self.workers = workers
        self.threads = threads_per_worker or max(1, local_cores() // workers)
        self.retries = retries
        self._lock = threading.Lock()
        self._pool = self._new_pool()
        self._closed = False

    def describe(self) -> str:
        return f"{self.workers} local worker process(es), {self.threads} thread(s) each"

    def _new_pool(self) -> cf.ProcessPoolExecutor:
        return cf.ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_local_worker,
            initargs=(self.threads,),
        )

    def submit(self, fn: Callable[[Any], Any], task: Any) -> cf.Future:
        """Run ``fn(task)`` in a worker; the future's result is its return value."""
        outer: cf.Future = cf.Future()
        self._attempt(fn, task, outer, 0)
        return outer

    def _attempt(self, fn, task, outer: cf.Future, attempt: int) -> None:
        with self._lock:
            if self._closed:
                outer.set_exception(cf.CancelledError())
                return
            pool = self._pool
            inner = pool.submit(fn, task)

        def done(inner: cf.Future) -> None:
            # The outer future is only ever set, never cancelled: concurrent.futures.as_completed
            # and wait() are not woken by Future.cancel().
            if outer.done():
                return
            if inner.cancelled():
                outer.set_exception(cf.CancelledError())
                return
            error = inner.exception()
            # A worker that died breaks the pool, and the pool then stops its other workers
            # with SIGTERM: a task running there ends with our SIGTERM handler's SystemExit
            # (when the worker reports it before the pool is seen broken). Both are retried.
            died = isinstance(error, cf.process.BrokenProcessPool) or (
                isinstance(error, SystemExit) and error.code == 128 + signal.SIGTERM
            )
            if died and not self._closed:
                if attempt < self.retries:
                    with self._lock:
                        if self._pool is pool and not self._closed:  # the first to see it replaces the pool
                            self._pool = self._new_pool()
                            pool.shutdown(wait=False, cancel_futures=True)
                    self._attempt(fn, task, outer, attempt + 1)
                    return
                outer.set_exception(WorkerDied(f"a worker process died {attempt + 1} time(s) painting {task_name(task)}; giving up on it"))
                return
            if error is not None:
                outer.set_exception(error)
            else:
                outer.set_result(inner.result())

        inner.add_done_callback(done)

    def shutdown(self, *, cancel: bool = False) -> None:
        """Stop the workers: after their tasks, or at once (``cancel``: SIGTERM to each, then
        SIGKILL to any still alive after 10 s)."""
        with self._lock:
            self._closed = True
            pool = self._pool
        if not cancel:
            pool.shutdown(wait=True)
            return
        processes = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
                process.join(timeout=5)


def task_name(task: Any) -> str:
    shot = getattr(task, "shot", None)
    source = getattr(task, "source", "")
    return f"shot {shot.index} of '{source}'" if shot is not None else repr(task)


class DaskPool:
    """Shots on a Dask cluster (the optional extra ``scale``).

    Parameters
    ----------
    address : str, optional
        Address of a running scheduler (``tcp://host:8786``). None: start a ``LocalCluster`` of
        ``workers`` processes with one thread each, stopped by :meth:`shutdown`.
    workers : int, optional
        Processes of the local cluster (default: the local cores).
    retries : int
        Retries of a task that raised (a worker that dies is handled by the scheduler, which
        gives its task to another worker).
    """

    def __init__(self, address: str | None = None, *, workers: int | None = None, retries: int = 1) -> None:
        try:
            import distributed
        except ImportError as error:
            raise MissingDependencyError("running on Dask (--scheduler)", "scale") from error
        self.retries = retries
        self.cluster = None
        if address is None:
            from facepaint.scale.tasks import prepare_worker  # noqa: F401 (importable by workers)

            workers = local_cores() if workers is None else int(workers)
            if workers < 1:
                raise InputError(f"--workers must be at least 1, got {workers}")
            threads = max(1, local_cores() // workers)
            env = {"NUMBA_NUM_THREADS": str(threads)}
            if "NUMBA_CACHE_DIR" in os.environ:
                env["NUMBA_CACHE_DIR"] = os.environ["NUMBA_CACHE_DIR"]
            self.cluster = distributed.LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                silence_logs=50, env=env,
            )
            self.client = distributed.Client(self.cluster)
            self.address = self.cluster.scheduler_address
        else:
            try:
                self.client = distributed.Client(address, timeout="20s")
            except (OSError, TimeoutError) as error:
                raise InputError(f"cannot reach the Dask scheduler at '{address}' ({error}); check the address and that it runs") from error
            self.address = address
        self._futures: set = set()

    def describe(self) -> str:
        n = len(self.client.scheduler_info(n_workers=-1).get("workers", {}))
        where = "a local Dask cluster" if self.cluster is not None else f"the Dask scheduler {self.address}"
        return f"{where}, {n} worker(s)"

    def submit(self, fn: Callable[[Any], Any], task: Any) -> cf.Future:
        """Run ``fn(task)`` on a Dask worker; the future's result is its return value."""
        remote = self.client.submit(fn, task, pure=False, retries=self.retries, key=f"facepaint-{task_name(task)}-{id(task)}")
        self._futures.add(remote)
        outer: cf.Future = cf.Future()

        def done(remote) -> None:
            self._futures.discard(remote)
            if outer.done():
                return
            try:
                if remote.status == "finished":
                    outer.set_result(remote.result())
                elif remote.status == "cancelled":
                    outer.set_exception(cf.CancelledError())
                else:
                    outer.set_exception(remote.exception())
            except BaseException as error:  # the client closed under it
                if not outer.done():
                    outer.set_exception(error)

        remote.add_done_callback(done)
        return outer

    def shutdown(self, *, cancel: bool = False) -> None:
        """Cancel what is left (``cancel``) and close the client, and the local cluster if this
        pool started one (its worker processes stop with it)."""
        try:
            if cancel and self._futures:
                self.client.cancel(list(self._futures), force=True)
        finally:
            self.client.close()
            if self.cluster is not None:
                self.cluster.close()


def make_pool(*, workers: int | None = None, scheduler: str | None = None, dask: bool = False):
    """The pool a run asks for: Dask when ``scheduler`` is given (or ``dask``), else local."""
    if scheduler is not None or dask:
        return DaskPool(scheduler, workers=workers)
    return LocalPool(workers)
