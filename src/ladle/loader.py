"""The Loader: the one object users iterate.

It joins a source (I/O), an order (pure), a batching policy (pure) and a transform, runs
``read + transform`` serially or on workers, and keeps a few integers of state (seed, epoch,
position) so that any run can be saved and resumed exactly.

Example:
    >>> import numpy as np
    >>> from ladle import Loader
    >>> loader = Loader({"x": np.arange(10), "y": np.arange(10) % 2}, batch_size=4, shuffle=True, seed=0)
    >>> [b.size for b in loader]
    [4, 4, 2]
"""

from __future__ import annotations

import concurrent.futures as cf
import sys
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from . import batching
from ._checks import check_choice, check_int, check_seed
from .batch import Batch
from .parallel import BACKENDS, BatchMaker, Prefetcher
from .reduce import concat_results, mean_results
from .sampling import Order, as_order, shard as shard_indices
from .sources.array import ArraySource
from .sources.base import Source

__all__ = ["BatchMaker", "Loader", "LoaderStats"]

STATE_VERSION = 1


@dataclass
class LoaderStats:
    """Counts kept by a loader, so that nothing is dropped or skipped silently.

    Attributes:
        batches: batches delivered.
        samples: samples delivered.
        dropped: samples left out by ``last_batch="drop"`` (whole epochs' remainders).
        skipped: samples a source could not read and replaced (``on_error="skip"``/``"warn"``).
        skipped_ids: the source row ids of the skipped samples (the first 1,000).

    Example:
        >>> LoaderStats().skipped
        0
    """

    batches: int = 0
    samples: int = 0
    dropped: int = 0
    skipped: int = 0
    skipped_ids: list = field(default_factory=list)


def _as_source(source: Any) -> Source:
    if isinstance(source, Source):
        return source
    if isinstance(source, (np.ndarray, Mapping, list, tuple)):
        return ArraySource(source)
    raise TypeError(f"source={type(source).__name__} is not a Source; give a ladle Source, an "
                    "array, a dict of arrays or a list of arrays")


def _describe(tag: tuple[int, int, np.ndarray]) -> tuple[int, int, np.ndarray]:
    return tag


def _detect_shard() -> tuple[int, int] | None:
    """(rank, world_size) from torch.distributed when it is imported and initialised."""
    dist = sys.modules.get("torch.distributed")
    if dist is None or not dist.is_available() or not dist.is_initialized():
        return None
    return dist.get_rank(), dist.get_world_size()


class Loader:
    """Iterate mini-batches of a source: shuffled, weighted or balanced; transformed; resumable.

    Args:
        source: a :class:`~ladle.Source`, or arrays (an array, a dict or a list of arrays).
        batch_size: samples per batch (>= 1).
        shuffle: a new permutation every epoch (when no ``order`` is given).
        seed: the seed every random draw derives from; None draws one (see ``loader.seed``).
        order: ``"sequential"``, ``"shuffle"``, ``"block"``, an :class:`~ladle.sampling.Order`,
            an array of row ids, or a callable ``(epoch) -> indices``.
        last_batch: ``"short"``, ``"drop"``, ``"merge"`` or ``"carry"`` (see :mod:`ladle.batching`).
        n_extend: widen each batch with ``n`` samples of each neighbouring batch (ketos).
        transform: ``fn(batch) -> batch`` (or None to keep it), run in the workers; random ones
            draw from ``batch.random``.
        epochs: epochs per ``iter(loader)``; None for an endless stream.
        output: None for :class:`~ladle.Batch` objects, or field names for tuples.
        return_indices: prepend the source row ids to tuple output.
        workers: 0 reads in the caller's thread; N >= 1 uses N workers of ``backend``, started on
            first use and kept across epochs until :meth:`close` (or the ``with`` block's end, or
            garbage collection).
        backend: ``"thread"`` (NumPy and HDF5 release the GIL) or ``"process"``: worker processes
            (forked where the platform allows, sharing the source without a copy) that return
            batches through shared memory (see :mod:`ladle.workers`).
        executor: any ``concurrent.futures.Executor`` (e.g. Dask's ``client.get_executor()``);
            overrides ``workers``/``backend`` and is not shut down by the loader.
        prefetch: batches in flight (default ``2 * workers``); bounds the memory in use.
        shard: ``(rank, world_size)``: this rank's share of every epoch; None detects an initialised
            ``torch.distributed``.
        even: ``"pad"`` or ``"drop"``: how shards are made equal.
        timeout: seconds to wait for a batch before raising :class:`~ladle.BatchTimeout`.
        max_error_ratio: skipped samples allowed per epoch (as a fraction) before raising.
        progress: show a tqdm progress bar while iterating.

    Example:
        >>> loader = Loader({"x": np.arange(6)}, batch_size=4, last_batch="drop", epochs=2)
        >>> [b["x"].tolist() for b in loader]
        [[0, 1, 2, 3], [0, 1, 2, 3]]
    """

    def __init__(self, source: Any, batch_size: int = 32, *, shuffle: bool = False,
                 seed: int | None = None, order: Any = None, last_batch: str = "short",
                 n_extend: int = 0, transform: Callable[[Batch], Any] | None = None,
                 epochs: int | None = 1, output: Sequence[str] | None = None,
                 return_indices: bool = False, workers: int = 0, backend: str = "thread",
                 executor: cf.Executor | None = None, prefetch: int | None = None,
                 shard: tuple[int, int] | None = None, even: str = "pad",
                 timeout: float | None = None, max_error_ratio: float = 0.05,
                 progress: bool = False):
        self.source = _as_source(source)
        self.batch_size = check_int("batch_size", batch_size, 1)
        self.last_batch = check_choice("last_batch", last_batch, batching.LAST_BATCH)
        self.n_extend = check_int("n_extend", n_extend, 0)
        self.seed = check_seed(seed)
        self.epochs = None if epochs is None else check_int("epochs", epochs, 1)
        self.workers = check_int("workers", workers, 0)
        self.backend = check_choice("backend", backend, BACKENDS)
        self.prefetch = (max(2 * self.workers, 2) if prefetch is None
                         else check_int("prefetch", prefetch, 1))
        if timeout is not None and not timeout > 0:
            raise ValueError(f"timeout={timeout!r} must be a positive number of seconds or None")
        self.timeout = timeout
        if not 0 <= max_error_ratio <= 1:
            raise ValueError(f"max_error_ratio={max_error_ratio!r} must be between 0 and 1")
        self.max_error_ratio = float(max_error_ratio)
        self.progress = bool(progress)
        if transform is not None and not callable(transform):
            raise TypeError(f"transform={transform!r} must be callable: fn(batch) -> batch")
        self.transform = transform
        self.output = None if output is None else self._check_output(output)
        self.return_indices = bool(return_indices)

        self.n = len(self.source)
        if self.n == 0:
            raise ValueError(f"the source {self.source!r} has no samples; there is nothing to load")
        if order is None and hasattr(self.source, "default_order"):
            order = self.source.default_order()
        self.order: Order = as_order(order, shuffle).bind(self.source)
        self.shuffle = bool(shuffle)
        if shard is None:
            shard = _detect_shard()
        if shard is not None:
            rank, world = shard
            check_int("world_size", world, 1)
            if not 0 <= check_int("rank", rank, 0) < world:
                raise ValueError(f"shard={shard!r}: rank must be in [0, {world})")
            shard = (int(rank), int(world))
        self.shard = shard
        self.even = check_choice("even", even, ("pad", "drop"))

        self._runner = Prefetcher(self.workers, self.backend, executor, self.prefetch, self.timeout,
                                  shared=(self.source, self.transform))
        self._maker = BatchMaker(self.source, self.transform, self.seed)
        self._cache: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._epoch = 0
        self._position = 0
        self._run_end: int | None = None
        self._generation = 0
        self.stats = LoaderStats()
        self._skipped_in: dict[int, int] = {}  # skipped samples per epoch
        self._stats_lock = threading.Lock()  # loader[i] may run in several threads (Keras)
        self._carry_len: int | None = None
        # Fail now, not at the first batch, on an impossible policy or out-of-range order.
        batching.check_policy(self._plan(0)[0].size, self.batch_size, self.last_batch,
                              self.n_extend)

    # ------------------------------------------------------------------ plan (pure)
    def _check_output(self, output: Sequence[str]) -> tuple[str, ...]:
        if isinstance(output, str):
            output = (output,)
        output = tuple(output)
        missing = [f for f in output if f not in self.source.fields]
        if missing and self.transform is None:
            raise ValueError(f"output fields {missing} are not in the source; fields: "
                             f"{list(self.source.fields)}")
        return output

    def _plan(self, epoch: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(indices, starts, stops) of an epoch, cached for the current and next epoch."""
        plan = self._cache.get(epoch)
        if plan is None:
            idx = self.order(self.n, self.seed, epoch)
            if self.shard is not None:
                idx = shard_indices(idx, *self.shard, even=self.even)
            if idx.size == 0:
                raise ValueError(f"order {self.order!r} gave an empty epoch {epoch}: nothing to load")
            if self.last_batch == "carry":
                starts = stops = np.empty(0, dtype=np.int64)
            else:
                starts, stops = batching.batch_bounds(idx.size, self.batch_size, self.last_batch,
                                                      self.n_extend)
            if len(self._cache) >= 3:
                for old in sorted(self._cache)[:-2]:
                    self._cache.pop(old, None)  # another thread may have evicted it already
            plan = self._cache[epoch] = (idx, starts, stops)
        return plan

    def _epoch_length(self, epoch: int) -> int:
        length = self.order.length(self.n)
        if length is None or self.shard is not None:
            return int(self._plan(epoch)[0].size)
        return int(length)

    def _num_batches(self, epoch: int) -> int:
        if self.last_batch != "carry":
            return int(self._plan(epoch)[1].size)
        first, stop = batching.carry_owned(self._carry_length(), self.batch_size, epoch)
        if self._run_end is not None:
            end = -(-self._run_end * self._carry_length() // self.batch_size)
            stop = min(stop, end)
        return stop - first

    def _carry_length(self) -> int:
        """Under "carry" every epoch must have the length of epoch 0 (checked when read).

        Computed once: an order known only by drawing it is not drawn again for epoch 0.
        """
        if self._carry_len is None:
            self._carry_len = self._epoch_length(0)
        return self._carry_len

    def _batch_indices(self, epoch: int, number: int) -> np.ndarray:
        if self.last_batch != "carry":
            idx, starts, stops = self._plan(epoch)
            return idx[starts[number]:stops[number]]
        length = self._carry_length()
        first, _ = batching.carry_owned(length, self.batch_size, epoch)
        begin = (first + number) * self.batch_size
        end = begin + self.batch_size
        if self._run_end is not None:
            end = min(end, self._run_end * length)
        parts = []
        pos = begin
        while pos < end:
            e, off = divmod(pos, length)
            idx = self._plan(e)[0]
            if idx.size != length:
                raise ValueError(f"last_batch='carry' needs epochs of equal length; epoch {e} has "
                                 f"{idx.size} samples, epoch 0 has {length}")
            take = min(length - off, end - pos)
            parts.append(idx[off:off + take])
            pos += take
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    # ------------------------------------------------------------------ public state
    @property
    def epoch(self) -> int:
        """The current epoch (the one ``iter`` continues and ``loader[i]`` reads)."""
        return self._epoch

    def set_epoch(self, epoch: int) -> None:
        """Start over at the beginning of ``epoch`` (as torch samplers' ``set_epoch``).

        Example:
            >>> loader = Loader({"x": np.arange(4)}, batch_size=2, shuffle=True, seed=0)
            >>> loader.set_epoch(3); loader.epoch
            3
        """
        self._epoch = check_int("epoch", epoch, 0)
        self._position = 0
        self._run_end = None
        self._generation += 1

    def __len__(self) -> int:
        """Batches in the current epoch."""
        return self._num_batches(self._epoch)

    def __getitem__(self, i: int) -> Any:
        """Batch ``i`` of the current epoch, with the same content iteration gives.

        Example:
            >>> Loader({"x": np.arange(5)}, batch_size=2)[-1]["x"].tolist()
            [4]
        """
        epoch = self._epoch  # read once: set_epoch may run in another thread
        nb = self._num_batches(epoch)
        i = check_int("i", i)
        if not -nb <= i < nb:
            raise IndexError(f"batch {i} is out of range: epoch {epoch} has {nb} batches")
        i %= nb
        batch = self._maker(self._batch_indices(epoch, i), epoch, i)
        self._account(batch)
        return self._output(batch)

    def state_dict(self) -> dict[str, Any]:
        """A few integers that let :meth:`load_state_dict` resume exactly here.

        Example:
            >>> Loader({"x": np.arange(4)}, batch_size=2, seed=5).state_dict()["seed"]
            5
        """
        return {"version": STATE_VERSION, "seed": self.seed, "epoch": self._epoch,
                "position": self._position, "run_end": self._run_end, "n": self.n,
                "batch_size": self.batch_size, "last_batch": self.last_batch}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Resume from :meth:`state_dict`: the next batches equal those the saved loader would give.

        Example:
            >>> a = Loader({"x": np.arange(9)}, batch_size=2, shuffle=True, seed=1)
            >>> it = iter(a); _ = next(it); saved = a.state_dict()
            >>> b = Loader({"x": np.arange(9)}, batch_size=2, shuffle=True)
            >>> b.load_state_dict(saved)
            >>> next(iter(b))["x"].tolist() == next(it)["x"].tolist()
            True
        """
        for key in ("n", "batch_size", "last_batch"):
            if key in state and state[key] != getattr(self, key):
                raise ValueError(f"the saved state has {key}={state[key]!r} but this loader has "
                                 f"{key}={getattr(self, key)!r}; resume with the same configuration")
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"unknown state version {state.get('version')!r}")
        self.seed = check_seed(state["seed"])
        self._maker = BatchMaker(self.source, self.transform, self.seed)
        self._cache.clear()
        self._epoch = check_int("epoch", state["epoch"], 0)
        self._position = check_int("position", state["position"], 0)
        self._run_end = state.get("run_end")
        self._generation += 1

    # ------------------------------------------------------------------ iteration
    def __iter__(self) -> Iterator[Any]:
        if self._run_end is None and self.epochs is not None:
            self._run_end = self._epoch + self.epochs
        self._generation += 1
        gen = self._iterate(self._generation)
        if self.progress:
            from tqdm.auto import tqdm

            return iter(tqdm(gen, total=self._remaining(), unit="batch", desc="ladle", leave=False))
        return gen

    def _remaining(self) -> int | None:
        if self._run_end is None:
            return None
        total = sum(self._num_batches(e) for e in range(self._epoch, self._run_end))
        return max(total - self._position, 0)

    def _tasks(self, epoch: int, start: int, stop: int):
        if self.last_batch == "carry":
            for number in range(start, stop):
                idx = self._batch_indices(epoch, number)
                yield (idx, epoch, number), (number, epoch, idx)
            return
        # the hot path of small batches: one plan lookup per epoch, Python ints for slicing
        order, starts, stops = self._plan(epoch)
        bounds = zip(starts[start:stop].tolist(), stops[start:stop].tolist())
        for number, (a, b) in enumerate(bounds, start):
            idx = order[a:b]
            yield (idx, epoch, number), (number, epoch, idx)

    def _batches(self, epoch: int, start: int, stop: int) -> Iterator[Batch]:
        """Batches ``start..stop-1`` of ``epoch``, made serially or on the workers, in order."""
        return self._runner.map(self._maker, self._tasks(epoch, start, stop), _describe)

    def _iterate(self, generation: int) -> Iterator[Any]:
        while self._run_end is None or self._epoch < self._run_end:
            nb = self._num_batches(self._epoch)
            if self._position >= nb:
                self._epoch += 1
                self._position = 0
                continue
            epoch = self._epoch
            if self._position == 0:
                if self.last_batch == "drop":
                    self.stats.dropped += self._epoch_length(epoch) - nb * self.batch_size
            for batch in self._batches(epoch, self._position, nb):
                if generation != self._generation:
                    raise RuntimeError("this iterator is stale: the loader was iterated again, "
                                       "reset or resumed since; start a new iteration")
                self._position = batch.number + 1
                self._account(batch)
                yield self._output(batch)
        self._run_end = None

    def _account(self, batch: Batch) -> None:
        """Count a delivered batch; raise once an epoch's skipped samples pass the limit."""
        n_skipped = len(batch.skipped)
        with self._stats_lock:
            stats = self.stats
            stats.batches += 1
            stats.samples += batch.size
            if not n_skipped:
                return
            stats.skipped += n_skipped
            in_epoch = self._skipped_in[batch.epoch] = self._skipped_in.get(batch.epoch, 0) + n_skipped
            for old in [e for e in self._skipped_in if e < batch.epoch - 1]:
                del self._skipped_in[old]
            room = 1000 - len(stats.skipped_ids)
            if room > 0:
                stats.skipped_ids.extend(np.asarray(batch.skipped)[:room].tolist())
            first = stats.skipped_ids[:10]
        limit = self.max_error_ratio * self._epoch_length(batch.epoch)
        if in_epoch > limit:
            raise RuntimeError(
                f"{in_epoch} samples of epoch {batch.epoch} could not be read (more than "
                f"max_error_ratio={self.max_error_ratio} of the epoch); first skipped rows: "
                f"{first}; fix the data or raise max_error_ratio")

    def _output(self, batch: Batch) -> Any:
        if self.output is None and not self.return_indices:
            return batch
        out = batch.as_tuple(*(self.output or ()))
        return (batch.indices, *out) if self.return_indices else out

    # ------------------------------------------------------------------ workers
    @property
    def executor(self) -> cf.Executor | None:
        """The executor that runs the batches (started on first use), or None when serial.

        Example:
            >>> Loader({"x": np.arange(4)}, 2).executor is None
            True
        """
        return self._runner.executor

    def close(self) -> None:
        """Stop the loader's own workers and release their shared memory, then close the source.

        An ``executor=`` given by the caller is left running. The loader stays usable: workers
        start again on the next iteration.

        Example:
            >>> with Loader({"x": np.arange(4)}, 2, workers=1) as loader:
            ...     [b["x"].tolist() for b in loader]
            [[0, 1], [2, 3]]
        """
        self._runner.close()
        self.source.close()

    def __enter__(self) -> "Loader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __getstate__(self) -> dict:
        """A loader pickles as its configuration and position, without workers or locks."""
        state = self.__dict__.copy()
        state.pop("_stats_lock")
        state["_runner"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._stats_lock = threading.Lock()
        self._runner = Prefetcher(self.workers, self.backend, None, self.prefetch, self.timeout,
                                  shared=(self.source, self.transform))

    def __del__(self) -> None:
        runner = getattr(self, "_runner", None)
        if runner is not None:
            runner.close(wait=False)

    # ------------------------------------------------------------------ map over an epoch
    def _epoch_results(self, fn: Callable[..., Any],
                       progress: bool) -> Iterator[tuple[tuple, int, bool]]:
        """``(fn(batch) as a tuple, batch size, whether fn returned a single value)`` over the
        current epoch, leaving the loader's state alone."""
        epoch = self._epoch
        nb = self._num_batches(epoch)
        batches = self._batches(epoch, 0, nb)
        if progress:
            from tqdm.auto import tqdm

            batches = tqdm(batches, total=nb, unit="batch", desc="ladle")
        for batch in batches:
            out = self._output(batch)
            res = fn(*out) if isinstance(out, tuple) else fn(out)
            single = not isinstance(res, tuple)
            yield ((res,) if single else res), batch.size, single

    def map_concat(self, fn: Callable[..., Any], progress: bool = False) -> tuple[np.ndarray, ...]:
        """Apply ``fn`` to every batch of the current epoch and concatenate the results.

        ``fn`` gets the batch (or ``*fields`` for tuple output) and returns an array or a tuple of
        arrays; the result is a tuple of concatenated arrays (batchup's ``batch_map_concat``).

        Example:
            >>> Loader({"x": np.arange(5)}, batch_size=2).map_concat(lambda b: b["x"] * 2)
            (array([0, 2, 4, 6, 8]),)
        """
        return concat_results(res for res, _, _ in self._epoch_results(fn, progress))

    def map_mean(self, fn: Callable[..., Any], sum_axis: int | None = None,
                 progress: bool = False) -> Any:
        """Mean over the samples of the current epoch of what ``fn`` returns per batch.

        As batchup's ``batch_map_mean``: ``fn`` returns per-batch *sums* (e.g. the sum of the
        losses and the number of errors), or, with ``sum_axis``, per-sample values that are summed
        along that axis; the totals are divided by the number of samples. A tuple result gives a
        tuple of means.

        Example:
            >>> loader = Loader({"x": np.arange(4.0)}, batch_size=3)
            >>> float(loader.map_mean(lambda b: b["x"].sum()))
            1.5
        """
        results = list(self._epoch_results(fn, progress))
        means = mean_results(((res, size) for res, size, _ in results), sum_axis)
        single = bool(results) and results[0][2]
        return means[0] if single and means else means

    def __repr__(self) -> str:
        return (f"Loader({self.source!r}, batch_size={self.batch_size}, order={self.order!r}, "
                f"last_batch={self.last_batch!r}, epoch={self._epoch}, seed={self.seed})")
