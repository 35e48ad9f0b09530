"""datagenerator's encoders on ladle: ``from ladle.compat.datagenerator.encoders import ...``.

Two interfaces, as in datagenerator:

* :class:`DataEncoder`: per record — ``transform(record)`` (or just being callable), optionally
  ``fit(inventory)`` and ``finalize_batch(samples)`` (e.g. padding);
* :class:`BatchDataEncoder`: per batch — ``transform_batch(records)`` gets the batch's rows of the
  inventory as a DataFrame slice.

Ready-made encoders:

* data from files and URLs: :class:`FileDataEncoder`, :class:`UrlDataEncoder` (see
  :mod:`._locations`);
* per record: :class:`IdentityEncoder`, :class:`LabelRecordEncoder`, :class:`OneHotRecordEncoder`;
* targets of a batch: :class:`LabelEncoder`, :class:`OneHotEncoder`, :class:`IntToOneHotEncoder`,
  :class:`RecordTargetEncoder` (a per-record encoder applied to every record).

Every encoder that reads a column takes it as ``target`` (default ``"target"``) and reads that
column. Labels are encoded by :mod:`ladle.encoders` (no scikit-learn): classes sorted, fitted once
on the whole inventory, an unknown label is an error naming it.

Example:
    >>> import pandas as pd
    >>> inventory = pd.DataFrame({"id": ["a", "b", "c"], "label": ["dog", "cat", "dog"]})
    >>> enc = OneHotEncoder("label").fit(inventory)
    >>> enc.transform_batch(inventory.iloc[:2]).tolist()
    [[0.0, 1.0], [1.0, 0.0]]
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from ... import encoders as core
from ._base import BatchDataEncoder, DataEncoder
from ._encoding import encode
from ._locations import FileDataEncoder, UrlDataEncoder

__all__ = ["BatchDataEncoder", "DataEncoder", "FileDataEncoder", "IdentityEncoder",
           "IntToOneHotEncoder", "LabelEncoder", "LabelRecordEncoder", "OneHotEncoder",
           "OneHotRecordEncoder", "RecordTargetEncoder", "UrlDataEncoder"]

DEFAULT_TARGET = "target"


# --------------------------------------------------------------------------- helpers
class _Column:
    """Mixin: the inventory column an encoder reads (``target``), and reading it."""

    target: str
    _default_target: bool

    def _set_target(self, target: str | None) -> None:
        if target is not None and not isinstance(target, (str, int)):
            raise TypeError(f"target={target!r} must be the name of an inventory column")
        self._default_target = target is None
        self.target = DEFAULT_TARGET if target is None else target

    def _values(self, data: Any) -> tuple[Any, Any]:
        """(labels, row ids or None) of ``data``: a DataFrame (its column), a record, or labels."""
        columns = getattr(data, "columns", None)
        if columns is not None:  # a DataFrame
            if self.target not in columns:
                raise KeyError(f"{type(self).__name__}(target={self.target!r}): the inventory has "
                               f"no column {self.target!r}; its columns are {list(columns)}: "
                               "pass target= the column to encode")
            index = data.index
            rows = index.to_numpy() if index.dtype.kind in "iu" else None
            return data[self.target].to_numpy(), rows
        return data, None

    def _record_value(self, record: Any) -> Any:
        try:
            return record[self.target]
        except (KeyError, IndexError):
            keys = list(record.keys()) if hasattr(record, "keys") else record
            raise KeyError(f"{type(self).__name__}(target={self.target!r}): the record has no "
                           f"column {self.target!r}; its columns are {keys}: pass target= the "
                           "column to encode") from None


class _Labels(_Column):
    """Mixin: a fitted :mod:`ladle.encoders` label encoder behind a datagenerator encoder."""

    _core: core.LabelEncoder

    def _setup(self, target: str | None, encoder: core.LabelEncoder,
               classes: Iterable[Any] | None) -> None:
        self._set_target(target)
        self._core = encoder
        self._fixed = classes is not None

    def fit(self, inventory: Any) -> Any:
        """Learn the classes (sorted) from the ``target`` column of the whole inventory (kept as
        they are when ``classes=`` was given)."""
        if self._fixed:
            return self
        values, rows = self._values(inventory)
        self._core.fit(values, rows)
        return self

    @property
    def classes_(self) -> np.ndarray | None:
        """The classes, sorted (None before :meth:`fit`)."""
        return self._core.classes_

    def _check(self) -> None:
        if not self._core.fitted:
            raise RuntimeError(f"{type(self).__name__}(target={self.target!r}) is not fitted: call "
                               "dataset.fit_encoders() (or encoder.fit(inventory)) first, or give "
                               "classes=")

    def _encode(self, values: Any, rows: Any = None) -> np.ndarray:
        self._check()
        return self._core.transform(values, rows)

    def inverse_transform(self, encoded: Any) -> np.ndarray:
        """The labels an encoded array stands for."""
        self._check()
        return self._core.inverse_transform(encoded)


# --------------------------------------------------------------------------- per record
class IdentityEncoder(_Column, DataEncoder):
    """A record's ``target`` column as it is (``target=None`` reads column ``"target"``).

    Example:
        >>> IdentityEncoder("size")({"id": "a", "size": 2.5})
        2.5
    """

    def __init__(self, target: str | None = None):
        self._set_target(target)

    def transform(self, record: Any) -> Any:
        return self._record_value(record)

    def __repr__(self) -> str:
        return f"IdentityEncoder(target={self.target!r})"


class LabelRecordEncoder(_Labels, DataEncoder):
    """A record's label as its class id (classes sorted, learned by :meth:`fit`).

    Args:
        target: the label column.
        classes: fix the classes (in this order) instead of learning them.

    Example:
        >>> import pandas as pd
        >>> enc = LabelRecordEncoder("label").fit(pd.DataFrame({"label": ["b", "a"]}))
        >>> int(enc({"label": "b"}))
        1
    """

    def __init__(self, target: str | None = None, classes: Iterable[Any] | None = None):
        self._setup(target, core.LabelEncoder(classes), classes)

    def transform(self, record: Any) -> Any:
        return self._encode([self._record_value(record)])[0]

    def __repr__(self) -> str:
        return f"LabelRecordEncoder(target={self.target!r})"


class OneHotRecordEncoder(_Labels, DataEncoder):
    """A record's label as a one-hot vector (float32; classes sorted, learned by :meth:`fit`).

    Example:
        >>> import pandas as pd
        >>> enc = OneHotRecordEncoder("label").fit(pd.DataFrame({"label": ["b", "a"]}))
        >>> enc({"label": "b"}).tolist()
        [0.0, 1.0]
    """

    def __init__(self, target: str | None = None, classes: Iterable[Any] | None = None,
                 dtype: Any = np.float32):
        self._setup(target, core.OneHotEncoder(classes, dtype=dtype), classes)

    def transform(self, record: Any) -> np.ndarray:
        return self._encode([self._record_value(record)])[0]

    def __repr__(self) -> str:
        return f"OneHotRecordEncoder(target={self.target!r})"


# --------------------------------------------------------------------------- per batch
class _BatchLabels(_Labels, BatchDataEncoder):
    """A label encoder of whole batches; also callable on a DataFrame, a record or labels."""

    def transform(self, data: Any) -> Any:
        """Encode a DataFrame (its ``target`` column), one record, or a sequence of labels."""
        if hasattr(data, "keys") and not hasattr(data, "columns") and not hasattr(data, "dtype"):
            return self._encode([self._record_value(data)])[0]
        values, rows = self._values(data)
        return self._encode(values, rows)

    def transform_batch(self, records: Any) -> np.ndarray:
        return self.transform(records)

    __call__ = transform

    def __repr__(self) -> str:
        return f"{type(self).__name__}(target={self.target!r})"


class LabelEncoder(_BatchLabels):
    """Labels of the ``target`` column as class ids (int64; classes sorted, learned by
    :meth:`fit` on the whole inventory).

    Args:
        target: the label column.
        classes: fix the classes (in this order) instead of learning them.

    Example:
        >>> import pandas as pd
        >>> inventory = pd.DataFrame({"target": ["cat", "dog", "cat"]})
        >>> LabelEncoder().fit(inventory).transform_batch(inventory).tolist()
        [0, 1, 0]
    """

    def __init__(self, target: str | None = None, classes: Iterable[Any] | None = None):
        self._setup(target, core.LabelEncoder(classes), classes)


class OneHotEncoder(_BatchLabels):
    """Labels of the ``target`` column as one-hot rows (a dense float32 array).

    Args:
        target: the label column.
        classes: fix the classes instead of learning them.
        dtype: dtype of the rows.

    Example:
        >>> import pandas as pd
        >>> inventory = pd.DataFrame({"target": ["cat", "dog"]})
        >>> OneHotEncoder().fit(inventory).transform_batch(inventory).tolist()
        [[1.0, 0.0], [0.0, 1.0]]
    """

    def __init__(self, target: str | None = None, classes: Iterable[Any] | None = None,
                 dtype: Any = np.float32):
        self._setup(target, core.OneHotEncoder(classes, dtype=dtype), classes)


class IntToOneHotEncoder(_Column, BatchDataEncoder):
    """Integer class ids of the ``target`` column as one-hot rows (float32).

    Args:
        target: the column of class ids ``0..num_classes-1``.
        num_classes: the number of classes; None learns ``max + 1`` in :meth:`fit`.
        dtype: dtype of the rows.

    Example:
        >>> import pandas as pd
        >>> inventory = pd.DataFrame({"digit": [2, 0]})
        >>> IntToOneHotEncoder("digit").fit(inventory).transform_batch(inventory).tolist()
        [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    """

    def __init__(self, target: str | None = None, num_classes: int | None = None,
                 dtype: Any = np.float32):
        self._set_target(target)
        if num_classes is not None and (isinstance(num_classes, bool) or int(num_classes) < 1):
            raise ValueError(f"num_classes={num_classes!r} must be >= 1, or None to learn it")
        self.num_classes = None if num_classes is None else int(num_classes)
        self._learned = False
        self.dtype = np.dtype(dtype)

    def _ints(self, data: Any) -> np.ndarray:
        values, _ = self._values(data)
        arr = np.asarray(values)
        if arr.dtype.kind == "f" and arr.size and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        if arr.dtype.kind not in "iu":
            raise TypeError(f"IntToOneHotEncoder(target={self.target!r}) needs integer class ids, "
                            f"got dtype {arr.dtype}; use OneHotEncoder for labels")
        if arr.size and arr.min() < 0:
            raise ValueError(f"class id {int(arr.min())} in column {self.target!r} is negative; "
                             "class ids must be 0..num_classes-1")
        return arr.astype(np.int64)

    def fit(self, inventory: Any) -> "IntToOneHotEncoder":
        """Learn ``num_classes`` as the largest class id + 1 (unless it was given)."""
        if self.num_classes is None or self._learned:
            ints = self._ints(inventory)
            if ints.size == 0:
                raise ValueError("cannot learn num_classes from an empty inventory; give "
                                 "num_classes=")
            self.num_classes, self._learned = int(ints.max()) + 1, True
        return self

    def transform(self, data: Any) -> np.ndarray:
        """One-hot rows of a DataFrame's ``target`` column, or of a sequence of class ids."""
        if self.num_classes is None:
            raise RuntimeError(f"IntToOneHotEncoder(target={self.target!r}) is not fitted: call "
                               "dataset.fit_encoders() first, or give num_classes=")
        ints = self._ints(data)
        if ints.size and ints.max() >= self.num_classes:
            raise ValueError(f"class id {int(ints.max())} in column {self.target!r} is outside "
                             f"[0, {self.num_classes}): raise num_classes= or refit")
        return np.eye(self.num_classes, dtype=self.dtype)[ints]

    transform_batch = transform
    __call__ = transform

    def __repr__(self) -> str:
        return f"IntToOneHotEncoder(target={self.target!r}, num_classes={self.num_classes})"


class RecordTargetEncoder(_Column, BatchDataEncoder):
    """Targets of a batch from a per-record encoder applied to every record (then its
    ``finalize_batch``); without one, the ``target`` column's values.

    Args:
        encoder: a per-record encoder (``transform(record)`` or a callable), e.g.
            :class:`LabelRecordEncoder`; fitted by :meth:`fit` when it has ``fit``.
        target: the column read when ``encoder`` is None.

    Example:
        >>> import pandas as pd
        >>> inventory = pd.DataFrame({"w": [1.0, 3.0], "h": [2.0, 2.0]})
        >>> RecordTargetEncoder(lambda r: r["w"] * r["h"]).transform_batch(inventory).tolist()
        [2.0, 6.0]
        >>> RecordTargetEncoder(target="w").transform_batch(inventory).tolist()
        [1.0, 3.0]
    """

    def __init__(self, encoder: Any = None, target: str | None = None):
        if encoder is not None and not (callable(encoder) or hasattr(encoder, "transform")):
            raise TypeError(f"encoder={encoder!r} must encode a record: give an object with "
                            "transform(record), or a function")
        self.encoder = encoder
        self._set_target(target)

    def fit(self, inventory: Any) -> "RecordTargetEncoder":
        """Fit the per-record encoder on the whole inventory (when it has ``fit``)."""
        fit = getattr(self.encoder, "fit", None)
        if fit is not None:
            fit(inventory)
        return self

    def transform_batch(self, records: Any) -> Any:
        if self.encoder is None:
            values, _ = self._values(records)
            return np.asarray(values)
        return encode(self.encoder, records, per_record=True)

    transform = transform_batch
    __call__ = transform_batch

    def __repr__(self) -> str:
        return f"RecordTargetEncoder({self.encoder!r}, target={self.target!r})"


def bind_target(encoder: Any, target: str) -> None:
    """Point an encoder left at the default column (``target=None``) to the ``target`` column
    (what the factories' ``target=`` does); an encoder given another column keeps it.

    Example:
        >>> enc = LabelEncoder(); bind_target(enc, "label"); enc.target
        'label'
    """
    if getattr(encoder, "_default_target", False):
        encoder.target = target
        encoder._default_target = False
    inner = getattr(encoder, "encoder", None)
    if isinstance(encoder, RecordTargetEncoder) and inner is not None:
        bind_target(inner, target)
