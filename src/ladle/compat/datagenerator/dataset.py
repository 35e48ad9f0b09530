"""datagenerator's ``GeneratorDataSet`` on ladle's core:
``from ladle.compat.datagenerator.dataset import GeneratorDataSet``.

A data set is an inventory (a pandas DataFrame, one record per sample), data encoders that turn the
records of a batch into the model's inputs, and a target encoder that turns them into its targets
(see :mod:`._encoding` for how encoders are applied). Batches are cut by a core
:class:`~ladle.Loader` over the inventory in its current order (``truncate=True``:
``last_batch="drop"``), so ``workers=`` prepares them on threads; the inventory's order changes
only when asked (:meth:`GeneratorDataSet.shuffle`, :meth:`GeneratorDataSet.sort`).

Example:
    >>> import pandas as pd
    >>> from ladle.compat.datagenerator.encoders import IdentityEncoder, LabelEncoder
    >>> inventory = pd.DataFrame({"x": [0.5, 1.5, 2.5], "target": ["a", "b", "a"]})
    >>> ds = GeneratorDataSet(inventory, IdentityEncoder("x"), LabelEncoder()).fit_encoders()
    >>> [(d.tolist(), t.tolist()) for d, t in ds.batches(batch_size=2, epochs=1)]
    [([0.5, 1.5], [0, 1])]
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Iterator, Mapping

import numpy as np
import pandas as pd

from ..._checks import check_int
from ...loader import Loader
from ...parallel import BatchError
from ...sources.base import Field, Source
from ._base import DataEncoder
from ._encoding import encode

__all__ = ["GeneratorDataSet"]

_OBJECT = Field(np.dtype(object), ())


class _FrameSource(Source):
    """A ladle source over an inventory: ``read`` encodes the records at the given positions."""

    def __init__(self, frame: pd.DataFrame, data_encoders: list | None, single: bool,
                 target_encoder: Any, parts: tuple[str, ...]):
        self.frame = frame
        self.data_encoders, self.single = data_encoders, single
        self.target_encoder, self.parts = target_encoder, parts

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def fields(self) -> Mapping[str, Field]:
        return {"rows": Field(np.dtype(np.int64), ()), **{p: _OBJECT for p in self.parts}}

    def read(self, indices: np.ndarray) -> dict[str, Any]:
        n = indices.size
        if n and indices[-1] - indices[0] == n - 1 and np.all(np.diff(indices) == 1):
            frame = self.frame.iloc[int(indices[0]):int(indices[-1]) + 1]  # a view, no copy
        else:
            frame = self.frame.iloc[indices]
        out: dict[str, Any] = {"rows": indices}
        if "data" in self.parts:
            out["data"] = encode_data(self.data_encoders, self.single, frame)
        if "targets" in self.parts:
            out["targets"] = encode_targets(self.target_encoder, frame)
        return out


def encode_data(encoders: list | None, single: bool, frame: pd.DataFrame) -> Any:
    """The data of a batch: one array per data encoder (a list when several were given).

    Example:
        >>> encode_data([lambda r: r["v"] * 2], True, pd.DataFrame({"v": [1, 2]})).tolist()
        [2, 4]
    """
    if encoders is None:
        return frame
    out = [encode(enc, frame, per_record=True) for enc in encoders]
    return out[0] if single else out


def encode_targets(encoder: Any, frame: pd.DataFrame) -> Any:
    """The targets of a batch: the target encoder gets the whole slice (a per-record
    :class:`~ladle.compat.datagenerator.encoders.DataEncoder` gets each record); None without one.

    Example:
        >>> encode_targets(lambda f: f["t"].to_numpy(), pd.DataFrame({"t": [3, 4]})).tolist()
        [3, 4]
    """
    if encoder is None:
        return None
    return encode(encoder, frame, per_record=isinstance(encoder, DataEncoder))


def _fraction(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}={value!r} must be a fraction of the inventory (a float in [0, 1])")
    if not 0 <= value <= 1:
        raise ValueError(f"{name}={value!r} must be a fraction in [0, 1]")
    return float(value)


def _part_size(n: int, fraction: float) -> int:
    # floor, tolerant of float error: 0.3 * 10 is 3.0000000000000004,
    # and 0.29 * 100 is 28.999999999999996
    return int(math.floor(n * fraction + 1e-9))


class GeneratorDataSet:
    """Batches of encoded data and targets from an inventory of records (datagenerator's API).

    Args:
        inventory: a pandas DataFrame, one record (row) per sample.
        data_encoder: an encoder of the records' data, or a list of them (the data of a batch is
            then a list of arrays, one per encoder, for multi-input models); None gives the
            batch's rows of the inventory.
        target_encoder: the encoder of the targets; None gives no targets (``None``).

    Raises:
        ValueError: ``inventory`` is not a DataFrame.

    Example:
        >>> from ladle.compat.datagenerator.encoders import IdentityEncoder
        >>> ds = GeneratorDataSet(pd.DataFrame({"target": range(5)}), IdentityEncoder())
        >>> ds.size, [d.tolist() for d in ds.data_batches(batch_size=2, epochs=1, truncate=False)]
        (5, [[0, 1], [2, 3], [4]])
    """

    def __init__(self, inventory: pd.DataFrame, data_encoder: Any = None,
                 target_encoder: Any = None):
        if not isinstance(inventory, pd.DataFrame):
            raise ValueError(f"inventory must be a pandas DataFrame, got "
                             f"{type(inventory).__name__}; build one with pandas or "
                             "inventory_from_csv/inventory_from_records/inventory_from_dict")
        if isinstance(data_encoder, (list, tuple)) and not data_encoder:
            raise ValueError("data_encoder=[] names no encoder; give one, several, or None")
        self.inventory = inventory
        self.data_encoder = data_encoder
        self.target_encoder = target_encoder

    # ------------------------------------------------------------------ inventory
    @property
    def size(self) -> int:
        """The number of records in the inventory."""
        return len(self.inventory)

    def _data_encoders(self) -> list | None:
        if self.data_encoder is None:
            return None
        if isinstance(self.data_encoder, (list, tuple)):
            return list(self.data_encoder)
        return [self.data_encoder]

    def fit_encoders(self) -> "GeneratorDataSet":
        """Fit every encoder that has ``fit`` on the whole inventory; returns the data set.

        Example:
            >>> from ladle.compat.datagenerator.encoders import LabelEncoder
            >>> enc = LabelEncoder()
            >>> _ = GeneratorDataSet(pd.DataFrame({"target": ["b", "a"]}), None, enc).fit_encoders()
            >>> enc.classes_.tolist()
            ['a', 'b']
        """
        for enc in (self._data_encoders() or []) + [self.target_encoder]:
            fit = getattr(enc, "fit", None)
            if fit is not None:
                fit(self.inventory)
        return self

    def sort(self, columns: Any, ascending: Any = True) -> "GeneratorDataSet":
        """Sort the inventory by ``columns`` (a stable sort); returns the data set.

        The caller's DataFrame is left as it is: the data set holds a sorted copy.

        Example:
            >>> ds = GeneratorDataSet(pd.DataFrame({"k": [2, 1, 2], "v": [0, 1, 2]})).sort("k")
            >>> ds.inventory["v"].tolist()
            [1, 0, 2]
        """
        self.inventory = self.inventory.sort_values(columns, ascending=ascending, kind="stable")
        return self

    def shuffle(self, random_state: Any = None) -> "GeneratorDataSet":
        """Shuffle the inventory once (``DataFrame.sample(frac=1, random_state=...)``); returns the
        data set. Batches never reshuffle by themselves: call this again for a new order.

        ``random_state`` is a seed, a ``RandomState`` or ``Generator``, or None (NumPy's global
        generator, as pandas does).

        Example:
            >>> ds = GeneratorDataSet(pd.DataFrame({"v": range(6)})).shuffle(3)
            >>> sorted(ds.inventory["v"].tolist()) == list(range(6))
            True
        """
        self.inventory = self.inventory.sample(frac=1, random_state=random_state)
        return self

    def split(self, validation: float = 0.2, test: float = 0.0) -> tuple[
            "GeneratorDataSet", "GeneratorDataSet", "GeneratorDataSet"]:
        """``(train, validation, test)`` data sets: consecutive parts of the inventory, in its
        current order (shuffle first for random parts), sharing this data set's encoders.

        Both sizes are fractions of the whole inventory, rounded down; train takes the rest
        (10 records at ``validation=0.2, test=0.3`` give 5, 2 and 3). A part may be empty.

        Example:
            >>> ds = GeneratorDataSet(pd.DataFrame({"v": range(10)}))
            >>> [part.size for part in ds.split(validation=0.2, test=0.3)]
            [5, 2, 3]
        """
        n = self.size
        n_val = _part_size(n, _fraction("validation", validation))
        n_test = _part_size(n, _fraction("test", test))
        if n_val + n_test > n:
            raise ValueError(f"validation={validation!r} and test={test!r} take more than the "
                             f"whole inventory of {n} records; make them sum to at most 1")
        n_train = n - n_val - n_test
        bounds = [(0, n_train), (n_train, n_train + n_val), (n_train + n_val, n)]
        return tuple(GeneratorDataSet(self.inventory.iloc[a:b], self.data_encoder,  # type: ignore
                                      self.target_encoder) for a, b in bounds)

    # ------------------------------------------------------------------ batches
    def _loader(self, batch_size: Any, epochs: Any, truncate: bool, parts: tuple[str, ...],
                workers: int) -> Loader | None:
        batch_size = check_int("batch_size", batch_size)
        if epochs is not None:
            epochs = check_int("epochs", epochs, 0)
        n = self.size
        if n == 0:
            raise ValueError("the inventory is empty: there is nothing to make batches of")
        if batch_size < 1:
            batch_size, truncate = n, False  # one batch of everything
        if truncate and batch_size > n:
            raise ValueError(f"batch_size={batch_size} is larger than the {n} records of the "
                             "inventory, and truncate=True drops every partial batch, so there "
                             "would be no batch at all: lower batch_size or pass truncate=False")
        if epochs == 0:
            return None
        source = _FrameSource(self.inventory, self._data_encoders(),
                              not isinstance(self.data_encoder, (list, tuple)),
                              self.target_encoder, parts)
        return Loader(source, batch_size, order="sequential", seed=0, epochs=epochs,
                      last_batch="drop" if truncate else "short", workers=workers)

    def batches(self, batch_size: int = 10, epochs: int | None = None, truncate: bool = True, *,
                workers: int = 0) -> Iterator[tuple[Any, Any]]:
        """A generator of ``(data, targets)`` batches, ``epochs`` passes over the inventory.

        Args:
            batch_size: records per batch; below 1, each epoch is one batch of every record.
            epochs: passes over the inventory; None is endless (for Keras' ``fit`` with
                ``steps_per_epoch``).
            truncate: drop each epoch's last partial batch (keep it with False).
            workers: threads that prepare the next batches while the current one is used (a
                ladle addition; 0 prepares them in the caller's thread). Encoders must then be
                safe to call from several threads.

        Raises:
            ValueError: at once (not at the first ``next``) when ``truncate=True`` and
                ``batch_size`` is larger than the inventory, or the inventory is empty.

        Example:
            >>> from ladle.compat.datagenerator.encoders import IdentityEncoder
            >>> ds = GeneratorDataSet(pd.DataFrame({"x": range(5), "target": range(5)}),
            ...                       IdentityEncoder("x"), IdentityEncoder())
            >>> gen = ds.batches(batch_size=2)  # endless; the last partial batch is dropped
            >>> [next(gen)[0].tolist() for _ in range(3)]
            [[0, 1], [2, 3], [0, 1]]
        """
        loader = self._loader(batch_size, epochs, truncate, ("data", "targets"), workers)
        return _iterate(loader, lambda b: (b["data"], b["targets"]))

    def data_batches(self, batch_size: int = 10, epochs: int | None = None, truncate: bool = True,
                     *, workers: int = 0) -> Iterator[Any]:
        """As :meth:`batches`, the data only (targets are not encoded).

        Example:
            >>> ds = GeneratorDataSet(pd.DataFrame({"v": [1, 2, 3]}), lambda r: r["v"] * 10)
            >>> [d.tolist() for d in ds.data_batches(batch_size=0, epochs=2)]
            [[10, 20, 30], [10, 20, 30]]
        """
        loader = self._loader(batch_size, epochs, truncate, ("data",), workers)
        return _iterate(loader, lambda b: b["data"])

    def target_batches(self, batch_size: int = 10, epochs: int | None = None,
                       truncate: bool = True, *, workers: int = 0) -> Iterator[Any]:
        """As :meth:`batches`, the targets only (data is not loaded).

        Example:
            >>> from ladle.compat.datagenerator.encoders import IdentityEncoder
            >>> ds = GeneratorDataSet(pd.DataFrame({"target": [1, 2, 3]}), None, IdentityEncoder())
            >>> [t.tolist() for t in ds.target_batches(batch_size=2, epochs=1, truncate=False)]
            [[1, 2], [3]]
        """
        loader = self._loader(batch_size, epochs, truncate, ("targets",), workers)
        return _iterate(loader, lambda b: b["targets"])

    def data(self) -> Any:
        """The data of the whole inventory, as one batch.

        Example:
            >>> GeneratorDataSet(pd.DataFrame({"v": [1, 2]}), lambda r: -r["v"]).data().tolist()
            [-1, -2]
        """
        return encode_data(self._data_encoders(), not isinstance(self.data_encoder, (list, tuple)),
                           self.inventory)

    def targets(self) -> Any:
        """The targets of the whole inventory, as one batch (None without a target encoder).

        Example:
            >>> from ladle.compat.datagenerator.encoders import IdentityEncoder
            >>> GeneratorDataSet(pd.DataFrame({"target": [4, 5]}), None,
            ...                  IdentityEncoder()).targets().tolist()
            [4, 5]
        """
        return encode_targets(self.target_encoder, self.inventory)

    def __repr__(self) -> str:
        return (f"GeneratorDataSet(size={self.size}, data_encoder={self.data_encoder!r}, "
                f"target_encoder={self.target_encoder!r})")


def _iterate(loader: Loader | None, pick: Any) -> Iterator[Any]:
    """Yield ``pick(batch)`` for the loader's batches; an encoder's exception is raised as itself,
    with a note naming the batch and its inventory positions."""
    if loader is None:
        return
    try:
        for batch in loader:
            yield pick(batch)
    except BatchError as exc:
        cause = exc.cause
        if hasattr(cause, "add_note"):
            cause.add_note(f"(in {exc}; rows are positions in the inventory)")
        raise cause.with_traceback(cause.__traceback__) from cause.__cause__
    finally:
        loader.close()
