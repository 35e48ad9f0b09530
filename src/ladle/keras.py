"""Keras 3 data generators with ladle doing the indexing and shuffling.

Two ways to feed ``model.fit``:

* :func:`to_keras` (from :mod:`ladle.adapters.keras`) wraps a :class:`~ladle.Loader` as a
  :class:`LoaderDataset`, a ``keras.utils.PyDataset`` that picks inputs and targets by field name.
* :class:`Sequence` is a base class for the classic hand-written generator (``keras.utils.Sequence``
  subclass with ``__len__``, ``__getitem__`` and ``on_epoch_end``): ladle implements those three —
  batch ``i`` of the epoch, reshuffled every epoch from a seed — and the subclass only turns the
  row ids of a batch into data in :meth:`Sequence.get_batch`.

Importing this module imports keras (``pip install ladle[keras]``; set ``KERAS_BACKEND``, e.g.
``torch``, when TensorFlow is not installed). ``import ladle`` alone never does.

Example:
    >>> import numpy as np
    >>> from ladle.keras import Sequence
    >>> class Squares(Sequence):
    ...     def get_batch(self, indices):
    ...         return indices[:, None].astype("float32"), (indices ** 2).astype("float32")
    >>> seq = Squares(10, batch_size=4, seed=0)
    >>> len(seq), sorted(np.concatenate([seq[i][1] for i in range(len(seq))]).tolist())[-1]
    (3, 81.0)
"""

from __future__ import annotations

from typing import Any, Mapping, Sized

import numpy as np

from ._checks import check_int
from .adapters import require
from .adapters.keras import Names, as_keras_batch, check_arguments, named_fields, to_keras
from .loader import Loader
from .sources.base import Field, Source

keras = require("keras", "keras", "ladle.keras")

__all__ = ["LoaderDataset", "Sequence", "to_keras"]


class LoaderDataset(keras.utils.PyDataset):
    """A ``keras.utils.PyDataset`` over a :class:`~ladle.Loader` (made by :func:`to_keras`).

    ``len`` is the loader's batches per epoch; ``ds[i]`` is batch ``i`` of the loader's current
    epoch as ``(x, y)``, ``(x, y, w)`` or ``(x,)``; ``on_epoch_end`` moves the loader to the next
    epoch. Safe for Keras' out-of-order and parallel requests: a batch depends only on
    (seed, epoch, i), and the epoch's plan is computed in the thread that starts the epoch,
    before Keras' workers ask for batches.

    Example:
        >>> loader = Loader({"x": np.zeros((6, 2)), "y": np.arange(6)}, batch_size=4, seed=0,
        ...                 shuffle=True)
        >>> ds = LoaderDataset(loader)
        >>> ds.on_epoch_end(); loader.epoch
        1
    """

    def __init__(self, loader: Loader, inputs: Names = ("x",), targets: Names | None = ("y",),
                 sample_weight: str | None = None, workers: int = 1,
                 use_multiprocessing: bool = False, max_queue_size: int = 10):
        self.inputs, self.targets, self.sample_weight = check_arguments(
            loader, inputs, targets, sample_weight, workers, max_queue_size)
        super().__init__(workers=workers, use_multiprocessing=use_multiprocessing,
                         max_queue_size=max_queue_size)
        self.loader = loader
        len(loader)  # plan the epoch here, not concurrently in Keras' worker threads

    def __len__(self) -> int:
        return len(self.loader)

    def __getitem__(self, i: int) -> tuple:
        batch = named_fields(self.loader, self.loader[i])
        return as_keras_batch(batch, self.inputs, self.targets, self.sample_weight)

    @property
    def epoch(self) -> int:
        """The loader's current epoch."""
        return self.loader.epoch

    def on_epoch_end(self) -> None:
        """Move the loader to the next epoch (reshuffled)."""
        self.loader.set_epoch(self.loader.epoch + 1)
        len(self.loader)

    def __repr__(self) -> str:
        return (f"LoaderDataset({self.loader!r}, inputs={self.inputs!r}, "
                f"targets={self.targets!r}, sample_weight={self.sample_weight!r})")


class _RowIds(Source):
    """A source whose only field is the row id: the batches of a :class:`Sequence`."""

    def __init__(self, n: int):
        self._n = n

    def __len__(self) -> int:
        return self._n

    @property
    def fields(self) -> Mapping[str, Field]:
        return {"index": Field(np.dtype(np.int64), ())}

    def read(self, indices: np.ndarray) -> dict[str, Any]:
        return {"index": indices}


class Sequence(keras.utils.PyDataset):
    """Base class for Keras data generators: ladle picks each batch's rows, you load them.

    The pattern of a hand-written ``keras.utils.Sequence`` — ``__len__`` batches per epoch,
    ``__getitem__(i)`` a whole batch, ``on_epoch_end`` reshuffling — with ladle doing the
    indexing: batches follow ``order`` (shuffled per epoch from ``seed`` by default, or any ladle
    order: weighted, class-balanced, subset...), the last partial batch follows ``last_batch``,
    and batch ``i`` of an epoch is always the same rows, whatever order or thread Keras asks in.
    Subclasses implement :meth:`get_batch`.

    Args:
        n_samples: the number of samples, or anything with a ``len`` (a DataFrame, a list of
            paths...).
        batch_size: samples per batch.
        shuffle: reshuffle every epoch (ignored when ``order`` is given).
        seed: seed of every shuffle; None draws one (kept in ``self.seed``).
        order: a ladle order (see :class:`~ladle.Loader`).
        last_batch: ``"short"`` (Keras' ``ceil``), ``"drop"`` (``floor``) or ``"merge"``.
        n_extend: widen each batch with ``n`` rows of each neighbour.
        shard: ``(rank, world_size)`` for distributed training.
        workers, use_multiprocessing, max_queue_size: passed to ``keras.utils.PyDataset``.

    Example:
        >>> class Rows(Sequence):
        ...     def get_batch(self, indices):
        ...         return indices.astype("float32"), indices % 2
        >>> seq = Rows(5, batch_size=2, shuffle=False)
        >>> [seq[i][0].tolist() for i in range(len(seq))]
        [[0.0, 1.0], [2.0, 3.0], [4.0]]
    """

    def __init__(self, n_samples: int | Sized, batch_size: int = 32, *, shuffle: bool = True,
                 seed: int | None = None, order: Any = None, last_batch: str = "short",
                 n_extend: int = 0, shard: tuple[int, int] | None = None, workers: int = 1,
                 use_multiprocessing: bool = False, max_queue_size: int = 10):
        super().__init__(workers=check_int("workers", workers, 0),
                         use_multiprocessing=use_multiprocessing,
                         max_queue_size=check_int("max_queue_size", max_queue_size, 1))
        if last_batch == "carry":
            raise ValueError("last_batch='carry' lets batches cross epochs, so epochs differ in "
                             "length; Keras needs the same number of batches every epoch: use "
                             "'short', 'drop' or 'merge'")
        n = n_samples if isinstance(n_samples, (int, np.integer)) else len(n_samples)
        self._loader = Loader(_RowIds(check_int("n_samples", n, 1)), batch_size, shuffle=shuffle,
                              seed=seed, order=order, last_batch=last_batch, n_extend=n_extend,
                              shard=shard)
        len(self._loader)

    @property
    def batch_size(self) -> int:
        """Samples per batch."""
        return self._loader.batch_size

    @property
    def seed(self) -> int:
        """The seed every shuffle derives from."""
        return self._loader.seed

    @property
    def epoch(self) -> int:
        """The current epoch (advanced by :meth:`on_epoch_end`)."""
        return self._loader.epoch

    def set_epoch(self, epoch: int) -> None:
        """Go to ``epoch`` (e.g. when resuming training at ``initial_epoch``)."""
        self._loader.set_epoch(epoch)
        len(self._loader)

    def __len__(self) -> int:
        return len(self._loader)

    def batch_indices(self, i: int) -> np.ndarray:
        """The row ids of batch ``i`` of the current epoch (int64).

        Example:
            >>> class Ids(Sequence):
            ...     def get_batch(self, indices): return (indices,)
            >>> Ids(5, batch_size=2, shuffle=False).batch_indices(2).tolist()
            [4]
        """
        return self._loader[i].indices

    def get_batch(self, indices: np.ndarray) -> Any:
        """Load the samples at ``indices`` (row ids); return ``(x, y)``, ``(x, y, w)`` or ``(x,)``.

        ``x`` (or ``y``) may be a dict of arrays for multi-input (multi-output) models.
        Subclasses must implement this.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement get_batch(self, indices) "
                                  "-> (x, y): load the samples at those row ids")

    def __getitem__(self, i: int) -> Any:
        out = self.get_batch(self.batch_indices(i))
        if isinstance(out, list):
            out = tuple(out)  # Keras reads a list as one multi-input x, not as (x, y)
        if not isinstance(out, (tuple, Mapping)) or (isinstance(out, tuple)
                                                     and not 1 <= len(out) <= 3):
            raise TypeError(f"{type(self).__name__}.get_batch returned {type(out).__name__}"
                            f"{' of length ' + str(len(out)) if isinstance(out, tuple) else ''}; "
                            "return (x,), (x, y) or (x, y, sample_weight)")
        return out

    def on_epoch_end(self) -> None:
        """Move to the next epoch: the batches are reshuffled."""
        self.set_epoch(self._loader.epoch + 1)

    def state_dict(self) -> dict[str, Any]:
        """Seed and epoch, to resume with :meth:`load_state_dict`.

        Example:
            >>> class Ids(Sequence):
            ...     def get_batch(self, indices): return (indices,)
            >>> a = Ids(9, batch_size=2, seed=4); a.on_epoch_end()
            >>> b = Ids(9, batch_size=2); b.load_state_dict(a.state_dict())
            >>> b.batch_indices(0).tolist() == a.batch_indices(0).tolist()
            True
        """
        return self._loader.state_dict()

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Resume the seed and epoch saved by :meth:`state_dict`."""
        self._loader.load_state_dict(state)
        len(self._loader)
