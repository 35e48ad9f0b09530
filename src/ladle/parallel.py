"""Parallel preparation: run ``read + transform`` for upcoming batches, in order, with bounded prefetch.

The loader hands its batch tasks to a :class:`Prefetcher`, which runs them serially, on threads, on
persistent worker processes (:class:`~ladle.workers.ProcessExecutor`: results come back through
shared memory) or on any ``concurrent.futures.Executor`` such as Dask's ``client.get_executor()``,
at most ``prefetch`` at a time, and yields them in submission order (:func:`ordered_map`).

Failures are never silent and never hang: a task's exception re-raises as :class:`BatchError`
naming the batch and its rows, with the original exception as ``__cause__`` and its traceback
text as ``BatchError.traceback``; a batch not ready within ``timeout`` raises
:class:`BatchTimeout`; a worker process that dies fails its batches with
:class:`~ladle.workers.WorkerDied` at once.

Example:
    >>> from concurrent.futures import ThreadPoolExecutor
    >>> with ThreadPoolExecutor(2) as ex:
    ...     list(ordered_map(ex, pow, [((2, k), k) for k in range(4)], prefetch=2))
    [1, 2, 4, 8]
"""

from __future__ import annotations

import concurrent.futures as cf
import traceback as _traceback
from collections import deque
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np

from ._checks import check_choice, check_int
from .batch import Batch
from .workers import ProcessExecutor, RemoteTraceback, WorkerDied

if TYPE_CHECKING:
    from .sources.base import Source

__all__ = ["BACKENDS", "BatchError", "BatchMaker", "BatchTimeout", "Prefetcher", "WorkerDied", "make_executor",
           "ordered_map"]

BACKENDS = ("thread", "process")

Tag = Any
Describe = Callable[[Tag], "tuple[int, int, np.ndarray]"]


class BatchError(RuntimeError):
    """A batch failed while being read or transformed; the cause is chained (``__cause__``).

    Attributes:
        number, epoch, indices: which batch, and its source row ids.
        cause: the original exception.

    Example:
        >>> str(BatchError(3, 0, np.array([1, 2]), ValueError("bad")))
        'batch 3 of epoch 0 (rows [1, 2]) failed: ValueError: bad'
    """

    def __init__(self, number: int, epoch: int, indices: np.ndarray, cause: BaseException):
        self.number, self.epoch, self.indices, self.cause = number, epoch, indices, cause
        rows = np.asarray(indices).tolist()
        shown = rows if len(rows) <= 16 else rows[:16] + ["..."]
        shown_s = "[" + ", ".join(map(str, shown)) + "]"
        super().__init__(f"batch {number} of epoch {epoch} (rows {shown_s}) failed: "
                         f"{type(cause).__name__}: {cause}")

    @property
    def traceback(self) -> str:
        """The original traceback text (from the worker process, for process workers).

        Example:
            >>> "ValueError: bad" in BatchError(0, 0, np.array([0]), ValueError("bad")).traceback
            True
        """
        remote = self.cause.__cause__
        if isinstance(remote, RemoteTraceback):
            return remote.tb
        return "".join(_traceback.format_exception(self.cause))

    def __reduce__(self):
        return (type(self), (self.number, self.epoch, self.indices, self.cause))


class BatchTimeout(BatchError, TimeoutError):
    """A batch took longer than the loader's ``timeout``.

    Example:
        >>> isinstance(BatchTimeout(0, 0, np.array([0]), TimeoutError("5 s")), TimeoutError)
        True
    """


class BatchMaker:
    """Reads and transforms one batch: the picklable unit of work that workers run.

    Example:
        >>> from ladle import ArraySource
        >>> maker = BatchMaker(ArraySource(x=np.arange(5)), None, seed=0)
        >>> maker(np.array([3, 1]), 0, 0)["x"].tolist()
        [3, 1]
    """

    def __init__(self, source: Source, transform: Callable[[Batch], Any] | None, seed: int):
        self.source = source
        self.transform = transform
        self.seed = seed

    def __call__(self, indices: np.ndarray, epoch: int, number: int) -> Batch:
        data = self.source.read(indices)
        batch = Batch(data, indices, epoch=epoch, number=number, seed=self.seed,
                      skipped=getattr(data, "skipped", None))
        if self.transform is None:
            return batch
        out = self.transform(batch)
        if out is None:
            return batch
        if not isinstance(out, Batch):
            if not isinstance(out, Mapping):
                raise TypeError(f"transform {self.transform!r} returned a {type(out).__name__}; it "
                                "must return the batch (or a dict of fields), or None to keep it")
            out = Batch(out, batch.indices, epoch=epoch, number=number, seed=self.seed,
                        skipped=batch.skipped)
        return out


def make_executor(workers: int, backend: str, shared: Sequence[Any] = (),
                  prefetch: int | None = None) -> cf.Executor:
    """A persistent pool of ``workers`` threads or processes.

    ``shared`` objects (the source and transform) go to worker processes once, not with every task;
    ``prefetch`` (batches in flight) sizes the processes' store of idle shared-memory slots.

    Example:
        >>> ex = make_executor(2, "thread"); ex.submit(abs, -1).result(); ex.shutdown()
        1
    """
    check_int("workers", workers, 1)
    check_choice("backend", backend, BACKENDS)
    if backend == "thread":
        return cf.ThreadPoolExecutor(workers, thread_name_prefix="ladle")
    return ProcessExecutor(workers, shared,
                           max_free_slots=None if prefetch is None else prefetch + 2)


def ordered_map(executor: cf.Executor, fn: Callable[..., Any],
                tasks: Iterable[tuple[tuple, Tag]], prefetch: int,
                timeout: float | None = None,
                describe: Describe | None = None) -> Iterator[Any]:
    """Run ``fn(*args)`` for each ``(args, tag)`` in ``tasks`` on ``executor``; yield results in order.

    At most ``prefetch`` tasks are in flight. A task's exception is re-raised as
    :class:`BatchError` built from ``describe(tag) -> (number, epoch, indices)``; a result not ready
    within ``timeout`` seconds raises :class:`BatchTimeout`. Closing the iterator cancels what is
    still pending.

    Example:
        >>> list(ordered_map(cf.ThreadPoolExecutor(1), abs, [((-3,), 0)], prefetch=1))
        [3]
    """
    prefetch = check_int("prefetch", prefetch, 1)
    it = iter(tasks)
    pending: deque = deque()

    def submit_next() -> None:
        for args, tag in it:
            pending.append((executor.submit(fn, *args), tag))
            return

    try:
        for _ in range(prefetch):
            submit_next()
        while pending:
            fut, tag = pending.popleft()
            try:
                result = fut.result(timeout=timeout)
            except cf.TimeoutError as exc:
                fut.cancel()
                if describe is None:
                    raise
                number, epoch, idx = describe(tag)
                raise BatchTimeout(number, epoch, idx, TimeoutError(
                    f"not ready after timeout={timeout} s")) from exc
            except BaseException as exc:
                if describe is None or isinstance(exc, (KeyboardInterrupt, BatchError)):
                    raise
                number, epoch, idx = describe(tag)
                raise BatchError(number, epoch, idx, exc) from exc
            submit_next()
            yield result
    finally:
        for fut, _ in pending:
            fut.cancel()


def _call(fn: Callable[..., Any], *args: Any) -> Any:
    """Run a function the executor holds already (a Dask future resolves to it on the worker)."""
    return fn(*args)


def _dask_client(executor: cf.Executor) -> Any:
    if not type(executor).__module__.startswith("distributed"):
        return None
    return getattr(executor, "_client", None)


class Prefetcher:
    """Runs a loader's batch tasks with its parallel settings and owns the workers it starts.

    ``workers=0`` runs tasks in the caller's thread. Otherwise a pool of ``backend`` workers is
    started on first use and kept across epochs, or the caller's ``executor`` is used (and left
    running). On a Dask executor, the task function (with the source and transform) is scattered
    to the workers once instead of pickled into every task.

    Its own pool is stopped and dropped (a fresh one starts on the next use) after a
    KeyboardInterrupt, a timeout or a dead worker, so nothing is left running or hanging.

    Example:
        >>> p = Prefetcher(workers=2, backend="thread", prefetch=4)
        >>> list(p.map(abs, [((-k,), k) for k in range(5)], describe=None))
        [0, 1, 2, 3, 4]
        >>> p.close()
    """

    def __init__(self, workers: int = 0, backend: str = "thread",
                 executor: cf.Executor | None = None, prefetch: int = 2,
                 timeout: float | None = None, shared: Sequence[Any] = ()):
        self.workers = check_int("workers", workers, 0)
        self.backend = check_choice("backend", backend, BACKENDS)
        self.prefetch = check_int("prefetch", prefetch, 1)
        self.timeout = timeout
        self.shared = tuple(shared)
        self.external = executor
        self._own: cf.Executor | None = None
        self._scattered: tuple[Any, Any] | None = None

    @property
    def executor(self) -> cf.Executor | None:
        """The executor in use (started on first access), or None for serial runs."""
        if self.external is not None:
            return self.external
        if self.workers == 0:
            return None
        if self._own is None:
            self._own = make_executor(self.workers, self.backend, self.shared, self.prefetch)
        return self._own

    def map(self, fn: Callable[..., Any], tasks: Iterable[tuple[tuple, Tag]],
            describe: Describe | None) -> Iterator[Any]:
        """``fn(*args)`` for each ``(args, tag)``, in order; failures become :class:`BatchError`."""
        executor = self.executor
        if executor is None:
            yield from _serial(fn, tasks, describe)
            return
        client = _dask_client(executor)
        if client is not None:
            fn, tasks = self._scatter(client, fn, tasks)
        try:
            yield from ordered_map(executor, fn, tasks, self.prefetch, self.timeout, describe)
        except KeyboardInterrupt:
            self.close(wait=False)
            raise
        except BatchError as exc:
            if isinstance(exc, BatchTimeout) or isinstance(exc.cause, WorkerDied):
                self.close(wait=False)
            raise

    def _scatter(self, client: Any, fn: Callable[..., Any], tasks: Iterable) -> tuple[Callable, Iterable]:
        if self._scattered is None or self._scattered[0] is not fn:
            self._scattered = (fn, client.scatter(fn, broadcast=True, hash=False))
        remote = self._scattered[1]
        return _call, (((remote, *args), tag) for args, tag in tasks)

    def close(self, wait: bool = True) -> None:
        """Stop the workers this prefetcher started (not an executor given by the caller).

        Example:
            >>> p = Prefetcher(workers=1); p.executor is not None; p.close()
            True
        """
        own, self._own = self._own, None
        self._scattered = None
        if own is not None:
            own.shutdown(wait=wait, cancel_futures=True)


def _serial(fn: Callable[..., Any], tasks: Iterable[tuple[tuple, Tag]],
            describe: Describe | None) -> Iterator[Any]:
    for args, tag in tasks:
        try:
            result = fn(*args)
        except Exception as exc:
            if describe is None:
                raise
            raise BatchError(*describe(tag), exc) from exc
        yield result
