"""ArraySource: samples from NumPy arrays, memmaps and any array-like with ``__len__``/``__getitem__``.

Example:
    >>> import numpy as np
    >>> from ladle import ArraySource
    >>> src = ArraySource(x=np.arange(12).reshape(6, 2), y=np.arange(6) % 2)
    >>> src.read(np.array([4, 0]))["x"].tolist()
    [[8, 9], [0, 1]]
"""

from __future__ import annotations

import mmap
from typing import Any, Mapping

import numpy as np

from .base import Field, Source, gather_runs

__all__ = ["ArraySource"]


def _to_field(name: str, value: Any) -> Any:
    """ndarrays and array-likes are kept as they are; Python sequences become arrays."""
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, (list, tuple)):
        try:
            arr = np.asarray(value)
        except ValueError:  # ragged: variable-length items
            arr = None
        if arr is None or (arr.dtype == object and arr.ndim > 1):
            arr = np.empty(len(value), dtype=object)
            arr[:] = [np.asarray(v) if isinstance(v, (list, tuple)) else v for v in value]
        return arr
    if not (hasattr(value, "__len__") and hasattr(value, "__getitem__")):
        raise TypeError(
            f"field {name!r} is a {type(value).__name__}, which has no __len__/__getitem__: "
            "give an array, a memmap, an h5py/PyTables dataset or another array-like")
    return value


def _field_spec(value: Any) -> Field:
    dtype = getattr(value, "dtype", None)
    shape = getattr(value, "shape", None)
    if dtype is not None and shape is not None:
        return Field(np.dtype(dtype), tuple(int(s) for s in shape[1:]))
    if not len(value):
        return Field(np.dtype(float), ())
    try:
        first = np.asarray(value[0])
    except TypeError:  # slice-only storage
        first = np.asarray(value[0:1])[0]
    return Field(first.dtype, first.shape)


class ArraySource(Source):
    """Samples from arrays: one field per array, all of the same length.

    Fields come as keywords (``ArraySource(x=X, y=y)``), a dict (``ArraySource({"x": X})``) or a
    list of arrays (positional fields named ``"0"``, ``"1"``, ...). Any array-like works:
    ndarrays and memmaps are gathered with ``np.take``; storage-backed array-likes (h5py or
    PyTables datasets, user classes) are read as sorted contiguous runs and put back in the
    requested order. Lists of variable-length items (ragged) become object arrays.

    Example:
        >>> src = ArraySource([np.zeros((3, 2)), ["a", "bb", "ccc"]])
        >>> sorted(src.fields), src.read(np.array([2]))["1"].tolist()
        (['0', '1'], ['ccc'])
    """

    def __init__(self, *arrays: Any, **fields: Any):
        if len(arrays) == 1 and isinstance(arrays[0], Mapping):
            named = dict(arrays[0])
        elif len(arrays) == 1 and isinstance(arrays[0], (list, tuple)) and arrays[0] and all(
                hasattr(a, "__len__") and not isinstance(a, str) for a in arrays[0]):
            named = {str(i): a for i, a in enumerate(arrays[0])}
        else:
            named = {str(i): a for i, a in enumerate(arrays)}
        overlap = set(named) & set(fields)
        if overlap:
            raise ValueError(f"fields {sorted(overlap)} given twice")
        named.update(fields)
        if not named:
            raise ValueError("ArraySource needs at least one array: ArraySource(x=X, y=y)")
        self._arrays = {str(k): _to_field(str(k), v) for k, v in named.items()}
        lengths = {k: len(v) for k, v in self._arrays.items()}
        if len(set(lengths.values())) > 1:
            detail = ", ".join(f"{k} has {n} rows" for k, n in lengths.items())
            raise ValueError(f"fields have different lengths ({detail}); every field needs one entry "
                             "per sample")
        self._n = next(iter(lengths.values()))
        self._fields = {k: _field_spec(v) for k, v in self._arrays.items()}
        self._slice_ok: dict[str, bool] = {}
        self._fast = {k: isinstance(v, np.ndarray) for k, v in self._arrays.items()}
        self._all_fast = all(self._fast.values())

    def __len__(self) -> int:
        return self._n

    @property
    def fields(self) -> Mapping[str, Field]:
        return self._fields

    @property
    def arrays(self) -> Mapping[str, Any]:
        """The underlying arrays, by field name."""
        return self._arrays

    def read(self, indices: np.ndarray) -> dict[str, Any]:
        """Gather the rows at ``indices`` from every field, in that order.

        Example:
            >>> ArraySource(x=np.arange(5)).read(np.array([4, 4, 0]))["x"].tolist()
            [4, 4, 0]
        """
        if self._all_fast:
            return {k: a.take(indices, axis=0) for k, a in self._arrays.items()}
        out = {}
        for k, a in self._arrays.items():
            out[k] = a.take(indices, axis=0) if self._fast[k] else self._read_arraylike(k, a, indices)
        return out

    def _read_arraylike(self, name: str, arr: Any, indices: np.ndarray) -> np.ndarray:
        if self._slice_ok.get(name, True):
            try:
                result = gather_runs(lambda a, b: arr[a:b], indices)
                if len(result) == len(indices):
                    self._slice_ok[name] = True
                    return result
            except (TypeError, KeyError, ValueError, IndexError, NotImplementedError):
                pass
            self._slice_ok[name] = False
        items = [arr[int(i)] for i in indices.tolist()]
        try:
            return np.stack([np.asarray(v) for v in items])
        except ValueError:
            out = np.empty(len(items), dtype=object)
            out[:] = items
            return out

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        # A memmap travels as its file spec, not as a copy of its data.
        state["_arrays"] = {k: _MemmapSpec.of(v) or v for k, v in self._arrays.items()}
        return state

    def __setstate__(self, state: dict) -> None:
        state["_arrays"] = {k: v.open() if isinstance(v, _MemmapSpec) else v
                            for k, v in state["_arrays"].items()}
        self.__dict__.update(state)


class _MemmapSpec:
    """Picklable description of a file-backed memmap (path, dtype, shape, offset, order)."""

    def __init__(self, filename: str, dtype: np.dtype, shape: tuple, offset: int, order: str):
        self.filename, self.dtype, self.shape, self.offset, self.order = (
            filename, dtype, shape, offset, order)

    @classmethod
    def of(cls, arr: Any) -> "_MemmapSpec | None":
        if not isinstance(arr, np.memmap) or getattr(arr, "filename", None) is None:
            return None
        # only a memmap made by np.memmap (not a slice or view of one) maps back to its spec
        if not isinstance(arr.base, mmap.mmap):
            return None
        order = "F" if arr.flags.f_contiguous and not arr.flags.c_contiguous else "C"
        return cls(arr.filename, arr.dtype, arr.shape, int(arr.offset), order)

    def open(self) -> np.memmap:
        return np.memmap(self.filename, dtype=self.dtype, mode="r", shape=self.shape,
                         offset=self.offset, order=self.order)
