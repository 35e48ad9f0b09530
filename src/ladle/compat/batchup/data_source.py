"""batchup's data sources on ladle's core: ``from ladle.compat.batchup import data_source``.

An :class:`ArrayDataSource` reads through a core :class:`~ladle.ArraySource` and is batched by a
core :class:`~ladle.Loader`; its sampler (see :mod:`.sampling`) supplies the index order, drawn
from the global ``np.random`` for ``shuffle=True`` or from the ``RandomState`` given, at the same
moments batchup draws, so seeded scripts get batchup's batches.

Differences from batchup 0.2.3 (bugs not copied): iterators are recognised with
``collections.abc.Iterator`` (Python 3.10+); ``batch_map_concat`` returns ``()``, not None, when the
function returns nothing; endless iteration over no samples raises instead of hanging. As in
batchup, both ``batch_map_*`` methods refuse an endless source without ``n_batches``.

Example:
    >>> import numpy as np
    >>> ds = ArrayDataSource([np.arange(10), np.arange(10) % 2])
    >>> [x.tolist() for x, y in ds.batch_iterator(batch_size=4)]
    [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
"""

from __future__ import annotations

import collections.abc
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from ..._checks import as_index_array, check_int
from ...sources.array import ArraySource
from ...sources.base import Field, Source
from ...sources.compose import ConcatSource
from ...sources.base import IndexSource
from . import sampling
from ._gather import batch_map_concat, batch_map_mean
from .sampling import AbstractSampler, Plan, PassOrder, run_plan, shuffle_rng

__all__ = ["AbstractDataSource", "ArrayDataSource", "CallableDataSource", "ChoiceDataSource",
           "CompositeDataSource", "IteratorDataSource", "MapDataSource",
           "RandomAccessDataSource", "batch_map_concat", "batch_map_mean", "coerce_data_source"]


# --------------------------------------------------------------------------- the sources
class AbstractDataSource:
    """Base of batchup data sources: ``batch_iterator(batch_size, shuffle=None)`` yields tuples.

    Example:
        >>> isinstance(ArrayDataSource([np.zeros(2)]), AbstractDataSource)
        True
    """

    #: whether batches can be read by index (``samples_by_indices_nomapping``)
    is_random_access = False

    def num_samples(self, **kwargs: Any) -> int | float | None:
        """Samples one iteration yields; ``np.inf`` when endless; None when unknown."""
        return None

    def batch_iterator(self, batch_size: int, shuffle: Any = None, **kwargs: Any) -> Iterator:
        """An iterator over mini-batches (tuples of arrays)."""
        raise NotImplementedError

    def map(self, fn: Callable[..., tuple]) -> "MapDataSource":
        """A data source yielding ``fn(*batch)`` for every batch (``fn`` returns a tuple).

        Example:
            >>> ds = ArrayDataSource([np.arange(3)]).map(lambda x: (x * 10,))
            >>> next(ds.batch_iterator(2))[0].tolist()
            [0, 10]
        """
        return MapDataSource(self, fn)

    def _n_batches(self, batch_size: int, n_batches: int | None, kwargs: dict) -> int | None:
        if n_batches is not None:
            return n_batches
        n = self.num_samples(**kwargs)
        if n == np.inf:
            raise ValueError(f"{type(self).__name__} is endless (num_samples() is inf, e.g. "
                             "repeats=-1 or a weighted sampler): give n_batches= to say how many "
                             "batches to process")
        return None if n is None else sampling.num_batches(int(n), batch_size)

    def batch_map_concat(self, func: Callable, batch_size: int, progress_iter_func: Any = None,
                         n_batches: int | None = None, prepend_args: Sequence | None = None,
                         **kwargs: Any) -> tuple:
        """:func:`batch_map_concat` over this source's batches (``kwargs`` go to
        :meth:`batch_iterator`, e.g. ``shuffle=``).

        Example:
            >>> ArrayDataSource([np.arange(5)]).batch_map_concat(lambda x: x + 1, batch_size=2)
            (array([1, 2, 3, 4, 5]),)
        """
        n_batches = self._n_batches(batch_size, n_batches, kwargs)
        return batch_map_concat(func, self.batch_iterator(batch_size, **kwargs),
                                progress_iter_func, n_batches, prepend_args)

    def batch_map_mean(self, func: Callable, batch_size: int, progress_iter_func: Any = None,
                       sum_axis: int | None = None, n_batches: int | None = None,
                       prepend_args: Sequence | None = None, **kwargs: Any) -> tuple:
        """:func:`batch_map_mean` over this source's batches.

        Example:
            >>> ds = ArrayDataSource([np.arange(4.0)])
            >>> ds.batch_map_mean(lambda x: x, batch_size=3, sum_axis=0)
            (np.float64(1.5),)
        """
        n_batches = self._n_batches(batch_size, n_batches, kwargs)
        return batch_map_mean(func, self.batch_iterator(batch_size, **kwargs), progress_iter_func,
                              sum_axis, n_batches, prepend_args)


class RandomAccessDataSource(AbstractDataSource):
    """A data source whose samples are read by index; subclasses implement
    ``samples_by_indices_nomapping(indices) -> tuple``.

    Args:
        length: number of samples.
        indices: only these samples (a subset, in this order when not shuffled).
        repeats: passes over the data; ``-1`` is endless.
        sampler: a :mod:`.sampling` sampler (not with ``indices`` or ``repeats != 1``).
        include_indices: prepend the sample indices to every batch.

    Example:
        >>> class Squares(RandomAccessDataSource):
        ...     def samples_by_indices_nomapping(self, indices):
        ...         return (np.asarray(indices) ** 2,)
        >>> next(Squares(5).batch_iterator(3))[0].tolist()
        [0, 1, 4]
    """

    is_random_access = True

    def __init__(self, length: int, indices: Any = None, repeats: int = 1,
                 sampler: AbstractSampler | None = None, include_indices: bool = False):
        self.length = check_int("length", length, 0)
        repeats = sampling.check_repeats(repeats)
        if sampler is not None:
            if repeats != 1:
                raise ValueError(f"sampler={sampler!r} cannot be combined with repeats={repeats}: "
                                 "give the sampler its own repeats")
            if indices is not None:
                raise ValueError(f"sampler={sampler!r} cannot be combined with indices: use a "
                                 "SubsetSampler or WeightedSubsetSampler")
            if not isinstance(sampler, AbstractSampler):
                raise TypeError(f"sampler={sampler!r} must be a batchup sampler")
        elif indices is not None:
            indices = as_index_array("indices", indices, self.length)
            sampler = sampling.SubsetSampler(indices, repeats)
        else:
            sampler = sampling.StandardSampler(self.length, repeats)
        if sampler._n_rows() > max(self.length, 1):
            raise ValueError(f"sampler={sampler!r} draws sample indices up to "
                             f"{sampler._n_rows() - 1}, but the data has {self.length} samples")
        self.indices = indices
        self.repeats = repeats
        self.sampler = sampler
        self.include_indices = bool(include_indices)

    def num_samples(self, **kwargs: Any) -> int | float:
        return self.sampler.num_indices_generated()

    def samples_by_indices_nomapping(self, indices: Any) -> tuple:
        """The samples at ``indices`` (sample numbers of the whole data) as a tuple."""
        raise NotImplementedError

    def samples_by_indices(self, indices: Any) -> tuple:
        """The samples at positions ``indices`` of the subset given as ``indices=`` (if any).

        Example:
            >>> ds = ArrayDataSource([np.arange(10) * 10], indices=[5, 7])
            >>> ds.samples_by_indices(np.array([1]))[0].tolist()
            [70]
        """
        if self.indices is not None:
            indices = self.indices[indices]
        return self.samples_by_indices_nomapping(indices)

    def batch_indices_iterator(self, batch_size: int, shuffle: Any = None,
                               **kwargs: Any) -> Iterator[np.ndarray]:
        """The index arrays of the batches :meth:`batch_iterator` would give.

        Example:
            >>> [b.tolist() for b in ArrayDataSource([np.arange(3)]).batch_indices_iterator(2)]
            [[0, 1], [2]]
        """
        return run_plan(self._leaf_plan(batch_size, shuffle_rng(shuffle)),
                        IndexSource(self.length), _indices)

    def batch_iterator(self, batch_size: int, shuffle: Any = None, **kwargs: Any) -> Iterator:
        """Mini-batches as tuples: in order, or shuffled by ``shuffle`` (True: ``np.random``;
        or a ``RandomState``); the last batch may be short.

        Example:
            >>> ds = ArrayDataSource([np.arange(5)])
            >>> [b[0].tolist() for b in ds.batch_iterator(2, shuffle=np.random.RandomState(0))]
            [[2, 0], [1, 3], [4]]
        """
        return run_plan(self._leaf_plan(batch_size, shuffle_rng(shuffle)), self._ladle_source(),
                        self._convert)

    # hooks used by the iteration and by work_pool
    def _leaf_plan(self, batch_size: int, rng: Any) -> Plan:
        return self.sampler._plan(batch_size, rng, n_rows=max(self.length, 1))

    def _ladle_source(self) -> Source:
        return _RandomAccessSource(self)

    def _convert(self, batch: Any) -> tuple:
        return tuple(batch.values())


def _indices(batch: Any) -> np.ndarray:
    return batch.indices


class _RandomAccessSource(Source):
    """A ladle Source over a random-access data source: fields ``"0"``, ``"1"``... of its tuples."""

    def __init__(self, ds: RandomAccessDataSource):
        self.ds = ds

    def __len__(self) -> int:
        return max(self.ds.length, 1)

    @property
    def fields(self) -> dict[str, Field]:
        return {}

    def read(self, indices: np.ndarray) -> dict[str, Any]:
        batch = self.ds.samples_by_indices_nomapping(indices)
        if not isinstance(batch, (tuple, list)):
            raise TypeError(f"{type(self.ds).__name__} produced a {type(batch).__name__}; a batch "
                            "must be a tuple of arrays (a map function must return a tuple)")
        return {str(i): v for i, v in enumerate(batch)}


class ArrayDataSource(RandomAccessDataSource):
    """Mini-batches from a list of equal-length array-likes (NumPy arrays, memmaps, HDF5 datasets
    or any object with ``__len__`` and ``__getitem__``), read through a core ArraySource.

    Example:
        >>> ds = ArrayDataSource([np.arange(6), np.arange(6) * 2], include_indices=True)
        >>> idx, x, y = next(ds.batch_iterator(4))
        >>> idx.tolist(), y.tolist()
        ([0, 1, 2, 3], [0, 2, 4, 6])
    """

    def __init__(self, data: list, indices: Any = None, repeats: int = 1,
                 sampler: AbstractSampler | None = None, include_indices: bool = False):
        if not isinstance(data, list):
            raise TypeError(f"data must be a list of array-like objects, not a "
                            f"{type(data).__name__}: ArrayDataSource([X, y])")
        if not data:
            raise ValueError("data is an empty list: give at least one array")
        for i, d in enumerate(data):
            if not (hasattr(d, "__len__") and hasattr(d, "__getitem__")) or isinstance(d, str):
                raise TypeError(f"data[{i}] is a {type(d).__name__}, not an array-like (it needs "
                                "__len__ and __getitem__)")
        lengths = [len(d) for d in data]
        if len(set(lengths)) > 1:
            raise ValueError(f"the arrays in data have different lengths {lengths}; every array "
                             "needs one entry per sample")
        self.data = data
        self._source = ArraySource({str(i): d for i, d in enumerate(data)})
        super().__init__(lengths[0], indices, repeats, sampler, include_indices)

    def samples_by_indices_nomapping(self, indices: Any) -> tuple:
        """The samples at ``indices`` (an int array or a slice), indices first if included.

        Example:
            >>> ArrayDataSource([np.arange(5) * 3]).samples_by_indices_nomapping([4, 0])[0].tolist()
            [12, 0]
        """
        if isinstance(indices, slice):
            indices = np.arange(*indices.indices(self.length))
        indices = as_index_array("indices", indices, self.length)
        batch = tuple(self._source.read(indices).values())
        return ((indices,) + batch) if self.include_indices else batch

    def _ladle_source(self) -> Source:
        return self._source

    def _convert(self, batch: Any) -> tuple:
        values = tuple(batch.values())
        return ((batch.indices,) + values) if self.include_indices else values


class MapDataSource(AbstractDataSource):
    """A data source yielding ``fn(*batch)`` for every batch of ``source``.

    Random access when ``source`` is, so it can be parallelised (``fn`` then runs in the workers).

    Example:
        >>> ds = MapDataSource(ArrayDataSource([np.arange(4)]), lambda x: (x, -x))
        >>> [b[1].tolist() for b in ds.batch_iterator(2)]
        [[0, -1], [-2, -3]]
    """

    def __init__(self, source: AbstractDataSource, fn: Callable[..., tuple]):
        if not isinstance(source, AbstractDataSource):
            raise TypeError(f"source={source!r} must be a data source")
        if not callable(fn):
            raise TypeError(f"fn={fn!r} must be callable: fn(*batch) -> tuple")
        self.source = source
        self.fn = fn

    @property
    def is_random_access(self) -> bool:  # type: ignore[override]
        return self.source.is_random_access

    @property
    def length(self) -> int:
        return self.source.length  # type: ignore[attr-defined]

    def num_samples(self, **kwargs: Any) -> int | float | None:
        return self.source.num_samples(**kwargs)

    def batch_iterator(self, batch_size: int, shuffle: Any = None, **kwargs: Any) -> Iterator:
        for batch in self.source.batch_iterator(batch_size, shuffle=shuffle, **kwargs):
            yield self.fn(*batch)

    def samples_by_indices_nomapping(self, indices: Any) -> Any:
        """``fn`` applied to the source's samples at ``indices``."""
        if not self.is_random_access:
            raise TypeError(f"{type(self.source).__name__} is not random access, so this "
                            "MapDataSource is not either")
        return self.fn(*self.source.samples_by_indices_nomapping(indices))

    def batch_indices_iterator(self, batch_size: int, shuffle: Any = None, **kwargs: Any):
        """The source's batch index iterator."""
        return self.source.batch_indices_iterator(batch_size, shuffle=shuffle, **kwargs)

    def _leaf_plan(self, batch_size: int, rng: Any) -> Plan:
        return self.source._leaf_plan(batch_size, rng)  # type: ignore[attr-defined]

    def _ladle_source(self) -> Source:
        return _RandomAccessSource(self)  # type: ignore[arg-type]

    def _convert(self, batch: Any) -> tuple:
        return tuple(batch.values())


def _trim(batch: Any, n: int) -> Any:
    if isinstance(batch, tuple):
        return tuple(_trim(b, n) for b in batch)
    return batch[:n]


def _min_length(batch: Any) -> int:
    if isinstance(batch, tuple):
        return min((_min_length(b) for b in batch), default=0)
    return len(batch)


class CompositeDataSource(AbstractDataSource):
    """Several data sources iterated together (``zip``), each shuffled on its own.

    Iteration stops when any member runs out; with ``trim`` every sub-batch is cut to the shortest
    one; ``flatten`` joins the members' tuples into one tuple (else one tuple per member). Members
    may be composites themselves.

    Example:
        >>> lab = ArrayDataSource([np.arange(3)], repeats=-1)
        >>> unlab = ArrayDataSource([np.arange(10, 15)])
        >>> both = CompositeDataSource([lab, unlab])
        >>> [(a.tolist(), b.tolist()) for a, b in both.batch_iterator(2)]
        [([0, 1], [10, 11]), ([2, 0], [12, 13]), ([1], [14])]
    """

    def __init__(self, datasets: Sequence[AbstractDataSource], flatten: bool = True,
                 trim: bool = True):
        datasets = list(datasets)
        if not datasets:
            raise ValueError("datasets is empty: give at least one data source")
        for i, d in enumerate(datasets):
            if not isinstance(d, AbstractDataSource):
                raise TypeError(f"datasets[{i}] is a {type(d).__name__}, not a data source; wrap "
                                "arrays with ArrayDataSource or use coerce_data_source")
        self.datasets = datasets
        self.flatten = bool(flatten)
        self.trim = bool(trim)

    @property
    def is_random_access(self) -> bool:  # type: ignore[override]
        return all(d.is_random_access for d in self.datasets)

    def num_samples(self, **kwargs: Any) -> int | float | None:
        known = [n for n in (d.num_samples(**kwargs) for d in self.datasets) if n is not None]
        return min(known) if known else None

    def _prepare(self, batch: tuple) -> tuple:
        batch = tuple(tuple(b) if isinstance(b, list) else b for b in batch)
        if self.trim:
            batch = _trim(batch, _min_length(batch))
        if self.flatten:
            return sum((b if isinstance(b, tuple) else (b,) for b in batch), ())
        return batch

    def batch_iterator(self, batch_size: int, shuffle: Any = None, **kwargs: Any) -> Iterator:
        iterators = [d.batch_iterator(batch_size, shuffle=shuffle, **kwargs) for d in self.datasets]
        for batch in zip(*iterators):
            yield self._prepare(batch)

    def samples_by_indices_nomapping(self, indices: Sequence[Any]) -> tuple:
        """Batches of the members at their own ``indices`` (one index array per member)."""
        if len(indices) != len(self.datasets):
            raise ValueError(f"give one index array per member: {len(self.datasets)} members, "
                             f"{len(indices)} index arrays")
        return self._prepare(tuple(d.samples_by_indices_nomapping(i)  # type: ignore[attr-defined]
                                   for d, i in zip(self.datasets, indices)))

    def batch_indices_iterator(self, batch_size: int, shuffle: Any = None, **kwargs: Any):
        """Tuples of the members' batch index arrays."""
        return zip(*[d.batch_indices_iterator(batch_size, shuffle=shuffle,  # type: ignore
                                              **kwargs) for d in self.datasets])


class ChoiceDataSource(RandomAccessDataSource):
    """Samples chosen from several random-access data sources, as if they were concatenated.

    Each pass covers every sample of every member: in order (member 0's samples first), or shuffled
    across members. With ``stratified=True`` each member's samples (in order or shuffled by itself)
    are spread evenly through the pass, so every batch holds about ``len(member) / total`` of each.
    Reading is a core :class:`~ladle.ConcatSource` over the members.

    Example:
        >>> a, b = ArrayDataSource([np.zeros(4)]), ArrayDataSource([np.ones(2)])
        >>> [x.tolist() for x, in ChoiceDataSource([a, b], stratified=True).batch_iterator(3)]
        [[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]]
    """

    def __init__(self, datasets: Sequence[RandomAccessDataSource], stratified: bool = False):
        datasets = list(datasets)
        if not datasets:
            raise ValueError("datasets is empty: give at least one data source")
        for i, d in enumerate(datasets):
            if not d.is_random_access:
                raise TypeError(f"datasets[{i}] ({type(d).__name__}) is not random access")
        self.datasets = datasets
        self.stratified = bool(stratified)
        self.lengths = [int(d.length) for d in datasets]  # type: ignore[attr-defined]
        self.offsets = np.concatenate(([0], np.cumsum(self.lengths))).astype(np.int64)
        self._source = ConcatSource([_RandomAccessSource(d) for d in datasets])  # type: ignore
        super().__init__(int(self.offsets[-1]))

    def samples_by_indices_nomapping(self, indices: Any) -> tuple:
        """The samples at ``indices`` of the concatenation."""
        indices = as_index_array("indices", indices, self.length)
        return tuple(self._source.read(indices).values())

    def _leaf_plan(self, batch_size: int, rng: Any) -> Plan:
        if not self.stratified:
            return super()._leaf_plan(batch_size, rng)
        batch_size = check_int("batch_size", batch_size, 1)
        offsets, lengths = self.offsets, self.lengths
        keys = np.concatenate([(np.arange(n) + 0.5) / n for n in lengths])
        spread = np.argsort(keys, kind="stable")

        def draw() -> np.ndarray:
            parts = [o + (np.arange(n) if rng is None else rng.permutation(n))
                     for o, n in zip(offsets[:-1].tolist(), lengths)]
            return np.concatenate(parts).astype(np.int64)[spread]

        order = PassOrder(self.length, draw, n_rows=max(self.length, 1))
        return Plan(order, batch_size, max(self.length, 1), "short", 1)

    def _ladle_source(self) -> Source:
        return self._source


class CallableDataSource(AbstractDataSource):
    """A data source made from ``batch_iterator_fn(batch_size, **kwargs) -> iterator``.

    ``num_samples_fn`` is None (unknown), a number (``np.inf`` for endless) or a callable.

    Example:
        >>> ds = CallableDataSource(lambda bs, **kw: iter([(np.zeros(bs),)]), num_samples_fn=2)
        >>> next(ds.batch_iterator(2))[0].tolist(), ds.num_samples()
        ([0.0, 0.0], 2)
    """

    def __init__(self, batch_iterator_fn: Callable[..., Iterator], num_samples_fn: Any = None):
        if not callable(batch_iterator_fn):
            raise TypeError(f"batch_iterator_fn={batch_iterator_fn!r} must be callable")
        self.batch_iterator_fn = batch_iterator_fn
        self.num_samples_fn = num_samples_fn

    def num_samples(self, **kwargs: Any) -> int | float | None:
        if callable(self.num_samples_fn):
            return self.num_samples_fn(**kwargs)
        return self.num_samples_fn

    def batch_iterator(self, batch_size: int, **kwargs: Any) -> Iterator:  # type: ignore[override]
        return self.batch_iterator_fn(batch_size, **kwargs)


class IteratorDataSource(AbstractDataSource):
    """A data source over an existing iterator of batches (``batch_size`` is ignored; the iterator
    can be consumed once).

    Example:
        >>> ds = IteratorDataSource(iter([(np.arange(2),)]))
        >>> next(ds.batch_iterator(5))[0].tolist()
        [0, 1]
    """

    def __init__(self, batch_iter: Iterator, num_samples: int | float | None = None):
        self.batch_iter = batch_iter
        self._num_samples = num_samples

    def num_samples(self, **kwargs: Any) -> int | float | None:
        return self._num_samples

    def batch_iterator(self, batch_size: int, **kwargs: Any) -> Iterator:  # type: ignore[override]
        return self.batch_iter


def coerce_data_source(x: Any) -> AbstractDataSource:
    """Make a data source of ``x``: a data source, a non-empty list/tuple of arrays, an iterator
    of batches, or a callable ``fn(batch_size, **kwargs) -> iterator``.

    Example:
        >>> type(coerce_data_source([np.zeros(3)])).__name__
        'ArrayDataSource'
        >>> type(coerce_data_source(iter([]))).__name__
        'IteratorDataSource'
    """
    if isinstance(x, AbstractDataSource):
        return x
    if isinstance(x, (list, tuple)):
        if not x:
            raise ValueError("cannot make a data source of an empty sequence: give arrays")
        for i, item in enumerate(x):
            if not (hasattr(item, "__len__") and hasattr(item, "__getitem__")):
                raise TypeError(f"cannot make a data source of x: x[{i}] is a "
                                f"{type(item).__name__}, not an array-like")
        return ArrayDataSource(list(x))
    if isinstance(x, collections.abc.Iterator):
        return IteratorDataSource(x)
    if callable(x):
        return CallableDataSource(x)
    raise TypeError(f"cannot make a data source of a {type(x).__name__}: give a data source, a "
                    "list of arrays, an iterator of batches or a callable returning one")
