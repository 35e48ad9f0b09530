"""batchup's worker pools on ladle's core: batches prepared in background threads or processes.

``pool.parallel_data_source(ds, batch_buffer_size=20)`` wraps a random-access data source; its
``batch_iterator`` is a core :class:`~ladle.Loader` with ``workers=processes`` workers of the
pool's backend (``"thread"`` or ``"process"``: forked processes sharing the data, returning
batches through shared memory), keeping up to ``batch_buffer_size`` batches in flight; the
workers stop when the iteration ends. The batches, and their order, are those of serial
iteration (the index order is drawn in the caller's thread, in batchup's order, also for
composites whose members share one ``RandomState``). A worker's exception is re-raised by
``next()`` as itself, with a note naming the batch and its rows.

Where processes cannot be forked, the data source (and any ``map`` function) is pickled to them:
define them at the top level of a module.

Example:
    >>> import numpy as np
    >>> from ladle.compat.batchup import data_source
    >>> ds = data_source.ArrayDataSource([np.arange(10)])
    >>> with WorkerThreadPool(processes=2) as pool:
    ...     par = pool.parallel_data_source(ds, batch_buffer_size=4)
    ...     [b[0].tolist() for b in par.batch_iterator(4)]
    [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
"""

from __future__ import annotations

import concurrent.futures as cf
from collections import deque
from typing import Any, Callable, Iterable, Iterator

from ..._checks import check_int
from ...sources.base import IndexSource
from . import sampling
from .data_source import AbstractDataSource, CompositeDataSource, MapDataSource
from .sampling import shuffle_rng

__all__ = ["ParallelDataSource", "WorkerProcessPool", "WorkerThreadPool", "work_stream"]


class _WorkerPool:
    """``processes`` workers (threads or processes): the settings of the Loaders that
    :meth:`parallel_data_source` runs, and a persistent executor for :meth:`work_stream`."""

    backend = "thread"

    def __init__(self, processes: int = 1):
        self.processes = check_int("processes", processes, 1)
        self._executor: cf.Executor | None = None

    @property
    def executor(self) -> cf.Executor:
        """The executor of :meth:`work_stream` (started on first use)."""
        if self._executor is None:
            if self.backend == "thread":
                self._executor = cf.ThreadPoolExecutor(self.processes,
                                                       thread_name_prefix="ladle-batchup")
            else:
                self._executor = cf.ProcessPoolExecutor(self.processes)
        return self._executor

    def parallel_data_source(self, data_source: AbstractDataSource,
                             batch_buffer_size: int = 20) -> "ParallelDataSource":
        """A data source giving ``data_source``'s batches, prepared by this pool's workers.

        Example:
            >>> import numpy as np
            >>> from ladle.compat.batchup.data_source import ArrayDataSource
            >>> pool = WorkerThreadPool(1)
            >>> pool.parallel_data_source(ArrayDataSource([np.zeros(3)])).num_samples()
            3
        """
        return ParallelDataSource(self, data_source, batch_buffer_size)

    def work_stream(self, task_generator: Iterable[Any],
                    task_buffer_size: int = 20) -> Iterator[Any]:
        """Run tasks on the pool, yielding their results in order (see :func:`work_stream`).

        Example:
            >>> list(WorkerThreadPool(2).work_stream([(abs, (-1,)), (abs, (-2,))]))
            [1, 2]
        """
        yield from work_stream(self.executor, task_generator, task_buffer_size)

    def close(self) -> None:
        """Stop the workers."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def __enter__(self):
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        ex = getattr(self, "_executor", None)
        if ex is not None:
            ex.shutdown(wait=False, cancel_futures=True)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(processes={self.processes})"


class WorkerThreadPool(_WorkerPool):
    """A pool of ``processes`` worker threads (NumPy and HDF5 reads release the GIL).

    Example:
        >>> WorkerThreadPool(processes=4)
        WorkerThreadPool(processes=4)
    """

    backend = "thread"


class WorkerProcessPool(_WorkerPool):
    """A pool of ``processes`` worker processes, for data sources that are not thread-safe.

    Example:
        >>> WorkerProcessPool(processes=2).backend
        'process'
    """

    backend = "process"


def _task_call(task: Any) -> tuple[Callable, tuple, dict]:
    if callable(task):
        return task, (), {}
    if isinstance(task, tuple) and task and callable(task[0]) and len(task) in (2, 3):
        return task[0], tuple(task[1]), dict(task[2]) if len(task) == 3 else {}
    raise TypeError(f"task {task!r:.80} must be a callable, (fn, args) or (fn, args, kwargs)")


def work_stream(executor: cf.Executor, task_generator: Iterable[Any],
                task_buffer_size: int = 20) -> Iterator[Any]:
    """Run ``task_generator``'s tasks on ``executor``, ``task_buffer_size`` at a time, in order.

    A task is a callable, ``(fn, args)`` or ``(fn, args, kwargs)``. A task's exception is re-raised
    when its result is due.

    Example:
        >>> with cf.ThreadPoolExecutor(2) as ex:
        ...     list(work_stream(ex, ((pow, (2, k)) for k in range(4)), task_buffer_size=2))
        [1, 2, 4, 8]
    """
    task_buffer_size = check_int("task_buffer_size", task_buffer_size, 1)
    tasks = iter(task_generator)
    pending: deque = deque()

    def submit() -> None:
        for task in tasks:
            fn, args, kwargs = _task_call(task)
            pending.append(executor.submit(fn, *args, **kwargs))
            return

    try:
        for _ in range(task_buffer_size):
            submit()
        while pending:
            fut = pending.popleft()
            submit()
            yield fut.result()
    finally:
        for fut in pending:
            fut.cancel()


def _is_leaf(ds: AbstractDataSource) -> bool:
    """A random-access source whose batches come from one index array."""
    if isinstance(ds, MapDataSource):
        return _is_leaf(ds.source)
    return ds.is_random_access and not isinstance(ds, CompositeDataSource)


class _Schedule:
    """The serial order of a composite's index draws, replayed on demand.

    Parallel members' loaders ask for passes ahead of time; before one is drawn, the composite's
    serial index iteration (a zip of the members' index streams) is advanced until that pass has
    been drawn, so every pass is drawn from the shared generator in batchup's serial order.
    """

    def __init__(self, plans: list[sampling.Plan], index_iter: Iterator):
        self.plans = plans
        self.index_iter = index_iter
        self.exhausted = False
        for plan in plans:
            plan.order.consumers = 2
            plan.order.driver = self.advance

    def advance(self, order: sampling.PassOrder, epoch: int) -> None:
        while epoch not in order._memo and not self.exhausted:
            self.step()

    def step(self) -> None:
        for plan in self.plans:
            plan.order.stepping = True
        try:
            next(self.index_iter)
        except StopIteration:
            self.exhausted = True
        finally:
            for plan in self.plans:
                plan.order.stepping = False

    def drain(self) -> None:
        """Finish the serial schedule (batchup's end-of-stream draws happen here)."""
        while not self.exhausted:
            self.step()


class _Primed:
    """An iterator that has already asked for its first item (so the workers are busy), keeps its
    pool alive, and raises a failure of that first item on the first ``next()``."""

    def __init__(self, it: Iterator, pool: _WorkerPool):
        self._it, self._pool = it, pool
        self._first: list = []
        self._error: BaseException | None = None
        try:
            self._first.append(next(it))
        except StopIteration:
            pass
        except Exception as exc:  # noqa: BLE001 - re-raised by next()
            self._error = exc

    def __iter__(self) -> "_Primed":
        return self

    def __next__(self) -> Any:
        if self._error is not None:
            err, self._error = self._error, None
            self._it = iter(())
            raise err
        if self._first:
            return self._first.pop()
        return next(self._it)


class ParallelDataSource(AbstractDataSource):
    """``data_source``'s batches, prepared by ``pool``'s workers (see the module docstring).

    Example:
        >>> import numpy as np
        >>> from ladle.compat.batchup.data_source import ArrayDataSource
        >>> par = WorkerThreadPool(2).parallel_data_source(ArrayDataSource([np.arange(3)]), 2)
        >>> [b[0].tolist() for b in par.batch_iterator(2)]
        [[0, 1], [2]]
    """

    def __init__(self, pool: _WorkerPool, data_source: AbstractDataSource,
                 batch_buffer_size: int = 20):
        if not isinstance(data_source, AbstractDataSource) or not data_source.is_random_access:
            raise TypeError(f"parallel_data_source needs a random-access data source (an "
                            f"ArrayDataSource, a map or composite of them...), not "
                            f"{type(data_source).__name__}")
        self.pool = pool
        self.data_source = data_source
        self.batch_buffer_size = check_int("batch_buffer_size", batch_buffer_size, 1)

    def num_samples(self, **kwargs: Any) -> int | float | None:
        return self.data_source.num_samples(**kwargs)

    def batch_iterator(self, batch_size: int, shuffle: Any = None, **kwargs: Any) -> Iterator:
        """The batches of the wrapped source; the workers start filling the buffer at once."""
        rng = shuffle_rng(shuffle)
        ds = self.data_source
        if _is_leaf(ds):
            batches = self._leaf_batches(ds, ds._leaf_plan(batch_size, rng))  # type: ignore
        else:
            batches = self._tree_batches(ds, batch_size, rng)
        return _Primed(batches, self.pool)

    def _leaf_batches(self, ds: Any, plan: sampling.Plan, final_by_stream: bool = True) -> Iterator:
        return sampling.run_plan(plan, ds._ladle_source(), ds._convert, final_by_stream,
                                 workers=self.pool.processes, backend=self.pool.backend,
                                 prefetch=self.batch_buffer_size)

    def _tree_batches(self, ds: AbstractDataSource, batch_size: int, rng: Any) -> Iterator:
        plans: list[sampling.Plan] = []

        def build(node: AbstractDataSource) -> tuple[Iterator, Iterator]:
            """(serial index iterator, parallel batch iterator) of a node."""
            if _is_leaf(node):
                plan = node._leaf_plan(batch_size, rng)  # type: ignore[attr-defined]
                plans.append(plan)
                index = sampling.run_plan(plan, IndexSource(plan.n_rows),
                                          lambda b: b.indices)
                return index, self._leaf_batches(node, plan, final_by_stream=False)
            if isinstance(node, MapDataSource):
                index, batches = build(node.source)
                return index, (node.fn(*b) for b in batches)
            assert isinstance(node, CompositeDataSource)
            parts = [build(d) for d in node.datasets]
            index = zip(*[p[0] for p in parts])
            batches = (node._prepare(b) for b in zip(*[p[1] for p in parts]))
            return index, batches

        index_iter, batch_iter = build(ds)
        # each leaf's index stream makes batchup's end-of-stream draw at its serial moment
        schedule = _Schedule(plans, index_iter)

        def generate() -> Iterator:
            yield from batch_iter
            schedule.drain()

        return generate()

