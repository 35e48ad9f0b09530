"""Parallel preparation: run ``read + transform`` for upcoming batches, in order, with bounded prefetch.

The loader hands :func:`ordered_map` a stream of batch tasks; they run on an executor (threads,
processes, or any ``concurrent.futures.Executor`` such as Dask's ``client.get_executor()``), at most
``prefetch`` at a time, and come back in submission order. A failure names the batch and its rows.

Example:
    >>> from concurrent.futures import ThreadPoolExecutor
    >>> with ThreadPoolExecutor(2) as ex:
    ...     list(ordered_map(ex, pow, [((2, k), k) for k in range(4)], prefetch=2))
    [1, 2, 4, 8]
"""

from __future__ import annotations

import concurrent.futures as cf
from collections import deque
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from ._checks import check_choice, check_int

__all__ = ["BACKENDS", "BatchError", "BatchTimeout", "make_executor", "ordered_map"]

BACKENDS = ("thread", "process")


class BatchError(RuntimeError):
    """A batch failed while being read or transformed; the cause is chained (``__cause__``).

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

    def __reduce__(self):
        return (type(self), (self.number, self.epoch, self.indices, self.cause))


class BatchTimeout(BatchError, TimeoutError):
    """A batch took longer than the loader's ``timeout``.

    Example:
        >>> isinstance(BatchTimeout(0, 0, np.array([0]), TimeoutError("5 s")), TimeoutError)
        True
    """


def make_executor(workers: int, backend: str) -> cf.Executor:
    """A persistent pool of ``workers`` threads or processes.

    Example:
        >>> ex = make_executor(2, "thread"); ex.submit(abs, -1).result(); ex.shutdown()
        1
    """
    check_int("workers", workers, 1)
    check_choice("backend", backend, BACKENDS)
    if backend == "thread":
        return cf.ThreadPoolExecutor(workers, thread_name_prefix="ladle")
    return cf.ProcessPoolExecutor(workers)


def ordered_map(executor: cf.Executor, fn: Callable[..., Any],
                tasks: Iterable[tuple[tuple, Any]], prefetch: int,
                timeout: float | None = None,
                describe: Callable[[Any], tuple[int, int, np.ndarray]] | None = None) -> Iterator[Any]:
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
