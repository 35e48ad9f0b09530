"""Conversions for writing HDF5 stores: compression filters, chunk length, values and attributes.

Used by :mod:`ladle.store`; every refusal names the field, what was expected and the fix.

Example:
    >>> from ladle.sources.hdf5_write import default_chunk_rows
    >>> default_chunk_rows(1024)
    1024
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tables

from .._checks import check_choice, check_int

__all__ = ["CHUNK_BYTES", "MAX_CHUNK_ROWS", "attr_value", "cast", "default_chunk_rows",
           "encode_strings", "filters_for"]

CHUNK_BYTES = 1 << 20
MAX_CHUNK_ROWS = 1 << 16


def filters_for(compression: str | None = "blosc2:lz4", complevel: int | None = None,
                fletcher32: bool = False) -> tables.Filters:
    """PyTables filters for a compression name: ``"blosc2:lz4"`` (default), ``"zlib"``, ``"none"``.

    Any complib PyTables knows (``tables.filters.all_complibs``) is accepted; ``complevel``
    defaults to 5 (1 for zlib, whose higher levels cost much more time for little gain).

    Example:
        >>> filters_for("zlib").complib, filters_for("none").complevel
        ('zlib', 0)
    """
    if compression in (None, "none", False):
        return tables.Filters(complevel=0, fletcher32=fletcher32)
    check_choice("compression", compression, ("none",) + tuple(tables.filters.all_complibs))
    level = (1 if compression == "zlib" else 5) if complevel is None else check_int(
        "complevel", complevel, 1)
    if level > 9:
        raise ValueError(f"complevel={level} must be between 1 and 9")
    return tables.Filters(complevel=level, complib=compression, shuffle=True, fletcher32=fletcher32)


def default_chunk_rows(row_bytes: int, expected_rows: int | None = None) -> int:
    """Rows per chunk so a chunk holds about 1 MiB (at most 65,536 rows, at most the data).

    Example:
        >>> default_chunk_rows(3 * 32 * 32 * 4), default_chunk_rows(8, expected_rows=100)
        (85, 100)
    """
    rows = max(1, min(CHUNK_BYTES // max(int(row_bytes), 1), MAX_CHUNK_ROWS))
    if expected_rows:
        rows = min(rows, int(expected_rows))
    return rows


def encode_strings(name: str, arr: np.ndarray) -> np.ndarray:
    """Unicode (and object arrays of str) as UTF-8 bytes; refuse objects and datetimes.

    Example:
        >>> encode_strings("name", np.array(["é"])).tolist()
        [b'\\xc3\\xa9']
    """
    if arr.dtype.kind == "U":
        return np.char.encode(arr, "utf-8")
    if arr.dtype.kind == "O":
        flat = arr.ravel().tolist()
        if flat and all(isinstance(v, str) for v in flat):  # e.g. a pandas string column
            return np.char.encode(np.array(flat, dtype=str).reshape(arr.shape), "utf-8")
        if flat and all(isinstance(v, bytes) for v in flat):
            return np.array(flat, dtype=bytes).reshape(arr.shape)
        raise TypeError(f"field {name!r} holds Python objects (dtype object); stores hold "
                        "fixed-shape numeric or string fields: convert it (e.g. np.stack) or "
                        "drop it")
    if arr.dtype.kind == "M" or arr.dtype.kind == "m":
        raise TypeError(f"field {name!r} has dtype {arr.dtype}, which HDF5 tables cannot hold; "
                        "store it as int64 (e.g. arr.astype('int64')) or as strings")
    return arr


def cast(name: str, arr: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``arr`` as ``dtype``, refusing values that would change (e.g. 300 into uint8).

    Example:
        >>> cast("label", np.array([3]), np.dtype("uint8")).dtype
        dtype('uint8')
    """
    if arr.dtype == dtype:
        return arr
    if dtype.kind == "S":
        if arr.dtype.kind != "S":
            raise TypeError(f"field {name!r} is a string column; got dtype {arr.dtype}")
        width = int(np.char.str_len(arr).max()) if arr.size else 0
        if width > dtype.itemsize:
            raise ValueError(f"field {name!r} has a {width}-byte string; the column holds "
                             f"{dtype.itemsize} bytes: pass string_size={width} (or more)")
        return arr.astype(dtype)
    if np.can_cast(arr.dtype, dtype, "safe"):
        return arr.astype(dtype)
    if arr.dtype.kind in "biuf" and dtype.kind in "biuf":
        with np.errstate(invalid="ignore", over="ignore"):
            out = arr.astype(dtype)
            same = np.array_equal(out.astype(arr.dtype), arr, equal_nan=arr.dtype.kind == "f")
        if same:
            return out
    raise ValueError(f"field {name!r}: values of dtype {arr.dtype} do not fit the column dtype "
                     f"{dtype}; convert them or write to a new store")


def attr_value(key: str, value: Any) -> Any:
    """An attribute value both PyTables and h5py read: lists of str become UTF-8 byte arrays.

    Example:
        >>> attr_value("class_names", ["a", "b"]).tolist()
        [b'a', b'b']
    """
    if isinstance(value, (str, bytes, int, float, bool, np.generic, np.ndarray)):
        if isinstance(value, np.ndarray) and value.dtype.kind == "U":
            return np.char.encode(value, "utf-8")
        return value
    if isinstance(value, (list, tuple)):
        if all(isinstance(v, str) for v in value) and value:
            return np.array([v.encode("utf-8") for v in value])
        arr = np.asarray(value)
        if arr.dtype.kind in "biuf":
            return arr
    raise TypeError(f"attrs[{key!r}]={value!r}: attributes must be strings, numbers, or "
                    "lists/arrays of them (readable by PyTables and h5py)")
