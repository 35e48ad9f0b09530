"""Orders: pure functions from (n, seed, epoch, options) to an int64 index array for one epoch.

No I/O and no global RNG: every random draw comes from ``np.random.Generator(Philox)`` keyed by
``SeedSequence([seed, epoch, ...])``, so an epoch's order depends on nothing else, whoever computes it.

Two layers:

* functions (``shuffle(n, seed, epoch)``, ``weighted(...)``, ``shard(...)``) for direct use and tests;
* :class:`Order` objects (``Shuffle()``, ``Weighted(w)``...) that a :class:`~ladle.Loader` calls as
  ``order(n, seed, epoch)``. Any plain callable ``(epoch) -> indices`` is accepted as an order too.

Example:
    >>> from ladle import sampling
    >>> sampling.shuffle(5, seed=0, epoch=0).tolist() != sampling.shuffle(5, seed=0, epoch=1).tolist()
    True
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

import numpy as np

from ._checks import as_index_array, as_weights, check_choice, check_int

__all__ = [
    "BlockShuffle", "ClassBalanced", "FunctionOrder", "Order", "Repeat", "Sequential", "Shuffle",
    "Subset", "Weighted", "as_order", "block_shuffle", "class_balanced", "class_weights", "rng",
    "sequential", "shard", "shuffle", "subset", "weighted",
]

#: Stream tags keep the order's generator and the batches' generators independent.
ORDER_STREAM = 0
BATCH_STREAM = 1


def rng(seed: int, epoch: int, *keys: int) -> np.random.Generator:
    """A Philox generator keyed by ``SeedSequence([seed, epoch, *keys])``.

    Example:
        >>> int(rng(1, 0).integers(100)) == int(rng(1, 0).integers(100))
        True
    """
    return np.random.Generator(np.random.Philox(np.random.SeedSequence([seed, epoch, *keys])))


def _order_rng(seed: int, epoch: int) -> np.random.Generator:
    return rng(seed, epoch, ORDER_STREAM)


def sequential(n: int) -> np.ndarray:
    """``0, 1, ..., n-1`` as int64.

    Example:
        >>> sequential(3).tolist()
        [0, 1, 2]
    """
    return np.arange(check_int("n", n, 0), dtype=np.int64)


def shuffle(n: int, seed: int, epoch: int = 0) -> np.ndarray:
    """A permutation of ``range(n)``, new for every epoch.

    Example:
        >>> sorted(shuffle(4, seed=7, epoch=2).tolist())
        [0, 1, 2, 3]
    """
    return _order_rng(seed, epoch).permutation(check_int("n", n, 0)).astype(np.int64, copy=False)


def subset(indices: Any, n: int | None = None, seed: int = 0, epoch: int = 0,
           shuffle: bool = False) -> np.ndarray:
    """The given row ids, in their order or shuffled per epoch; range-checked against ``n``.

    Example:
        >>> subset([4, 1, 3], n=5).tolist()
        [4, 1, 3]
    """
    idx = as_index_array("indices", indices, n)
    if shuffle:
        idx = idx[_order_rng(seed, epoch).permutation(idx.size)]
    return idx


def block_shuffle(n: int, block: int, seed: int, epoch: int = 0, window: int = 1) -> np.ndarray:
    """Shuffle contiguous blocks of ``block`` rows, then shuffle rows within each window of blocks.

    Reading whole blocks keeps storage reads contiguous (use the HDF5 chunk length as ``block``);
    ``window`` consecutive blocks (in shuffled order) are mixed together, so a larger window gives a
    more thorough shuffle at the cost of locality. A short last block (when ``block`` does not divide
    ``n``) stays last so later blocks stay aligned with storage chunks. The result is always a
    permutation of ``range(n)``.

    Example:
        >>> order = block_shuffle(10, block=4, seed=0)
        >>> sorted(order.tolist()) == list(range(10))
        True
    """
    n = check_int("n", n, 0)
    block = check_int("block", block, 1)
    window = check_int("window", window, 1)
    g = _order_rng(seed, epoch)
    n_blocks = -(-n // block)
    full = n // block
    # Full blocks are shuffled; a short last block stays last, so that batches of a multiple of
    # `block` rows stay aligned with storage chunks after it.
    starts = np.concatenate((g.permutation(full), np.arange(full, n_blocks))).astype(np.int64) * block
    lengths = np.minimum(starts + block, n) - starts
    # Expand shuffled blocks into row ids, vectorised.
    offsets = np.repeat(starts - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
    rows = np.arange(n, dtype=np.int64) + offsets
    # Shuffle within each window of `window` blocks: sort by (window id, random key).
    window_of_row = np.repeat(np.arange(n_blocks) // window, lengths)
    keys = g.random(n)
    return rows[np.lexsort((keys, window_of_row))]


def weighted(weights: Any, num_samples: int | None = None, replacement: bool = True,
             seed: int = 0, epoch: int = 0) -> np.ndarray:
    """Draw ``num_samples`` row ids with probability proportional to ``weights``.

    With ``replacement=False`` the draw is a weighted sample without replacement
    (Efraimidis-Spirakis keys), and rows of weight zero are never drawn.

    Example:
        >>> bool((weighted([0, 1, 0], num_samples=4, seed=0) == 1).all())
        True
    """
    w = as_weights("weights", weights)
    num = w.size if num_samples is None else check_int("num_samples", num_samples, 1)
    g = _order_rng(seed, epoch)
    if replacement:
        cdf = np.cumsum(w)
        cdf /= cdf[-1]
        out = np.searchsorted(cdf, g.random(num), side="right")
        return np.minimum(out, w.size - 1).astype(np.int64)
    positive = int(np.count_nonzero(w))
    if num > positive:
        raise ValueError(
            f"num_samples={num} exceeds the {positive} rows with a positive weight; without "
            "replacement each row is drawn at most once: lower num_samples or use replacement=True")
    with np.errstate(divide="ignore"):
        keys = g.exponential(size=w.size) / w  # smallest keys win; weight 0 -> inf, never drawn
    chosen = np.argpartition(keys, num - 1)[:num] if num < w.size else np.arange(w.size)
    return chosen[np.argsort(keys[chosen], kind="stable")].astype(np.int64)


def class_weights(labels: Any) -> np.ndarray:
    """Per-sample weights giving every class present an equal share: ``1 / (count × n_classes)``.

    Example:
        >>> class_weights([0, 0, 0, 1]).round(3).tolist()
        [0.167, 0.167, 0.167, 0.5]
    """
    y = np.asarray(labels)
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"labels must be a non-empty 1-D array, got shape {y.shape}")
    _, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    return 1.0 / (counts[inverse.reshape(-1)] * counts.size)


def class_balanced(labels: Any, num_samples: int | None = None, indices: Any = None,
                   seed: int = 0, epoch: int = 0) -> np.ndarray:
    """Draw row ids (with replacement) so each class has an equal expected share.

    ``indices`` restricts the draw to a subset of rows (labels are given for all rows); the
    classes are balanced within that subset. ``num_samples`` defaults to the subset size.

    Example:
        >>> ids = class_balanced([0] * 90 + [1] * 10, num_samples=1000, seed=0)
        >>> 400 < int((ids >= 90).sum()) < 600
        True
    """
    y = np.asarray(labels)
    if indices is None:
        rows = np.arange(y.shape[0], dtype=np.int64)
    else:
        rows = as_index_array("indices", indices, y.shape[0])
        if rows.size == 0:
            raise ValueError("indices is empty: class balancing needs at least one row")
    w = class_weights(y[rows])
    num = rows.size if num_samples is None else num_samples
    return rows[weighted(w, num, replacement=True, seed=seed, epoch=epoch)]


def shard(indices: np.ndarray, rank: int, world_size: int, even: str = "pad") -> np.ndarray:
    """The part of an epoch's ``indices`` that belongs to ``rank`` of ``world_size``.

    Ranks take interleaved positions (``rank, rank + world_size, ...``) of the shared global order,
    so they are disjoint and together cover the epoch. ``even="pad"`` repeats the first rows so all
    ranks get the same count (as torch's ``DistributedSampler``); ``even="drop"`` drops the tail.

    Example:
        >>> shard(np.arange(5), 0, 2).tolist(), shard(np.arange(5), 1, 2).tolist()
        ([0, 2, 4], [1, 3, 0])
    """
    world_size = check_int("world_size", world_size, 1)
    rank = check_int("rank", rank, 0)
    if rank >= world_size:
        raise ValueError(f"rank={rank} must be < world_size={world_size}")
    check_choice("even", even, ("pad", "drop"))
    indices = np.asarray(indices, dtype=np.int64)
    n = indices.size
    if even == "drop":
        indices = indices[: n - n % world_size]
    elif n % world_size:
        if n == 0:
            raise ValueError("cannot pad an empty epoch across ranks")
        pad = world_size - n % world_size
        indices = np.concatenate([indices, np.resize(indices, pad)])
    return indices[rank::world_size]


# --------------------------------------------------------------------------- Order objects


class Order:
    """Base class of epoch orders: ``order(n, seed, epoch) -> int64 indices``.

    Subclasses implement :meth:`__call__`; :meth:`length` tells the epoch length without drawing
    when it is known, and :meth:`bind` lets an order adapt to its source (e.g. its chunk size).

    Example:
        >>> Shuffle()(4, seed=0, epoch=0).shape
        (4,)
    """

    def __call__(self, n: int, seed: int, epoch: int) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def length(self, n: int) -> int | None:
        """Samples per epoch for a source of ``n`` rows, or None if only a draw tells."""
        return n

    def bind(self, source: Any) -> "Order":
        """Return the order to use with ``source`` (default: itself)."""
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


class Sequential(Order):
    """Rows in storage order, every epoch.

    Example:
        >>> Sequential()(3, seed=0, epoch=5).tolist()
        [0, 1, 2]
    """

    def __call__(self, n: int, seed: int, epoch: int) -> np.ndarray:
        return sequential(n)


class Shuffle(Order):
    """A fresh permutation every epoch.

    Example:
        >>> sorted(Shuffle()(3, seed=1, epoch=0).tolist())
        [0, 1, 2]
    """

    def __call__(self, n: int, seed: int, epoch: int) -> np.ndarray:
        return shuffle(n, seed, epoch)


class Subset(Order):
    """Only the given rows, in their order or reshuffled each epoch.

    Example:
        >>> Subset([3, 1])(5, seed=0, epoch=0).tolist()
        [3, 1]
    """

    def __init__(self, indices: Any, shuffle: bool = False):
        self.indices = as_index_array("indices", indices)
        self.shuffle = bool(shuffle)

    def __call__(self, n: int, seed: int, epoch: int) -> np.ndarray:
        return subset(self.indices, n, seed, epoch, self.shuffle)

    def length(self, n: int) -> int:
        return int(self.indices.size)


class BlockShuffle(Order):
    """Shuffle contiguous blocks, then rows within windows of blocks (see :func:`block_shuffle`).

    ``block=None`` takes the source's preferred block (an HDF5 source's chunk length), else 64.

    Example:
        >>> BlockShuffle(block=2)(6, seed=0, epoch=0).shape
        (6,)
    """

    DEFAULT_BLOCK = 64

    def __init__(self, block: int | None = None, window: int = 1):
        self.block = None if block is None else check_int("block", block, 1)
        self.window = check_int("window", window, 1)

    def bind(self, source: Any) -> "BlockShuffle":
        if self.block is not None:
            return self
        block = getattr(source, "block_size", None) or self.DEFAULT_BLOCK
        return BlockShuffle(int(block), self.window)

    def __call__(self, n: int, seed: int, epoch: int) -> np.ndarray:
        return block_shuffle(n, self.block or self.DEFAULT_BLOCK, seed, epoch, self.window)


class Weighted(Order):
    """Rows drawn with probability proportional to ``weights`` (one weight per source row).

    Example:
        >>> Weighted([1, 0, 1], num_samples=4)(3, seed=0, epoch=0).shape
        (4,)
    """

    def __init__(self, weights: Any, num_samples: int | None = None, replacement: bool = True):
        self.weights = as_weights("weights", weights)
        self.num_samples = None if num_samples is None else check_int("num_samples", num_samples, 1)
        self.replacement = bool(replacement)
        if not replacement and self.length(0) > np.count_nonzero(self.weights):
            weighted(self.weights, self.num_samples, False)  # raises the explanatory error

    def _check_n(self, n: int) -> None:
        if self.weights.size != n:
            raise ValueError(
                f"weights has {self.weights.size} entries but the source has {n} rows: "
                "give one weight per row")

    def __call__(self, n: int, seed: int, epoch: int) -> np.ndarray:
        self._check_n(n)
        return weighted(self.weights, self.num_samples, self.replacement, seed, epoch)

    def length(self, n: int) -> int:
        return self.weights.size if self.num_samples is None else self.num_samples


class ClassBalanced(Order):
    """Each class an equal expected share, drawn with replacement; optionally within a subset.

    Example:
        >>> ClassBalanced([0, 0, 1], num_samples=6)(3, seed=0, epoch=0).shape
        (6,)
    """

    def __init__(self, labels: Any, num_samples: int | None = None, indices: Any = None):
        self.labels = np.asarray(labels)
        self.indices = None if indices is None else as_index_array("indices", indices, len(self.labels))
        self.num_samples = None if num_samples is None else check_int("num_samples", num_samples, 1)
        class_weights(self.labels if self.indices is None else self.labels[self.indices])

    def __call__(self, n: int, seed: int, epoch: int) -> np.ndarray:
        if len(self.labels) != n:
            raise ValueError(f"labels has {len(self.labels)} entries but the source has {n} rows")
        return class_balanced(self.labels, self.num_samples, self.indices, seed, epoch)

    def length(self, n: int) -> int:
        if self.num_samples is not None:
            return self.num_samples
        return len(self.labels) if self.indices is None else int(self.indices.size)


class Repeat(Order):
    """``times`` passes of ``order`` joined into one epoch (each pass drawn independently).

    Example:
        >>> Repeat(Sequential(), 2)(2, seed=0, epoch=0).tolist()
        [0, 1, 0, 1]
    """

    def __init__(self, order: Order, times: int):
        self.order = as_order(order)
        self.times = check_int("times", times, 1)

    def bind(self, source: Any) -> "Repeat":
        return Repeat(self.order.bind(source), self.times)

    def __call__(self, n: int, seed: int, epoch: int) -> np.ndarray:
        # Pass r of epoch e is epoch e * times + r of the inner order: all passes are distinct.
        return np.concatenate([self.order(n, seed, epoch * self.times + r) for r in range(self.times)])

    def length(self, n: int) -> int | None:
        inner = self.order.length(n)
        return None if inner is None else inner * self.times


class FunctionOrder(Order):
    """Wraps a user callable ``(epoch) -> indices`` (e.g. a compatibility layer's own order).

    Example:
        >>> FunctionOrder(lambda epoch: [epoch])(5, seed=0, epoch=2).tolist()
        [2]
    """

    def __init__(self, fn: Callable[[int], Any]):
        self.fn = fn

    def __call__(self, n: int, seed: int, epoch: int) -> np.ndarray:
        return as_index_array(f"the indices returned by order {self.fn!r} for epoch {epoch}",
                              self.fn(epoch), n)

    def length(self, n: int) -> None:
        return None


_NAMED = {"sequential": Sequential, "shuffle": Shuffle, "block": BlockShuffle}


def as_order(order: Any, shuffle: bool = False) -> Order:
    """Normalise what users pass as ``order=`` into an :class:`Order`.

    Accepts None (sequential, or shuffled when ``shuffle``), a name (``"sequential"``, ``"shuffle"``,
    ``"block"``), an :class:`Order`, an array of row ids (a :class:`Subset`, shuffled when
    ``shuffle``), or a callable ``(epoch) -> indices``.

    Example:
        >>> as_order("block")
        BlockShuffle(block=None, window=1)
    """
    if order is None:
        return Shuffle() if shuffle else Sequential()
    if isinstance(order, Order):
        return order
    if isinstance(order, str):
        check_choice("order", order, _NAMED)
        return _NAMED[order]()
    if callable(order):
        try:
            n_params = len(inspect.signature(order).parameters)
        except (TypeError, ValueError):
            n_params = 1
        if n_params != 1:
            raise TypeError(f"order={order!r} must take one argument, the epoch, and return indices")
        return FunctionOrder(order)
    if isinstance(order, (list, tuple, np.ndarray, range)):
        return Subset(order, shuffle=shuffle)
    raise TypeError(
        f"order={order!r} must be None, a name ('sequential', 'shuffle', 'block'), an Order, "
        "an array of row ids, or a callable (epoch) -> indices")
