"""batchup's samplers, on ladle's core: the index stream of an ``ArrayDataSource``.

A sampler says which sample indices make up each mini-batch. As in batchup:

* :class:`StandardSampler` (``range(length)``) and :class:`SubsetSampler` (given indices) go through
  the data in order, or shuffled with a permutation per pass drawn from the generator given as
  ``shuffle`` (``np.random`` for ``shuffle=True``, so ``np.random.seed`` scripts repeat exactly).
  With ``repeats != 1`` (``-1``: endless) the stream runs straight across passes (length 10,
  batch 7: ``[0..6]``, ``[7, 8, 9, 0, 1, 2, 3]``, ...); the next pass's permutation is drawn at the
  moment the previous pass runs out (when the last pass of a finite stream runs out too, as batchup
  does, so the generator is left in the same state).
* :class:`WeightedSampler` and :class:`WeightedSubsetSampler` draw every batch with replacement,
  ``rng.choice(n, size=batch_size, p=w)``, endlessly; in-order iteration is not supported.

Batching is the core :class:`~ladle.Loader`'s (``last_batch="carry"`` across passes); a sampler only
supplies each pass's order (see :class:`PassOrder`).

Example:
    >>> import numpy as np
    >>> s = StandardSampler(10, repeats=2)
    >>> [b.tolist() for b in s.in_order_indices_batch_iterator(7)]
    [[0, 1, 2, 3, 4, 5, 6], [7, 8, 9, 0, 1, 2, 3], [4, 5, 6, 7, 8, 9]]
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np

from ..._checks import as_index_array, as_weights, check_int
from ...loader import Loader
from ...parallel import BatchError
from ...sampling import Order, class_weights
from ...sources.base import IndexSource, Source

__all__ = ["AbstractSampler", "PassOrder", "StandardSampler", "SubsetSampler", "WeightedSampler",
           "WeightedSubsetSampler", "num_batches"]


def num_batches(n: int, batch_size: int) -> int:
    """Batches needed for ``n`` samples, the last one short: ``ceil(n / batch_size)``.

    Example:
        >>> num_batches(10, 3)
        4
    """
    return -(-check_int("n", n, 0) // check_int("batch_size", batch_size, 1))


def shuffle_rng(shuffle: Any) -> Any:
    """batchup's ``shuffle`` as a generator: None (in order), ``np.random`` or the one given.

    Example:
        >>> shuffle_rng(None) is None, shuffle_rng(True) is np.random
        (True, True)
    """
    if shuffle is None or shuffle is False:
        return None
    if shuffle is True:
        return np.random
    if hasattr(shuffle, "permutation") and hasattr(shuffle, "choice"):
        return shuffle
    raise TypeError(f"shuffle={shuffle!r} must be None, False, True (the global np.random), or a "
                    "np.random.RandomState/Generator; for a seed pass np.random.RandomState(seed)")


class PassOrder(Order):
    """The passes of a batchup index stream as a ladle :class:`~ladle.sampling.Order`.

    Pass ``e`` is drawn by ``draw()`` when a consumer first asks for it, which under the Loader's
    ``"carry"`` batching is the moment the previous pass runs out. Draws are shared by
    ``consumers`` consumers (a parallel composite's index schedule and its data loader): a pass is
    kept until each has taken it. ``driver(order, epoch)``, when set, may draw passes of several
    streams in their serial order before this one's is needed.

    Example:
        >>> o = PassOrder(3, lambda: np.arange(3)[::-1].copy())
        >>> o(3, seed=0, epoch=0).tolist(), o.length(3)
        ([2, 1, 0], 3)
    """

    def __init__(self, pass_length: int, draw: Callable[[], np.ndarray], consumers: int = 1,
                 n_rows: int | None = None):
        self.pass_length = int(pass_length)
        self.draw = draw
        self.consumers = consumers
        self.n_rows = n_rows
        self.driver: Callable[["PassOrder", int], None] | None = None
        self.stepping = False
        self._memo: dict[int, np.ndarray] = {}
        self._served: dict[int, int] = {}

    def length(self, n: int) -> int:
        return self.pass_length

    def ensure(self, epoch: int) -> None:
        """Draw pass ``epoch`` now unless it is drawn already (what the driver calls)."""
        if epoch not in self._memo:
            self._memo[epoch] = np.asarray(self.draw(), dtype=np.int64)

    def __call__(self, n: int, seed: int, epoch: int) -> np.ndarray:
        if epoch not in self._memo:
            if self.driver is not None and not self.stepping:
                self.driver(self, epoch)
            if epoch not in self._memo:
                if self.driver is not None and not self.stepping:
                    # past the end of the serial schedule: these batches are never delivered, so
                    # they must not consume the shared generator
                    rows = self.n_rows or self.pass_length
                    self._memo[epoch] = np.arange(self.pass_length, dtype=np.int64) % rows
                else:
                    self.ensure(epoch)
        value = self._memo[epoch]
        self._served[epoch] = self._served.get(epoch, 0) + 1
        if self._served[epoch] >= self.consumers:
            del self._memo[epoch], self._served[epoch]
        return value

    def __repr__(self) -> str:
        return f"PassOrder(pass_length={self.pass_length})"


@dataclass
class Plan:
    """How a Loader reproduces one batchup index stream.

    Attributes:
        order: the passes.
        batch_size: samples per batch.
        n_rows: rows of the indexed data (the Loader's source length).
        last_batch: ``"short"`` (one pass) or ``"carry"`` (batches run across passes).
        epochs: passes; None for an endless stream.
        final_draw: batchup's extra permutation when a finite repeated shuffled stream runs out.
    """

    order: PassOrder
    batch_size: int
    n_rows: int
    last_batch: str
    epochs: int | None
    final_draw: Callable[[], Any] | None = None
    final_done: bool = False

    @property
    def total(self) -> int | None:
        """Indices in the whole stream (None when endless)."""
        return None if self.epochs is None else self.epochs * self.order.pass_length

    def finish(self) -> None:
        """Make batchup's end-of-stream draw, once."""
        if self.final_draw is not None and not self.final_done:
            self.final_done = True
            self.final_draw()


def run_plan(plan: Plan, source: Source, convert: Callable[[Any], Any],
             final_by_stream: bool = True, **loader_kw: Any) -> Iterator[Any]:
    """Yield ``convert(batch)`` for the batches of ``source`` along ``plan`` (a generator: nothing
    is drawn before the first ``next()``, as batchup's generators).

    A worker's exception is re-raised as itself (with a note naming the batch and its rows).

    Example:
        >>> plan = StandardSampler(5)._plan(2, None)
        >>> [b.tolist() for b in run_plan(plan, IndexSource(5), lambda b: b.indices)]
        [[0, 1], [2, 3], [4]]
    """
    if plan.order.pass_length == 0:
        if plan.epochs is None:
            raise ValueError("cannot draw endless batches (repeats=-1) from no samples: the data "
                             "or the subset of indices is empty")
        return
    loader = Loader(source, plan.batch_size, order=plan.order, last_batch=plan.last_batch,
                    epochs=plan.epochs, seed=0, **loader_kw)
    total, position = plan.total, 0
    try:
        for batch in loader:
            position += batch.size
            if final_by_stream and position == total and batch.size < plan.batch_size:
                plan.finish()  # batchup draws before yielding a short final batch
            yield convert(batch)
        if final_by_stream:
            plan.finish()
    except BatchError as exc:
        cause = exc.cause
        if hasattr(cause, "add_note"):
            cause.add_note(str(exc))
        raise cause.with_traceback(cause.__traceback__) from None
    finally:
        loader.close()


class AbstractSampler:
    """Base of batchup samplers.

    Example:
        >>> StandardSampler(4).num_indices_generated()
        4
    """

    def num_indices_generated(self) -> int | float:
        """Indices the sampler generates in all (``np.inf`` when endless)."""
        raise NotImplementedError

    def in_order_indices_batch_iterator(self, batch_size: int) -> Iterator[np.ndarray]:
        """Batches of indices in order."""
        return run_plan(self._plan(batch_size, None), IndexSource(self._n_rows()), _indices)

    def shuffled_indices_batch_iterator(self, batch_size: int,
                                        shuffle_rng: Any) -> Iterator[np.ndarray]:
        """Batches of indices in random order, drawn from ``shuffle_rng``."""
        if shuffle_rng is None:
            raise TypeError("shuffle_rng=None: pass np.random or a np.random.RandomState")
        return run_plan(self._plan(batch_size, shuffle_rng), IndexSource(self._n_rows()), _indices)

    def _n_rows(self) -> int:
        raise NotImplementedError

    def _plan(self, batch_size: int, rng: Any, n_rows: int | None = None) -> Plan:
        raise NotImplementedError


def _indices(batch: Any) -> np.ndarray:
    return batch.indices


def check_repeats(repeats: Any) -> int:
    """``repeats`` as an int: ``-1`` (endless) or ``>= 1``.

    Example:
        >>> check_repeats(-1)
        -1
    """
    if isinstance(repeats, bool) or not isinstance(repeats, numbers.Integral) or (
            repeats != -1 and repeats < 1):
        raise ValueError(f"repeats={repeats!r} must be -1 (endless) or an integer >= 1")
    return int(repeats)


class _PassSampler(AbstractSampler):
    """Shared logic of the standard and subset samplers: passes over ``self._rows()``."""

    repeats: int

    def _rows(self) -> np.ndarray | None:  # None: range(length)
        raise NotImplementedError

    def _pass_length(self) -> int:
        raise NotImplementedError

    def num_indices_generated(self) -> int | float:
        return np.inf if self.repeats == -1 else self._pass_length() * self.repeats

    def _plan(self, batch_size: int, rng: Any, n_rows: int | None = None) -> Plan:
        batch_size = check_int("batch_size", batch_size, 1)
        length, rows = self._pass_length(), self._rows()
        if rng is None:
            fixed = np.arange(length, dtype=np.int64) if rows is None else rows
            draw: Callable[[], np.ndarray] = lambda: fixed
        elif rows is None:
            draw = lambda: rng.permutation(length)
        else:
            draw = lambda: rng.permutation(rows)
        n_rows = n_rows if n_rows is not None else self._n_rows()
        order = PassOrder(length, draw, n_rows=n_rows)
        final = draw if (rng is not None and self.repeats not in (1, -1)) else None
        return Plan(order, batch_size, n_rows, "short" if self.repeats == 1 else "carry",
                    None if self.repeats == -1 else self.repeats, final)


class StandardSampler(_PassSampler):
    """All of ``range(length)``, ``repeats`` times (``-1``: endless).

    Example:
        >>> rng = np.random.RandomState(0)
        >>> next(StandardSampler(5).shuffled_indices_batch_iterator(5, rng)).tolist()
        [2, 0, 1, 3, 4]
    """

    def __init__(self, length: int, repeats: int = 1):
        self.length = check_int("length", length, 0)
        self.repeats = check_repeats(repeats)

    def _rows(self) -> None:
        return None

    def _pass_length(self) -> int:
        return self.length

    def _n_rows(self) -> int:
        return self.length


class SubsetSampler(_PassSampler):
    """Only the samples at ``indices`` (in their given order when not shuffled).

    Example:
        >>> [b.tolist() for b in SubsetSampler([7, 3, 5]).in_order_indices_batch_iterator(2)]
        [[7, 3], [5]]
    """

    def __init__(self, indices: Any, repeats: int = 1):
        self.indices = as_index_array("indices", indices)
        self.repeats = check_repeats(repeats)

    def _rows(self) -> np.ndarray:
        return self.indices

    def _pass_length(self) -> int:
        return int(self.indices.size)

    def _n_rows(self) -> int:
        return int(self.indices.max()) + 1 if self.indices.size else 1


class WeightedSampler(AbstractSampler):
    """Endless batches drawn with replacement, sample ``i`` with probability ``weights[i] / sum``.

    Each batch is one ``rng.choice(n, size=batch_size, p=p)``; in-order iteration is not
    supported (``shuffle`` must be True or a generator).

    Example:
        >>> s = WeightedSampler(np.array([0.0, 1.0, 0.0]))
        >>> next(s.shuffled_indices_batch_iterator(4, np.random.RandomState(0))).tolist()
        [1, 1, 1, 1]
    """

    def __init__(self, weights: Any):
        self.weights = as_weights("weights", weights)
        self.sample_p = self.weights / self.weights.sum()

    def num_indices_generated(self) -> float:
        return np.inf

    def in_order_indices_batch_iterator(self, batch_size: int) -> Iterator[np.ndarray]:
        raise NotImplementedError(
            f"{type(self).__name__} draws samples at random with replacement, so in-order "
            "iteration is not supported: pass shuffle=True or shuffle=np.random.RandomState(seed)")

    def _n_rows(self) -> int:
        return int(self.weights.size)

    def _choice_rows(self) -> np.ndarray | None:
        return None

    def _plan(self, batch_size: int, rng: Any, n_rows: int | None = None) -> Plan:
        batch_size = check_int("batch_size", batch_size, 1)
        if rng is None:
            self.in_order_indices_batch_iterator(batch_size)
        n, p, rows = self.weights.size, self.sample_p, self._choice_rows()
        if rows is None:
            draw: Callable[[], np.ndarray] = lambda: rng.choice(n, size=(batch_size,), p=p)
        else:
            draw = lambda: rows[rng.choice(n, size=(batch_size,), p=p)]
        n_rows = n_rows if n_rows is not None else self._n_rows()
        return Plan(PassOrder(batch_size, draw, n_rows=n_rows), batch_size, n_rows, "carry", None)

    @staticmethod
    def class_balancing_sample_weights(y: Any, n_classes: int | None = None) -> np.ndarray:
        """Per-sample weights so that every class present is drawn equally often.

        The weight of a sample is ``1 / (count of its class * number of classes present)``.
        ``n_classes`` (shown in batchup's README, though batchup itself did not accept it) is
        accepted and checked against the labels; it does not change the weights.

        Example:
            >>> WeightedSampler.class_balancing_sample_weights(np.array([0, 0, 0, 1])).tolist()
            [0.16666666666666666, 0.16666666666666666, 0.16666666666666666, 0.5]
        """
        y = np.asarray(y)
        if n_classes is not None:
            n_classes = check_int("n_classes", n_classes, 1)
            if y.size and (y.min() < 0 or y.max() >= n_classes):
                raise ValueError(f"n_classes={n_classes} but the labels span {y.min()}..{y.max()}; "
                                 "labels must lie in [0, n_classes)")
        return class_weights(y)

    @classmethod
    def class_balancing_sampler(cls, y: Any, n_classes: int | None = None) -> "WeightedSampler":
        """A :class:`WeightedSampler` that compensates for class imbalance in ``y``.

        Example:
            >>> WeightedSampler.class_balancing_sampler(np.array([0, 1, 1])).sample_p.tolist()
            [0.5, 0.25, 0.25]
        """
        return WeightedSampler(cls.class_balancing_sample_weights(y, n_classes))


class WeightedSubsetSampler(WeightedSampler):
    """Like :class:`WeightedSampler`, drawing only from ``indices`` (``sub_weights[i]`` is the
    weight of sample ``indices[i]``).

    Example:
        >>> s = WeightedSubsetSampler(np.array([1.0, 0.0]), indices=np.array([8, 9]))
        >>> next(s.shuffled_indices_batch_iterator(3, np.random.RandomState(0))).tolist()
        [8, 8, 8]
    """

    def __init__(self, sub_weights: Any, indices: Any):
        super().__init__(sub_weights)
        self.indices = as_index_array("indices", indices)
        if self.indices.size != self.weights.size:
            raise ValueError(f"sub_weights has {self.weights.size} entries but indices has "
                             f"{self.indices.size}: give one weight per index")

    def _n_rows(self) -> int:
        return int(self.indices.max()) + 1

    def _choice_rows(self) -> np.ndarray:
        return self.indices

    @classmethod
    def class_balancing_sampler(cls, y: Any, indices: Any,  # type: ignore[override]
                                n_classes: int | None = None) -> "WeightedSubsetSampler":
        """A class-balancing sampler over the samples at ``indices`` (``y`` holds all labels).

        Example:
            >>> s = WeightedSubsetSampler.class_balancing_sampler(np.array([0, 1, 1, 1]), [0, 1, 2])
            >>> s.sample_p.tolist()
            [0.5, 0.25, 0.25]
        """
        indices = as_index_array("indices", indices, len(y))
        weights = WeightedSampler.class_balancing_sample_weights(np.asarray(y)[indices], n_classes)
        return cls(weights, indices)
