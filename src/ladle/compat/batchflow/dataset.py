"""batchflow's ``Dataset``: an index, a batch class and (optionally) the data, iterated in batches.

Example:
    >>> import numpy as np
    >>> ds = Dataset(4, preloaded={"x": np.arange(4) * 10})
    >>> [b.x.tolist() for b in ds.gen_batch(3, n_epochs=2)]
    [[0, 10, 20], [30, 0, 10], [20, 30]]
"""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np  # noqa: F401  (the doctests' namespace)

from .batch import Batch
from .index import BatchIteration, DatasetIndex, position_batches

__all__ = ["Dataset"]


class Dataset(BatchIteration):
    """A dataset: ``index`` (ids), ``batch_class`` and ``preloaded`` data, one row per id.

    Args:
        index: a :class:`DatasetIndex`, a number of items or an array of ids.
        batch_class: the class of the batches (a :class:`Batch` subclass).
        preloaded: the data (a dict or DataFrame of components, or a tuple in the batch class's
            ``components`` order); row ``i`` belongs to ``index[i]``.
        **kwargs: extra attributes.

    Example:
        >>> ds = Dataset(DatasetIndex(["a", "b", "c"]), preloaded={"x": np.array([1, 2, 3])})
        >>> ds.create_batch(["c"]).x.tolist()
        [3]
    """

    def __init__(self, index: Any, batch_class: type = Batch, preloaded: Any = None,
                 copy: bool = False, *args: Any, **kwargs: Any):
        if not (isinstance(batch_class, type) and issubclass(batch_class, Batch)):
            raise TypeError(f"batch_class={batch_class!r} must be a subclass of "
                            "ladle.compat.batchflow.Batch")
        self.index = index if isinstance(index, DatasetIndex) else DatasetIndex(index)
        self.batch_class = batch_class
        self.preloaded = preloaded
        self._data_index = self.index  # the index whose positions are the rows of `preloaded`
        self.train: Dataset | None = None
        self.test: Dataset | None = None
        self.validation: Dataset | None = None
        self._iter: Iterator | None = None
        self._iter_params: tuple | None = None
        for name, value in kwargs.items():
            setattr(self, name, value)

    @classmethod
    def from_dataset(cls, dataset: "Dataset", index: Any, batch_class: type | None = None,
                     copy: bool = False) -> "Dataset":
        """A dataset of some of ``dataset``'s items, sharing its data.

        Example:
            >>> ds = Dataset(5, preloaded={"x": np.arange(5)})
            >>> Dataset.from_dataset(ds, [4, 1]).create_batch([4]).x.tolist()
            [4]
        """
        new = cls(index, batch_class or dataset.batch_class, dataset.preloaded)
        new._data_index = dataset._data_index
        return new

    @property
    def indices(self) -> Any:
        """The item ids."""
        return self.index.indices

    def __len__(self) -> int:
        return len(self.index)

    @property
    def size(self) -> int:
        """Number of items."""
        return len(self.index)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={len(self)}, batch_class={self.batch_class.__name__})"

    def create_subset(self, index: Any) -> "Dataset":
        """A dataset of the items ``index`` (ids), sharing this one's data."""
        return type(self).from_dataset(self, self.index.create_subset(index))

    def create_batch(self, index: Any, pos: bool = False, *args: Any, **kwargs: Any) -> Batch:
        """A batch of the items ``index`` (ids, or positions with ``pos=True``) with their data.

        Example:
            >>> ds = Dataset(3, preloaded={"x": np.arange(3) + 5})
            >>> ds.create_batch([0, 2], pos=True).x.tolist()
            [5, 7]
        """
        batch_index = self.index.create_batch(index, pos=pos)
        return self.batch_class(batch_index, dataset=self, preloaded=self.preloaded, **kwargs)

    def split(self, shares: Any = 0.8, shuffle: Any = False) -> None:
        """Set ``train``, ``test`` and ``validation`` sub-datasets (see
        :meth:`DatasetIndex.split`).

        Example:
            >>> ds = Dataset(10); ds.split((0.6, 0.2, 0.2))
            >>> len(ds.train), len(ds.test), len(ds.validation)
            (6, 2, 2)
        """
        self.index.split(shares, shuffle)
        self.train = self.create_subset(self.index.train)
        self.test = self.create_subset(self.index.test)
        self.validation = (None if self.index.validation is None
                           else self.create_subset(self.index.validation))

    @property
    def is_split(self) -> bool:
        """Whether :meth:`split` has been called."""
        return self.train is not None

    def gen_batch(self, batch_size: int, shuffle: Any = False, n_iters: int | None = None,
                  n_epochs: int | None = None, drop_last: bool = False,
                  *args: Any, **kwargs: Any) -> Iterator[Batch]:
        """Batches of the dataset (see :meth:`DatasetIndex.gen_batch`); each batch's ``random``
        is keyed by the iteration's seed, its epoch and its number.

        Example:
            >>> [len(b) for b in Dataset(5).gen_batch(2, n_epochs=1, drop_last=True)]
            [2, 2]
        """
        for core in position_batches(len(self), batch_size, shuffle, n_iters, n_epochs, drop_last):
            batch = self.create_batch(core.indices, pos=True, **kwargs)
            batch.seed, batch.epoch, batch.number = core.seed, core.epoch, core.number
            yield batch


