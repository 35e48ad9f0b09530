"""Target encoders: turn a column of labels into the arrays a model trains on.

Every encoder is fitted once on the whole inventory (an
:class:`~ladle.sources.inventory.InventorySource` fits unfitted encoders when it is built), so every
batch, every worker and every split uses the same mapping. An unknown label at transform time is
an error naming the label and its row.

Encoders know two representations of a row's target:

* ``transform(values)`` gives the model's array (codes, one-hot or multi-hot rows);
* ``to_codes(values)`` gives a compact per-row array the inventory stores (class ids, bit-packed
  multi-hot rows) and ``from_codes(codes)`` expands a batch of it to what ``transform`` gives.

Example:
    >>> import numpy as np
    >>> from ladle.encoders import OneHotEncoder
    >>> enc = OneHotEncoder().fit(["dog", "cat", "dog"])
    >>> enc.classes_.tolist(), enc.transform(["dog"]).tolist()
    (['cat', 'dog'], [[0.0, 1.0]])
"""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import numpy as np

if TYPE_CHECKING:  # imported lazily: ladle.sources imports this module
    from .sources.base import Field

__all__ = ["BinaryEncoder", "IdentityEncoder", "LabelEncoder", "MultiLabelEncoder", "OneHotEncoder",
           "TargetEncoder", "UnknownLabelError"]


def _field(dtype: Any, shape: tuple) -> "Field":
    from .sources.base import Field

    return Field(np.dtype(dtype), tuple(shape))


class UnknownLabelError(ValueError):
    """A label that the encoder was not fitted on (or a missing label).

    Example:
        >>> str(UnknownLabelError("emu", 4, ["cat", "dog"]))[:36]
        "unknown label 'emu' in row 4; the en"
    """

    def __init__(self, label: Any, row: int, classes: Sequence[Any], column: str | None = None):
        self.label, self.row = label, row
        shown = list(classes[:20]) + (["..."] if len(classes) > 20 else [])
        where = "" if column is None else f"column {column!r}: "
        super().__init__(f"{where}unknown label {label!r} in row {row}; the encoder was fitted on "
                         f"classes {shown}; fit it on data that contains the label, give it "
                         "classes=, or drop the row")

    def __reduce__(self):
        return (_unknown, (str(self), self.label, self.row))


def _unknown(message: str, label: Any, row: int) -> UnknownLabelError:
    err = UnknownLabelError.__new__(UnknownLabelError)
    ValueError.__init__(err, message)
    err.label, err.row = label, row
    return err


def _rows(rows: Any, n: int) -> np.ndarray:
    return np.arange(n, dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _as_labels(values: Any, rows: Any = None) -> np.ndarray:
    """A 1-D non-object array of labels ('U' for strings); a missing label is an error naming
    its row."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"labels must be 1-D (one per row), got shape {arr.shape}")
    if arr.dtype.kind == "f":
        bad = np.flatnonzero(np.isnan(arr))
        if bad.size:
            row = int(_rows(rows, arr.size)[bad[0]])
            raise ValueError(f"row {row} has no label (NaN); fill or drop rows without a label")
    if arr.dtype != object:
        return arr
    items = arr.tolist()
    if items and all(type(v) is str for v in items):
        return np.array(items, dtype=str)
    for i, v in enumerate(items):
        if _is_missing(v):
            raise ValueError(f"row {int(_rows(rows, len(items))[i])} has no label ({v!r}); fill or "
                             "drop rows without a label")
    if not items:
        return np.empty(0, dtype="U1")
    if all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in items):
        return np.array(items, dtype=np.int64)
    if all(isinstance(v, numbers.Real) for v in items):
        return np.array(items, dtype=np.float64)
    kinds = sorted({type(v).__name__ for v in items})
    raise TypeError(f"labels mix types {kinds}; give labels of one type (all strings or all "
                    "numbers)")


def _lookup(classes: np.ndarray, labels: np.ndarray, rows: Any) -> np.ndarray:
    """Class id of each label, or :class:`UnknownLabelError` for the first unknown one."""
    if labels.size == 0:
        return np.empty(0, dtype=np.int64)
    if classes.size == 0:
        raise UnknownLabelError(labels[0].item(), int(_rows(rows, labels.size)[0]), [])
    try:
        pos = np.searchsorted(classes, labels)
        clipped = np.minimum(pos, classes.size - 1)
        bad = classes[clipped] != labels
    except TypeError:  # labels of another type than the classes (e.g. numbers vs strings)
        bad = np.ones(labels.size, dtype=bool)
        clipped = np.zeros(labels.size, dtype=np.int64)
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise UnknownLabelError(labels[i].item(), int(_rows(rows, labels.size)[i]),
                                classes.tolist())
    return clipped.astype(np.int64)


class TargetEncoder:
    """Base class: ``fit`` on all labels, then ``transform`` any of them; reversible.

    Subclasses set ``classes_`` when fitted and implement :meth:`transform` and
    :meth:`inverse_transform`; :meth:`to_codes`/:meth:`from_codes` default to ``transform`` and the
    identity.

    Example:
        >>> LabelEncoder().fit_transform(["b", "a"]).tolist()
        [1, 0]
    """

    classes_: np.ndarray | None = None

    @property
    def fitted(self) -> bool:
        """Whether the encoder has a mapping (fitted, or given ``classes=``)."""
        return self.classes_ is not None

    def _check_fitted(self) -> np.ndarray:
        if self.classes_ is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit(labels) first, or "
                               "give classes=")
        return self.classes_

    def fit(self, values: Any, rows: Any = None) -> "TargetEncoder":
        """Learn the mapping from all labels (``rows`` are their row ids, for error messages)."""
        labels = _as_labels(values, rows)
        self.classes_ = np.unique(labels)
        return self

    def transform(self, values: Any, rows: Any = None) -> np.ndarray:  # pragma: no cover - abstract
        """Encode ``values`` (row ids ``rows`` name the row of an unknown label)."""
        raise NotImplementedError

    def inverse_transform(self, encoded: Any) -> np.ndarray:  # pragma: no cover - abstract
        """The labels an encoded array stands for."""
        raise NotImplementedError

    def fit_transform(self, values: Any, rows: Any = None) -> np.ndarray:
        """``fit(values)`` then ``transform(values)``."""
        return self.fit(values, rows).transform(values, rows)

    def to_codes(self, values: Any, rows: Any = None) -> np.ndarray:
        """Compact per-row codes, as stored by an inventory (default: the transform itself)."""
        return self.transform(values, rows)

    def from_codes(self, codes: np.ndarray) -> np.ndarray:
        """Expand the codes of a batch to what :meth:`transform` gives."""
        return codes

    @property
    def field(self) -> Field:  # pragma: no cover - abstract
        """dtype and per-row shape of the encoded target."""
        raise NotImplementedError

    def __repr__(self) -> str:
        n = "unfitted" if self.classes_ is None else f"{len(self.classes_)} classes"
        return f"{type(self).__name__}({n})"


class LabelEncoder(TargetEncoder):
    """Labels → integer class ids ``0..k-1``, classes sorted (as scikit-learn's ``LabelEncoder``).

    Args:
        classes: fix the classes instead of learning them in :meth:`fit`; their order is kept
            (``classes[i]`` is class id ``i``).
        dtype: integer dtype of the codes.

    Example:
        >>> enc = LabelEncoder().fit(["dog", "cat", "emu"])
        >>> enc.transform(["emu", "cat"]).tolist(), enc.inverse_transform([1]).tolist()
        ([2, 0], ['dog'])
    """

    def __init__(self, classes: Iterable[Any] | None = None, dtype: Any = np.int64):
        self.dtype = np.dtype(dtype)
        if self.dtype.kind not in "iu":
            raise ValueError(f"dtype={self.dtype} must be an integer dtype for class ids")
        if classes is not None:
            labels = _as_labels(list(classes))
            uniq = np.unique(labels)
            if uniq.size != labels.size:
                raise ValueError(f"classes={list(classes)!r} has repeated labels; give each once")
            self.classes_ = labels  # the given order is kept: classes[i] is class id i
            order = np.argsort(self.classes_, kind="stable")
            self._order = None if np.array_equal(order, np.arange(order.size)) else order

    _order: np.ndarray | None = None

    def fit(self, values: Any, rows: Any = None) -> "LabelEncoder":
        super().fit(values, rows)
        self._order = None
        return self

    def transform(self, values: Any, rows: Any = None) -> np.ndarray:
        """Class ids of ``values``.

        Example:
            >>> LabelEncoder(classes=["b", "a"]).transform(["a"]).tolist()
            [1]
        """
        classes = self._check_fitted()
        labels = _as_labels(values, rows)
        if self._order is None:
            return _lookup(classes, labels, rows).astype(self.dtype)
        sorted_ids = _lookup(classes[self._order], labels, rows)
        return self._order[sorted_ids].astype(self.dtype)

    def inverse_transform(self, encoded: Any) -> np.ndarray:
        """Labels of class ids.

        Example:
            >>> LabelEncoder().fit([3, 1]).inverse_transform([0, 1]).tolist()
            [1, 3]
        """
        classes = self._check_fitted()
        codes = np.asarray(encoded)
        if codes.size and (codes.min() < 0 or codes.max() >= classes.size):
            bad = int(codes.min() if codes.min() < 0 else codes.max())
            raise ValueError(f"class id {bad} is outside [0, {classes.size})")
        return classes[codes]

    def to_codes(self, values: Any, rows: Any = None) -> np.ndarray:
        return self.transform(values, rows).astype(_code_dtype(self.classes_.size))

    def from_codes(self, codes: np.ndarray) -> np.ndarray:
        return codes.astype(self.dtype)

    @property
    def field(self) -> Field:
        return _field(self.dtype, ())


class OneHotEncoder(LabelEncoder):
    """Labels → one-hot rows of fixed width ``len(classes_)`` (float32 by default).

    Stored compactly as class ids; a batch is expanded when it is read.

    Args:
        classes: fix the classes instead of learning them.
        dtype: dtype of the one-hot rows.

    Example:
        >>> enc = OneHotEncoder(classes=["no", "yes"])
        >>> enc.transform(["yes", "no"]).tolist(), enc.inverse_transform([[0, 1]]).tolist()
        ([[0.0, 1.0], [1.0, 0.0]], ['yes'])
    """

    def __init__(self, classes: Iterable[Any] | None = None, dtype: Any = np.float32):
        super().__init__(classes)
        self.out_dtype = np.dtype(dtype)

    def to_codes(self, values: Any, rows: Any = None) -> np.ndarray:
        return LabelEncoder.transform(self, values, rows).astype(_code_dtype(self.classes_.size))

    def from_codes(self, codes: np.ndarray) -> np.ndarray:
        out = np.zeros((len(codes), self.classes_.size), dtype=self.out_dtype)
        out[np.arange(len(codes)), codes] = 1
        return out

    def transform(self, values: Any, rows: Any = None) -> np.ndarray:
        return self.from_codes(self.to_codes(values, rows))

    def inverse_transform(self, encoded: Any) -> np.ndarray:
        arr = np.asarray(encoded)
        if arr.ndim != 2 or arr.shape[1] != self._check_fitted().size:
            raise ValueError(f"one-hot rows must have shape (n, {self.classes_.size}), got "
                             f"{arr.shape}")
        return self.classes_[np.argmax(arr, axis=1)]

    @property
    def field(self) -> Field:
        return _field(self.out_dtype, (int(self._check_fitted().size),))


def _code_dtype(k: int) -> np.dtype:
    return np.dtype(np.int16 if k < 2 ** 15 else np.int32)


class MultiLabelEncoder(TargetEncoder):
    """Sets of labels → multi-hot rows (float32): lists, tuples, sets, or strings split by ``sep``.

    Stored bit-packed (one bit per class and row); a batch is expanded when it is read.

    Args:
        sep: delimiter of string values (``"cat|dog"``); an empty string is an empty set.
        classes: fix the classes instead of learning them.
        dtype: dtype of the multi-hot rows.

    Example:
        >>> enc = MultiLabelEncoder(sep="|").fit(["cat|dog", "dog", ""])
        >>> enc.transform(["dog|cat", ""]).tolist()
        [[1.0, 1.0], [0.0, 0.0]]
        >>> [x.tolist() for x in enc.inverse_transform([[0, 1]])]
        [['dog']]
    """

    def __init__(self, sep: str | None = None, classes: Iterable[Any] | None = None,
                 dtype: Any = np.float32):
        self.sep = sep
        self.dtype = np.dtype(dtype)
        if classes is not None:
            labels = _as_labels(list(classes))
            if np.unique(labels).size != labels.size:
                raise ValueError(f"classes={list(classes)!r} has repeated labels; give each once")
            self.classes_ = np.unique(labels)

    def _split(self, values: Any, rows: Any) -> tuple[np.ndarray, np.ndarray]:
        """(flat labels, row position of each) of a column of label sets."""
        items = values.tolist() if isinstance(values, np.ndarray) else list(values)
        ids = _rows(rows, len(items))
        sep = self.sep
        if sep and all(type(v) is str for v in items):  # delimited strings: split all at once
            counts = np.fromiter((v.count(sep) + 1 if v else 0 for v in items), np.int64,
                                 len(items))
            flat_s = sep.join(v for v in items if v).split(sep) if counts.any() else []
            labels = np.array(flat_s, dtype=str) if flat_s else np.empty(0, dtype="U1")
            owner = np.repeat(np.arange(len(items), dtype=np.int64), counts)
            keep = labels != ""
            return labels[keep], owner[keep]
        flat: list = []
        owner: list = []
        for i, v in enumerate(items):
            if _is_missing(v):
                raise ValueError(f"row {int(ids[i])} has no label set ({v!r}); use an empty list "
                                 "(or an empty string with sep=) for rows without labels")
            if isinstance(v, str):
                if self.sep is None:
                    raise TypeError(f"row {int(ids[i])} is the string {v!r}: give sep= (e.g. "
                                    "MultiLabelEncoder(sep='|')) to split delimited labels, or "
                                    "lists")
                parts = [p for p in v.split(self.sep) if p] if v else []
            elif isinstance(v, (list, tuple, set, frozenset, np.ndarray)):
                parts = list(v)
            else:
                raise TypeError(f"row {int(ids[i])} is a {type(v).__name__} ({v!r}); give a list "
                                "of labels or a delimited string with sep=")
            flat.extend(parts)
            owner.extend([i] * len(parts))
        labels = _as_labels(np.array(flat, dtype=object) if flat else np.empty(0, dtype="U1"))
        return labels, np.asarray(owner, dtype=np.int64)

    def fit(self, values: Any, rows: Any = None) -> "MultiLabelEncoder":
        labels, _ = self._split(values, rows)
        self.classes_ = np.unique(labels)
        return self

    def transform(self, values: Any, rows: Any = None) -> np.ndarray:
        classes = self._check_fitted()
        labels, owner = self._split(values, rows)
        n = len(values)
        try:
            ids = _lookup(classes, labels, None)
        except UnknownLabelError as exc:
            row = int(_rows(rows, n)[owner[exc.row]])
            raise UnknownLabelError(exc.label, row, classes.tolist()) from None
        out = np.zeros((n, classes.size), dtype=self.dtype)
        out[owner, ids] = 1
        return out

    def to_codes(self, values: Any, rows: Any = None) -> np.ndarray:
        return np.packbits(self.transform(values, rows).astype(bool), axis=1)

    def from_codes(self, codes: np.ndarray) -> np.ndarray:
        return np.unpackbits(codes, axis=1, count=self.classes_.size).astype(self.dtype)

    def inverse_transform(self, encoded: Any) -> list[np.ndarray]:
        arr = np.asarray(encoded)
        classes = self._check_fitted()
        if arr.ndim != 2 or arr.shape[1] != classes.size:
            raise ValueError(f"multi-hot rows must have shape (n, {classes.size}), got {arr.shape}")
        return [classes[row > 0.5] for row in arr]

    @property
    def field(self) -> Field:
        return _field(self.dtype, (int(self._check_fitted().size),))


class BinaryEncoder(TargetEncoder):
    """Two classes → 0/1 (float32 by default), for a sigmoid output.

    Args:
        positive: the label encoded as 1; by default the larger of the two sorted classes.
        classes: fix the two classes instead of learning them.
        dtype: dtype of the targets.

    Example:
        >>> enc = BinaryEncoder(positive="spam").fit(["spam", "ham", "ham"])
        >>> enc.transform(["ham", "spam"]).tolist(), enc.inverse_transform([1.0]).tolist()
        ([0.0, 1.0], ['spam'])
    """

    def __init__(self, positive: Any = None, classes: Iterable[Any] | None = None,
                 dtype: Any = np.float32):
        self.positive = positive
        self.dtype = np.dtype(dtype)
        if classes is not None:
            self._set(np.unique(_as_labels(list(classes))))

    def _set(self, classes: np.ndarray) -> None:
        if self.positive is not None:
            if self.positive not in classes.tolist():
                if classes.size >= 2:
                    raise ValueError(f"positive={self.positive!r} is not among the classes "
                                     f"{classes.tolist()}")
                classes = np.unique(np.append(classes, self.positive))
            other = [c for c in classes.tolist() if c != self.positive]
            classes = np.array(other + [self.positive], dtype=classes.dtype)
        if classes.size != 2:
            raise ValueError(f"BinaryEncoder needs exactly 2 classes, found {classes.size}: "
                             f"{classes.tolist()[:10]}; use LabelEncoder or OneHotEncoder for more")
        self.classes_ = classes

    def fit(self, values: Any, rows: Any = None) -> "BinaryEncoder":
        self._set(np.unique(_as_labels(values, rows)))
        return self

    def transform(self, values: Any, rows: Any = None) -> np.ndarray:
        classes = self._check_fitted()
        labels = _as_labels(values, rows)
        is_pos = labels == classes[1]
        unknown = ~(is_pos | (labels == classes[0]))
        if np.any(unknown):
            i = int(np.flatnonzero(unknown)[0])
            raise UnknownLabelError(labels[i].item(), int(_rows(rows, labels.size)[i]),
                                    classes.tolist())
        return is_pos.astype(self.dtype)

    def to_codes(self, values: Any, rows: Any = None) -> np.ndarray:
        return self.transform(values, rows).astype(np.uint8)

    def from_codes(self, codes: np.ndarray) -> np.ndarray:
        return codes.astype(self.dtype)

    def inverse_transform(self, encoded: Any) -> np.ndarray:
        return self._check_fitted()[(np.asarray(encoded) > 0.5).astype(np.int64)]

    @property
    def field(self) -> Field:
        return _field(self.dtype, ())


class IdentityEncoder(TargetEncoder):
    """Numeric targets as they are (regression), optionally cast to ``dtype``.

    Args:
        dtype: dtype of the targets (default: the column's).

    Example:
        >>> IdentityEncoder("float32").fit([1, 2.5]).transform([2.5]).tolist()
        [2.5]
    """

    def __init__(self, dtype: Any = None):
        self.dtype = None if dtype is None else np.dtype(dtype)
        self._spec: Field | None = None

    def fit(self, values: Any, rows: Any = None) -> "IdentityEncoder":
        arr = self._as_array(values, rows)
        self._spec = _field(arr.dtype, tuple(arr.shape[1:]))
        self.classes_ = np.empty(0)  # marks the encoder as fitted; it has no classes
        return self

    def _as_array(self, values: Any, rows: Any) -> np.ndarray:
        arr = np.asarray(values) if self.dtype is None else np.asarray(values, dtype=self.dtype)
        if arr.dtype == object:
            raise TypeError("IdentityEncoder needs numeric or fixed-width values, got Python "
                            "objects; give IdentityEncoder(dtype=...) or use LabelEncoder for "
                            "labels")
        if arr.dtype.kind == "f" and arr.size and np.isnan(arr).any():
            i = int(np.flatnonzero(np.isnan(arr.reshape(len(arr), -1)).any(axis=1))[0])
            row = int(_rows(rows, len(arr))[i])
            raise ValueError(f"row {row} has a missing target (NaN); fill or drop it")
        return arr

    def transform(self, values: Any, rows: Any = None) -> np.ndarray:
        return self._as_array(values, rows)

    def inverse_transform(self, encoded: Any) -> np.ndarray:
        return np.asarray(encoded)

    @property
    def field(self) -> Field:
        if self._spec is None:
            raise RuntimeError("IdentityEncoder is not fitted: call fit(values) first")
        return self._spec

    def __repr__(self) -> str:
        return f"IdentityEncoder(dtype={self.dtype})"
