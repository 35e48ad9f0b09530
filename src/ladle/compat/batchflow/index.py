"""batchflow's ``DatasetIndex``: the item ids of a dataset, and batches of them.

``next_batch``/``gen_batch`` are a core :class:`~ladle.Loader` over the index positions: without
``drop_last`` batches run across epoch boundaries (``last_batch="carry"``: 4 items, batch 3, 2
epochs give ``[0, 1, 2]``, ``[3, 0, 1]``, ``[2, 3]``); with it each epoch's tail is dropped. A
shuffled index is reshuffled every epoch; ``shuffle`` may be True (a fresh seed), a seed, or a
``np.random.RandomState``/``Generator`` (one permutation per epoch drawn from it).

Example:
    >>> ix = DatasetIndex(4)
    >>> [b.indices.tolist() for b in ix.gen_batch(3, n_epochs=2)]
    [[0, 1, 2], [3, 0, 1], [2, 3]]
"""

from __future__ import annotations

import itertools
import numbers
from typing import Any, Iterator

import numpy as np
import pandas as pd

from ..._checks import check_int
from ...batch import Batch as CoreBatch
from ...loader import Loader
from ...sampling import Order
from ...sources.base import IndexSource

__all__ = ["DatasetIndex"]


class _EpochPermutations(Order):
    """One permutation per epoch from a user's generator, drawn when the Loader first needs it."""

    def __init__(self, n: int, rng: Any):
        self.n, self.rng = n, rng
        self._memo: dict[int, np.ndarray] = {}

    def length(self, n: int) -> int:
        return self.n

    def __call__(self, n: int, seed: int, epoch: int) -> np.ndarray:
        if epoch not in self._memo:
            for old in [e for e in self._memo if e < epoch - 2]:
                del self._memo[old]
            self._memo[epoch] = np.asarray(self.rng.permutation(self.n), dtype=np.int64)
        return self._memo[epoch]


def _order_and_seed(n: int, shuffle: Any) -> tuple[Any, int | None, bool]:
    """(order, seed, shuffle flag) for a Loader from batchflow's ``shuffle`` argument."""
    if shuffle is None or shuffle is False:
        return None, 0, False
    if shuffle is True:
        return None, None, True
    if isinstance(shuffle, numbers.Integral):
        if shuffle < 0:
            raise ValueError(f"shuffle={shuffle} must be a non-negative seed")
        return None, int(shuffle), True
    if hasattr(shuffle, "permutation"):
        return _EpochPermutations(n, shuffle), 0, False
    raise TypeError(f"shuffle={shuffle!r} must be a bool, a seed (int) or a "
                    "np.random.RandomState/Generator")


def position_batches(n: int, batch_size: int, shuffle: Any = False, n_iters: int | None = None,
                     n_epochs: int | None = None, drop_last: bool = False) -> Iterator[CoreBatch]:
    """Core batches of positions ``0..n-1`` (``batch.indices``) with batchflow's iteration rules.

    Example:
        >>> [b.indices.tolist() for b in position_batches(4, 3, n_epochs=2, drop_last=True)]
        [[0, 1, 2], [0, 1, 2]]
    """
    batch_size = check_int("batch_size", batch_size, 1)
    if n_iters is not None and n_epochs is not None:
        raise ValueError(f"n_iters={n_iters} and n_epochs={n_epochs}: give only one of them "
                         "(both None iterates endlessly)")
    if n_iters is not None:
        n_iters = check_int("n_iters", n_iters, 1)
    if n_epochs is not None:
        n_epochs = check_int("n_epochs", n_epochs, 1)
    if n == 0:
        raise ValueError("the index is empty: there is nothing to iterate")
    order, seed, shuffled = _order_and_seed(n, shuffle)
    loader = Loader(IndexSource(n), batch_size, shuffle=shuffled, seed=seed, order=order,
                    last_batch="drop" if drop_last else "carry", epochs=n_epochs)
    batches = iter(loader)
    return itertools.islice(batches, n_iters) if n_iters is not None else batches


class BatchIteration:
    """batchflow's stateful iteration, shared by :class:`DatasetIndex` and ``Dataset``:
    :meth:`next_batch` walks the iteration that :meth:`gen_batch` (defined by each class) gives.
    """

    _iter: Iterator | None = None
    _iter_params: tuple | None = None

    def gen_batch(self, *args: Any, **kwargs: Any) -> Iterator:  # pragma: no cover - abstract
        raise NotImplementedError

    def next_batch(self, batch_size: int, shuffle: Any = False, n_iters: int | None = None,
                   n_epochs: int | None = None, drop_last: bool = False,
                   *args: Any, **kwargs: Any) -> Any:
        """The next batch of the iteration these arguments describe (a new iteration starts when
        they change, or after :meth:`reset_iter`); raises StopIteration when it is over.

        Example:
            >>> ix = DatasetIndex(3)
            >>> ix.next_batch(2).indices.tolist(), ix.next_batch(2).indices.tolist()
            ([0, 1], [2, 0])
        """
        params = (batch_size, shuffle if isinstance(shuffle, (bool, int)) else id(shuffle),
                  n_iters, n_epochs, drop_last)
        if self._iter is None or self._iter_params != params:
            self._iter = self.gen_batch(batch_size, shuffle, n_iters, n_epochs, drop_last, **kwargs)
            self._iter_params = params
        try:
            return next(self._iter)
        except StopIteration:
            raise StopIteration("the iteration is over: no batches left (call reset_iter() to "
                                "start again)") from None

    def reset_iter(self) -> None:
        """Forget the :meth:`next_batch` iteration."""
        self._iter = None
        self._iter_params = None

    def reset(self, what: str = "iter") -> None:
        """Reset the iteration (``what="iter"``, batchflow's only kind here)."""
        if what != "iter":
            raise ValueError(f"what={what!r}: only 'iter' can be reset")
        self.reset_iter()


class DatasetIndex(BatchIteration):
    """The ids of a dataset's items: ``DatasetIndex(10)`` (``0..9``), an array of ids, another
    index, or a callable returning ids.

    Example:
        >>> ix = DatasetIndex(["a", "b", "c"])
        >>> len(ix), ix.get_pos(["c", "a"]).tolist(), ix.create_batch([2, 0]).indices.tolist()
        (3, [2, 0], ['c', 'a'])
    """

    def __init__(self, *args: Any, **kwargs: Any):
        index = args[0] if args else kwargs.get("index")
        if isinstance(index, DatasetIndex):
            ids = index.indices
        else:
            if callable(index):
                index = index()
            if isinstance(index, numbers.Integral) and not isinstance(index, bool):
                ids = np.arange(check_int("index", index, 0))
            elif index is None:
                raise TypeError("DatasetIndex needs an index: a number of items, an array of ids "
                                "or another DatasetIndex")
            else:
                ids = np.asarray(index)
        if ids.ndim != 1:
            raise ValueError(f"the index must be 1-D, got shape {ids.shape}")
        self._index = ids
        self._lookup: pd.Index | None = None
        self._iter: Iterator | None = None
        self._iter_params: tuple | None = None
        self.train: DatasetIndex | None = None
        self.test: DatasetIndex | None = None
        self.validation: DatasetIndex | None = None

    # ------------------------------------------------------------------ ids and positions
    @property
    def indices(self) -> np.ndarray:
        """The item ids."""
        return self._index

    @property
    def index(self) -> np.ndarray:
        """The item ids (batchflow's alias)."""
        return self._index

    def __len__(self) -> int:
        return len(self._index)

    @property
    def size(self) -> int:
        """Number of items."""
        return len(self._index)

    def __getitem__(self, item: Any) -> Any:
        return self._index[item]

    def __iter__(self) -> Iterator:
        return iter(self._index)

    def __contains__(self, item: Any) -> bool:
        return item in self._lookup_index()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._index!r})"

    def _lookup_index(self) -> pd.Index:
        if self._lookup is None:
            self._lookup = pd.Index(self._index)
        return self._lookup

    def get_pos(self, index: Any) -> Any:
        """Positions of the ids ``index`` (one id, or an array of ids).

        Example:
            >>> ix = DatasetIndex([10, 20, 30])
            >>> ix.get_pos(30), ix.get_pos([20]).tolist()
            (2, [1])
        """
        lookup = self._lookup_index()
        if not lookup.is_unique:
            raise ValueError("the index has repeated ids, so positions are ambiguous")
        scalar = np.ndim(index) == 0
        ids = np.atleast_1d(np.asarray(index))
        pos = lookup.get_indexer(ids)
        if (pos < 0).any():
            missing = ids[pos < 0][:5].tolist()
            raise KeyError(f"ids {missing} are not in the index")
        return int(pos[0]) if scalar else pos

    def subset_by_pos(self, pos: Any) -> np.ndarray:
        """The ids at positions ``pos``.

        Example:
            >>> DatasetIndex([5, 6, 7]).subset_by_pos([2]).tolist()
            [7]
        """
        return self._index[np.asarray(pos, dtype=np.int64)]

    def create_subset(self, index: Any) -> "DatasetIndex":
        """A new index of the ids ``index``.

        Example:
            >>> DatasetIndex(5).create_subset([1, 3]).indices.tolist()
            [1, 3]
        """
        return type(self)(index)

    def create_batch(self, batch_indices: Any, pos: bool = True, *args: Any,
                     **kwargs: Any) -> "DatasetIndex":
        """The index of a batch: ``batch_indices`` are positions (``pos=True``) or ids.

        Example:
            >>> DatasetIndex([5, 6, 7]).create_batch([0, 2]).indices.tolist()
            [5, 7]
        """
        if isinstance(batch_indices, DatasetIndex):
            batch_indices = batch_indices.indices
        return type(self)(self.subset_by_pos(batch_indices) if pos else np.asarray(batch_indices))

    # ------------------------------------------------------------------ splitting
    def calc_split(self, shares: Any = 0.8) -> tuple[int, int, int]:
        """Item counts ``(train, test, validation)`` for ``shares`` (a train share, or 2-3 shares).

        Example:
            >>> DatasetIndex(10).calc_split((0.5, 0.3))
            (5, 3, 2)
        """
        s = np.atleast_1d(np.asarray(shares, dtype=np.float64))
        if s.size > 3 or (s < 0).any() or s.sum() > 1 + 1e-9:
            raise ValueError(f"shares={shares!r} must be 1 to 3 non-negative shares summing to at "
                             "most 1 (train, test, validation)")
        if s.size == 3 and not np.isclose(s.sum(), 1):
            raise ValueError(f"shares={shares!r}: three shares must sum to 1")
        if s.size == 1:
            s = np.array([s[0], 1 - s[0], 0.0])
        elif s.size == 2:
            s = np.array([s[0], s[1], 1 - s.sum()])
        n = len(self)
        test, valid = (int(v) for v in np.round(s[1:] * n))
        train = n - test - valid
        if train <= 0:
            raise ValueError(f"shares={shares!r} leave no item for training out of {n}")
        return train, test, valid

    def split(self, shares: Any = 0.8, shuffle: Any = False) -> None:
        """Set ``train``, ``test`` and ``validation`` (None if empty) sub-indices.

        Example:
            >>> ix = DatasetIndex(10); ix.split(0.8)
            >>> len(ix.train), len(ix.test), ix.validation
            (8, 2, None)
        """
        n_train, n_test, n_valid = self.calc_split(shares)
        order, seed, shuffled = _order_and_seed(len(self), shuffle)
        if order is not None:
            pos = order(len(self), 0, 0)
        elif shuffled:
            pos = next(iter(Loader(IndexSource(len(self)), len(self), shuffle=True,
                                   seed=seed))).indices
        else:
            pos = np.arange(len(self))
        ids = self.subset_by_pos(pos)
        self.train = self.create_subset(ids[:n_train])
        self.test = self.create_subset(ids[n_train:n_train + n_test])
        self.validation = self.create_subset(ids[n_train + n_test:]) if n_valid else None

    @property
    def is_split(self) -> bool:
        """Whether :meth:`split` has been called."""
        return self.train is not None

    # ------------------------------------------------------------------ iteration
    def gen_batch(self, batch_size: int, shuffle: Any = False, n_iters: int | None = None,
                  n_epochs: int | None = None, drop_last: bool = False,
                  **kwargs: Any) -> Iterator["DatasetIndex"]:
        """Batches of ids (as DatasetIndex objects); endless when ``n_iters`` and ``n_epochs`` are
        both None.

        Example:
            >>> [b.indices.tolist() for b in DatasetIndex([7, 8, 9]).gen_batch(2, n_iters=3)]
            [[7, 8], [9, 7], [8, 9]]
        """
        for batch in position_batches(len(self), batch_size, shuffle, n_iters, n_epochs, drop_last):
            yield self.create_batch(batch.indices, pos=True)

