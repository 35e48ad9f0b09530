"""Keras ``Sequence`` generators on Keras 3: change ``from tensorflow.keras.utils import Sequence``
(or ``from keras.utils import Sequence``) to ``from ladle.compat.keras import Sequence``.

:class:`Sequence` is a ``keras.utils.PyDataset`` that runs hand-written generators as they are
written — ``__init__`` without ``super().__init__()``, ``__len__``, ``__getitem__``,
``on_epoch_end`` reshuffling with ``np.random.shuffle`` (the global generator is left to the
subclass; ladle draws nothing from it) — and fixes what breaks or misleads on Keras 3:

* a subclass that never calls ``super().__init__()`` gets Keras' defaults (1 worker, threads, a
  queue of 10) without a warning on every ``fit``;
* ``__getitem__`` returning a list gives a tuple (``x, y = seq[i]`` and Keras both get a tuple);
* a ``__len__`` of 0 (e.g. ``len(data) // batch_size`` with too few samples) is an error when Keras
  asks for the number of batches, not a silent fit that trains on nothing;
* the base class adds no read-only attribute, so subclasses may set ``self.batch_size``,
  ``self.shuffle``, ``self.indices``, ``self.epoch``... as they like.

Ladle-driven mode (optional): ``super().__init__(n_samples=..., batch_size=...)`` makes ladle do
the indexing — ``__len__``, :meth:`Sequence.batch_indices` (the rows of batch ``i``),
``on_epoch_end`` (a new order from ``seed``, never the global generator) and exact resumption —
so the subclass only loads rows: in ``__getitem__`` from ``self.batch_indices(i)``, or in
:meth:`Sequence.get_batch`. Keras' out-of-order and parallel requests get the same batches.

Importing this module imports keras (``pip install ladle[keras]``; set ``KERAS_BACKEND``, e.g.
``torch``, when TensorFlow is not installed).

Example:
    >>> import numpy as np
    >>> from ladle.compat.keras import Sequence
    >>> class Squares(Sequence):  # ladle-driven
    ...     def get_batch(self, rows):
    ...         return rows[:, None].astype("float32"), (rows ** 2).astype("float32")
    >>> seq = Squares(n_samples=10, batch_size=4, seed=0)
    >>> len(seq), type(seq[0]).__name__, sorted(np.concatenate([seq[i][1] for i in range(3)]))[-1]
    (3, 'tuple', np.float32(81.0))
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Mapping, Sized

import numpy as np

from .._checks import check_int
from ..adapters import require
from ..loader import Loader
from ..sources.array import ArraySource

keras = require("keras", "keras", "ladle.compat.keras")

__all__ = ["Sequence"]

_KERAS_DEFAULTS = {"_workers": 1, "_use_multiprocessing": False, "_max_queue_size": 10}


def _as_tuple(out: Any) -> Any:
    """A batch as Keras wants it: a list becomes a tuple; anything else is kept."""
    return tuple(out) if isinstance(out, list) else out


def _tuple_result(getitem: Callable[[Any, int], Any]) -> Callable[[Any, int], Any]:
    if getattr(getitem, "_ladle_tuple", False):
        return getitem

    @functools.wraps(getitem)
    def wrapper(self: Any, index: int) -> Any:
        return _as_tuple(getitem(self, index))

    wrapper._ladle_tuple = True  # type: ignore[attr-defined]
    return wrapper


class Sequence(keras.utils.PyDataset):
    """A ``keras.utils.Sequence`` for Keras 3: classic subclasses unchanged, or ladle-driven.

    Classic mode (no arguments, or only Keras' ``workers``/``use_multiprocessing``/
    ``max_queue_size``): the subclass implements ``__len__``, ``__getitem__`` and optionally
    ``on_epoch_end``, exactly as for ``tf.keras.utils.Sequence``.

    Ladle-driven mode (``n_samples`` and ``batch_size`` given): ladle implements ``__len__`` and
    ``on_epoch_end``; the subclass loads the rows of :meth:`batch_indices` in ``__getitem__`` or
    implements :meth:`get_batch`.

    Args:
        n_samples: the number of samples, or anything with a ``len`` (a DataFrame...).
        batch_size: samples per batch.
        shuffle: a new order every epoch (with an array of row ids as ``order``: those rows,
            reshuffled every epoch).
        seed: the seed of every shuffle; None draws one (see :meth:`state_dict`).
        order: any ladle order (see :class:`~ladle.Loader`): weighted, class-balanced, subset...
        last_batch: ``"short"`` (Keras' ``ceil``), ``"drop"`` (``floor``, as
            ``len(data) // batch_size``) or ``"merge"``.
        n_extend: widen each batch with ``n`` rows of each neighbour.
        shard: ``(rank, world_size)`` for distributed training.
        workers, use_multiprocessing, max_queue_size: Keras' ``PyDataset`` arguments.

    Example:
        >>> class Generator(Sequence):  # classic, as in a tf.keras tutorial
        ...     def __init__(self, n, batch_size):
        ...         self.n, self.batch_size = n, batch_size
        ...     def __len__(self):
        ...         return self.n // self.batch_size
        ...     def __getitem__(self, i):
        ...         rows = np.arange(i * self.batch_size, (i + 1) * self.batch_size)
        ...         return [rows.astype("float32"), rows % 2]
        >>> gen = Generator(10, 4)
        >>> len(gen), type(gen[1]).__name__, gen.workers
        (2, 'tuple', 1)
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> "Sequence":
        obj = super().__new__(cls)
        obj.__dict__.update(_KERAS_DEFAULTS)  # so a subclass may skip super().__init__()
        obj.__dict__["_ladle_loader"] = None
        return obj

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__getitem__" in cls.__dict__:
            cls.__getitem__ = _tuple_result(cls.__dict__["__getitem__"])  # type: ignore

    def __init__(self, *, n_samples: int | Sized | None = None, batch_size: int | None = None,
                 shuffle: bool = True, seed: int | None = None, order: Any = None,
                 last_batch: str = "short", n_extend: int = 0,
                 shard: tuple[int, int] | None = None, workers: int = 1,
                 use_multiprocessing: bool = False, max_queue_size: int = 10):
        super().__init__(workers=check_int("workers", workers, 0),
                         use_multiprocessing=bool(use_multiprocessing),
                         max_queue_size=check_int("max_queue_size", max_queue_size, 1))
        if n_samples is None and batch_size is None:
            if seed is not None or order is not None or n_extend or shard is not None:
                raise ValueError("seed=, order=, n_extend= and shard= are for the ladle-driven "
                                 "mode: give n_samples= and batch_size= too")
            return
        if n_samples is None or batch_size is None:
            raise ValueError(f"the ladle-driven mode needs both n_samples= and batch_size= (got "
                             f"n_samples={n_samples!r}, batch_size={batch_size!r})")
        if last_batch == "carry":
            raise ValueError("last_batch='carry' lets batches cross epochs, so epochs differ in "
                             "length; Keras needs the same number of batches every epoch: use "
                             "'short', 'drop' or 'merge'")
        n = n_samples if isinstance(n_samples, (int, np.integer)) else len(n_samples)
        rows = ArraySource(index=np.arange(check_int("n_samples", n, 1), dtype=np.int64))
        self._ladle_loader = Loader(rows, batch_size, shuffle=shuffle, seed=seed, order=order,
                                    last_batch=last_batch, n_extend=n_extend, shard=shard)
        len(self._ladle_loader)  # plan the epoch here, not in Keras' worker threads

    # ------------------------------------------------------------------ modes
    def _loader(self, what: str) -> Loader:
        loader = self.__dict__.get("_ladle_loader")
        if loader is None:
            raise RuntimeError(f"{type(self).__name__}.{what} needs the ladle-driven mode: call "
                               "super().__init__(n_samples=..., batch_size=...) in __init__")
        return loader

    @property
    def ladle_driven(self) -> bool:
        """Whether ladle does the indexing (``n_samples``/``batch_size`` were given)."""
        return self.__dict__.get("_ladle_loader") is not None

    # ------------------------------------------------------------------ the Sequence protocol
    def __len__(self) -> int:
        if not self.ladle_driven:
            raise NotImplementedError(f"{type(self).__name__} must implement __len__ (batches per "
                                      "epoch), or use the ladle-driven mode: "
                                      "super().__init__(n_samples=..., batch_size=...)")
        return len(self._loader("__len__"))

    @property
    def num_batches(self) -> int | None:
        """Batches per epoch, as Keras asks; None for a classic subclass without ``__len__``
        (endless). A length of 0 is an error: Keras would train on nothing."""
        if not self.ladle_driven and type(self).__len__ is Sequence.__len__:
            return None
        n = len(self)
        if n == 0:
            raise ValueError(f"{type(self).__name__}.__len__() is 0, so an epoch has no batch and "
                             "Keras would train on nothing: lower the batch size or give more data "
                             "(len(data) // batch_size is 0 when batch_size > len(data))")
        return n

    def __getitem__(self, index: int) -> Any:
        if not self.ladle_driven:
            raise NotImplementedError(f"{type(self).__name__} must implement __getitem__(index) -> "
                                      "(x, y), or use the ladle-driven mode with get_batch(rows)")
        out = _as_tuple(self.get_batch(self.batch_indices(index)))
        if not isinstance(out, (tuple, Mapping, np.ndarray)):
            raise TypeError(f"{type(self).__name__}.get_batch returned a {type(out).__name__}; "
                            "return (x,), (x, y) or (x, y, sample_weight)")
        return out

    def get_batch(self, rows: np.ndarray) -> Any:
        """Ladle-driven mode: load the samples at ``rows`` (int64 row ids); return ``(x, y)``,
        ``(x, y, sample_weight)`` or ``(x,)``. Implement this, or ``__getitem__``."""
        raise NotImplementedError(f"{type(self).__name__} must implement get_batch(self, rows) "
                                  "-> (x, y), or __getitem__(self, index) using "
                                  "self.batch_indices(index)")

    def batch_indices(self, index: int) -> np.ndarray:
        """Ladle-driven mode: the row ids (int64) of batch ``index`` of the current epoch.

        Example:
            >>> class Rows(Sequence):
            ...     def get_batch(self, rows): return (rows,)
            >>> Rows(n_samples=5, batch_size=2, shuffle=False).batch_indices(2).tolist()
            [4]
        """
        return self._loader("batch_indices")[index].indices

    def on_epoch_end(self) -> None:
        """Ladle-driven mode: move to the next epoch (a new order); classic mode: nothing."""
        if self.ladle_driven:
            self.set_epoch(self._loader("on_epoch_end").epoch + 1)

    def set_epoch(self, epoch: int) -> None:
        """Ladle-driven mode: go to ``epoch`` (e.g. when resuming at ``initial_epoch``)."""
        loader = self._loader("set_epoch")
        loader.set_epoch(epoch)
        len(loader)

    def state_dict(self) -> dict[str, Any]:
        """Ladle-driven mode: the seed and epoch, to resume with :meth:`load_state_dict`.

        Example:
            >>> class Rows(Sequence):
            ...     def get_batch(self, rows): return (rows,)
            >>> a = Rows(n_samples=9, batch_size=2, seed=4); a.on_epoch_end()
            >>> b = Rows(n_samples=9, batch_size=2); b.load_state_dict(a.state_dict())
            >>> b.batch_indices(0).tolist() == a.batch_indices(0).tolist()
            True
        """
        return self._loader("state_dict").state_dict()

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Ladle-driven mode: resume the seed and epoch saved by :meth:`state_dict`."""
        loader = self._loader("load_state_dict")
        loader.load_state_dict(state)
        len(loader)
